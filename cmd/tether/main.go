// Command tether runs the Tether server: the WebSocket endpoint at /ws with
// the demo's chat, danmaku and ticker, and a health check at /healthz.
//
// Every flag has an environment variable fallback:
//
//	-addr               TETHER_ADDR               listen address (127.0.0.1:8080)
//	-heartbeat          TETHER_HEARTBEAT          WebSocket ping interval (25s)
//	-heartbeat-timeout  TETHER_HEARTBEAT_TIMEOUT  close after this long without a frame (2*heartbeat+5s)
//	-history            TETHER_HISTORY            messages kept per room (100)
//	-history-ttl        TETHER_HISTORY_TTL        how long room messages are kept (10m)
//	-log-level          TETHER_LOG_LEVEL          debug, info, warn or error (info)
//	-web-dir            TETHER_WEB_DIR            directory of the web app
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/demo"
)

// shutdownTimeout bounds the graceful shutdown.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "tether:", err)
		os.Exit(1)
	}
}

// options are the command's settings.
type options struct {
	addr             string
	heartbeat        time.Duration
	heartbeatTimeout time.Duration
	history          int
	historyTTL       time.Duration
	logLevel         slog.Level
	webDir           string
}

// parseOptions reads the flags, falling back to the TETHER_* environment
// variables, then to the defaults.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("tether", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", env("TETHER_ADDR", "127.0.0.1:8080"), "listen address (TETHER_ADDR)")
	fs.StringVar(&o.webDir, "web-dir", env("TETHER_WEB_DIR", ""), "directory of the web app (TETHER_WEB_DIR)")
	heartbeat := fs.String("heartbeat", env("TETHER_HEARTBEAT", "25s"), "WebSocket ping interval (TETHER_HEARTBEAT)")
	heartbeatTimeout := fs.String("heartbeat-timeout", env("TETHER_HEARTBEAT_TIMEOUT", "0"), "close a connection silent this long; 0 → 2*heartbeat+5s (TETHER_HEARTBEAT_TIMEOUT)")
	history := fs.String("history", env("TETHER_HISTORY", "100"), "messages kept per room; negative → none (TETHER_HISTORY)")
	historyTTL := fs.String("history-ttl", env("TETHER_HISTORY_TTL", "10m"), "how long room messages are kept (TETHER_HISTORY_TTL)")
	logLevel := fs.String("log-level", env("TETHER_LOG_LEVEL", "info"), "debug, info, warn or error (TETHER_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.heartbeat, err = time.ParseDuration(*heartbeat); err != nil {
		return options{}, fmt.Errorf("heartbeat: %w", err)
	}
	if o.heartbeatTimeout, err = time.ParseDuration(*heartbeatTimeout); err != nil {
		return options{}, fmt.Errorf("heartbeat timeout: %w", err)
	}
	if o.history, err = strconv.Atoi(*history); err != nil {
		return options{}, fmt.Errorf("history: %w", err)
	}
	if o.history == 0 {
		o.history = -1 // 0 means "none" on the command line; server.Config's 0 means default
	}
	if o.historyTTL, err = time.ParseDuration(*historyTTL); err != nil {
		return options{}, fmt.Errorf("history ttl: %w", err)
	}
	if err := o.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return options{}, fmt.Errorf("log level: %w", err)
	}
	return o, nil
}

// run serves until ctx is done, then shuts down gracefully: clients get close
// code 1001 and reconnect to the next instance.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))

	srv := server.New(server.Config{
		Logger:           log,
		Heartbeat:        o.heartbeat,
		HeartbeatTimeout: o.heartbeatTimeout,
		HistorySize:      o.history,
		HistoryTTL:       o.historyTTL,
	})
	demoCtx, stopDemo := context.WithCancel(ctx)
	defer stopDemo()
	demoDone := demo.Register(demoCtx, srv, demo.Options{Logger: log})

	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	mux.HandleFunc("/healthz", health(srv))
	routes(mux, srv, o)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		stopDemo()
		<-demoDone
		_ = srv.Shutdown(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "Tether listening on http://%s\n", ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "heartbeat", o.heartbeat, "history", o.history, "history_ttl", o.historyTTL)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-served:
		serveErr = fmt.Errorf("serve: %w", serveErr)
	}

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	stopDemo()
	<-demoDone
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("websocket shutdown", "err", err)
	}
	if serveErr == nil {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("stopped")
	return serveErr
}

// health answers /healthz with the server's counters.
func health(srv *server.Server) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Status string       `json:"status"`
			Stats  server.Stats `json:"stats"`
		}{"ok", srv.Stats()})
	}
}
