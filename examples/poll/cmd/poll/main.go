// Command poll serves the live poll: the page, guest login, the WebSocket
// hub, the admin reset, /metrics and /healthz on one address.
//
//	POLL_ADMIN_KEY=change-me poll -addr 127.0.0.1:8080 -web examples/poll/web \
//	    -question "Lunch?" -options "Pizza,Ramen,Salad"
//	curl -X POST -H "Authorization: Bearer change-me" http://127.0.0.1:8080/admin/reset
//
// SECRET (at least 32 bytes) signs the login tokens; without it they die
// with the process. Ctrl-C or SIGTERM shuts down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tetherkit/tether/examples/poll/backend"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	web := flag.String("web", "examples/poll/web", "directory of the built page (app.wasm, app.css)")
	question := flag.String("question", backend.DefaultQuestion, "the poll's question")
	options := flag.String("options", backend.DefaultOptions, "the poll's options, comma-separated")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := backend.Config{
		Question: *question,
		Options:  strings.Split(*options, ","),
		AdminKey: os.Getenv("POLL_ADMIN_KEY"),
		WebDir:   *web,
		Logger:   log,
	}
	if s := os.Getenv("SECRET"); s != "" {
		cfg.Secret = []byte(s)
	} else {
		log.Warn("no SECRET: logins die with this process")
	}
	if cfg.AdminKey == "" {
		log.Warn("no POLL_ADMIN_KEY: POST /admin/reset is off")
	}
	if err := run(ctx, *addr, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "poll:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down: WebSockets first (closed
// with 1001), then the HTTP server.
func run(ctx context.Context, addr string, cfg backend.Config, log *slog.Logger) error {
	a, err := backend.New(ctx, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = a.Shutdown(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: a.Handler(), ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	a.ConfigureHTTPServer(hs)
	fmt.Printf("listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-served:
		_ = a.Shutdown(context.Background())
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		log.Warn("websocket shutdown", "err", err)
	}
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
