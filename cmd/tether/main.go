// Command tether runs the Tether server: the WebSocket endpoint at /ws, the
// web app, the HTTP API under /api/, guest login under /auth/, Prometheus
// metrics at /metrics and health checks at /healthz and /readyz. With a
// subcommand it is a client of a running server's HTTP API:
//
//	tether                                  # serve (see tether -h for flags)
//	tether push --user alice --type notification --data '{"title":"hi"}'
//	tether push --all --type notification --data '{"title":"maintenance at 22:00"}'
//	tether push --room lobby --type chat.message --data '{"room":"lobby","user":"bot","text":"hello","time":0}'
//	tether kick --user mallory --reason "spamming"
//	tether presence --room lobby
//	tether connections [--offset 0 --limit 100]
//	tether stats
//	tether token --user bot --name Bot     # a connection token for a bot (needs -secret/TETHER_SECRET)
//
// Every server flag has a TETHER_* environment variable fallback; the
// subcommands read TETHER_URL (default http://127.0.0.1:8080) and
// TETHER_API_KEY.
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
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/tetherkit/tether/demo/backend"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/demo/ui"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/api"
	"github.com/tetherkit/tether/server/auth"
	"github.com/tetherkit/tether/server/metrics"
	"github.com/tetherkit/tether/server/webapp"
	"github.com/tetherkit/tether/shared"
)

// shutdownTimeout bounds the graceful shutdown.
const shutdownTimeout = 10 * time.Second

// healthzTimeout bounds the stats /healthz gathers from the cluster.
const healthzTimeout = 2 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "token":
		err = runToken(os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
	case len(os.Args) > 1 && isCommand(os.Args[1]):
		err = runCommand(ctx, os.Args[1], os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
	default:
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "tether:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down gracefully: clients get close
// code 1001 and reconnect to the next instance.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))

	a, err := newAuth(o, log)
	if err != nil {
		return err
	}
	types := msg.NewRegistry()
	met, err := metrics.New(metrics.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	cl, err := startCluster(ctx, o, log)
	if err != nil {
		return err
	}
	nodeBroker, mem := cl.nodeBroker(o)
	closeBrokers := func() {
		if mem != nil {
			_ = mem.Close()
		}
		cl.close()
	}
	if mem != nil {
		if err := met.WatchMemory(mem); err != nil {
			closeBrokers()
			return fmt.Errorf("metrics: %w", err)
		}
	}
	srv, err := server.New(server.Config{
		Broker:            nodeBroker,
		Registry:          types,
		Logger:            log,
		Observer:          met,
		Authenticate:      a.Authenticate,
		VerifyToken:       a.Verify,
		AllowedOrigins:    o.origins,
		ClientIP:          o.proxies.clientIP,
		Heartbeat:         o.heartbeat,
		HeartbeatTimeout:  o.heartbeatTimeout,
		AppPing:           o.appPing,
		MaxReplay:         o.history,
		LastValues:        backend.LastValues(),
		MaxRoomsPerConn:   o.maxRoomsConn,
		ReadLimit:         o.readLimit,
		MessageRate:       o.msgLimit(),
		MessageBurst:      o.msgBurst,
		MaxConnsPerUser:   o.maxConnUser,
		MaxConnsPerIP:     o.maxConnIP,
		SendQueue:         o.sendQueue,
		Compression:       o.compression,
		HTTPReadTimeout:   o.httpReadTimeout,
		HTTPIdleTimeout:   o.httpIdleTimeout,
		MaxHTTPConnsPerIP: o.maxHTTPConnIP,
		TrustedPeer:       o.proxies.trustsHost,
	})
	if err != nil {
		closeBrokers()
		return err
	}
	// From here on srv runs a goroutine: every error path shuts it down.
	demoCtx, stopDemo := context.WithCancel(ctx)
	demoDone := backend.Register(demoCtx, srv, backend.Config{Logger: log, TickerInterval: o.ticker})
	abort := func(err error) error {
		stopDemo()
		<-demoDone
		_ = srv.Shutdown(context.Background())
		closeBrokers()
		return err
	}
	var ready atomic.Bool
	mux, err := routes(srv, a, met, types, o, log, &ready)
	if err != nil {
		return abort(err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return abort(fmt.Errorf("listen: %w", err))
	}
	hs := &http.Server{Handler: mux, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	srv.ConfigureHTTPServer(hs)
	// The debug listener opens (and is announced) before the public one is
	// announced: whoever has read the listening line can find it too.
	var debug *http.Server
	debugDone := make(chan struct{})
	if o.debugAddr != "" {
		dln, err := listenDebug(o.debugAddr)
		if err != nil {
			_ = ln.Close()
			return abort(err)
		}
		debug = debugServer()
		fmt.Fprintf(stdout, "Tether debug (pprof) on http://%s/debug/pprof/\n", dln.Addr())
		go func() {
			defer close(debugDone)
			if err := debug.Serve(dln); !errors.Is(err, http.ErrServerClosed) {
				log.Warn("debug server", "err", err)
			}
		}()
	}
	// Ready before the address is announced: whoever waits for that line
	// (a script, a test) may ask /readyz at once. The listener is open, so
	// requests wait in its backlog until Serve below takes them.
	ready.Store(true)
	fmt.Fprintf(stdout, "Tether listening on http://%s\n", ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "heartbeat", o.heartbeat, "history", o.history,
		"web", o.webDir != "", "api_open", len(o.apiKeys) == 0, "guest_login", a != nil && guestOn(o))

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-served:
		serveErr = fmt.Errorf("serve: %w", serveErr)
	}
	ready.Store(false)

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	stopDemo()
	<-demoDone
	// WebSockets first, with the listener still open: a handshake during
	// the drain gets the documented 503 "closed" (docs/protocol.md §1), not
	// "connection refused".
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("websocket shutdown", "err", err)
	}
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if debug != nil {
		_ = debug.Close() // a profile in progress is cut short
		<-debugDone
	}
	closeBrokers()
	if serveErr == nil {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("stopped")
	return serveErr
}

// guestOn says whether guest login is enabled: as set, else on exactly when
// no secret is configured (the local demo).
func guestOn(o options) bool {
	if o.guestSet {
		return o.guest
	}
	return o.secret == ""
}

// newAuth builds token authentication. Without a secret it signs with the
// one kept in the data dir (generated the first time), so that a restart
// does not sign everyone out; without a data dir, with a random one that
// dies with the process.
func newAuth(o options, log *slog.Logger) (*auth.Auth, error) {
	secret := []byte(o.secret)
	if len(secret) == 0 && o.dataDir != "" {
		var err error
		if secret, err = loadSecret(o.dataDir); err != nil {
			// Not fatal: the demo still runs, its tokens just die with it.
			log.Warn("cannot keep the signing secret in the data dir", "dir", o.dataDir, "err", err)
		} else {
			log.Info("signing tokens with the secret kept in the data dir", "dir", o.dataDir)
		}
	}
	if len(secret) == 0 {
		var err error
		if secret, err = auth.RandomSecret(); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		log.Warn("no -secret/TETHER_SECRET and no data dir: signing tokens with a random secret; they die with this process")
	}
	a, err := auth.New(auth.Config{Secret: secret, Guest: guestOn(o), TTL: o.tokenTTL, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return a, nil
}

// routes builds the HTTP handler of everything the server answers.
func routes(srv *server.Server, a *auth.Auth, met *metrics.Metrics, types *shared.Registry, o options, log *slog.Logger, ready *atomic.Bool) (*http.ServeMux, error) {
	if err := met.WatchServer(srv); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	apiH, err := api.New(api.Config{Hub: srv, Keys: o.apiKeys,
		Rate: rate.Limit(o.apiRate), Burst: o.apiBurst, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if len(o.apiKeys) == 0 {
		log.Warn("no -api-keys/TETHER_API_KEYS: the HTTP API is open to anyone who can reach " + o.addr)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	mux.Handle("/auth/", a.Handler())
	mux.Handle("/api/", met.InstrumentAPI(apiH))
	// /metrics needs an API key when keys are configured (Prometheus sends
	// it with `authorization: {credentials: KEY}`).
	mux.Handle("GET /metrics", apiH.Guard(met.Handler()))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// This node's health: its own counters, without asking the others.
		ctx, cancel := context.WithTimeout(r.Context(), healthzTimeout)
		defer cancel()
		st, cov, err := srv.Stats(ctx)
		body := map[string]any{"status": "ok", "stats": st}
		if err != nil {
			body["partial"] = cov
		}
		writeJSON(w, http.StatusOK, body)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if o.webDir != "" {
		web, err := webapp.New(webapp.Config{Handler: ui.Handler(), Routes: ui.Routes, Dir: o.webDir, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("web app in %q (run make build): %w", o.webDir, err)
		}
		mux.Handle("/", web)
	}
	return mux, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
