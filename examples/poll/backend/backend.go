// Package backend is the poll's server side: guest login under /auth/, the
// WebSocket hub at /ws with the poll's handlers, an admin endpoint that
// resets the poll (POST /admin/reset), /metrics, /healthz, and the page
// with its wasm bundle everywhere else.
//
// Every change of the counts is published to msg.Room as a msg.Tally; a
// page that joins asks for the current one with msg.Look, so a late joiner
// shows the counts at once, and a page that reconnects gets the tallies it
// missed replayed by the room's resume.
package backend

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/auth"
	"github.com/tetherkit/tether/server/metrics"
	"github.com/tetherkit/tether/server/webapp"

	"github.com/tetherkit/tether/examples/poll/msg"
	"github.com/tetherkit/tether/examples/poll/ui"
)

// Defaults of Config.
const (
	DefaultQuestion = "Which language for the next service?"
	DefaultOptions  = "Go,Rust,Zig"
)

// Config configures the backend.
type Config struct {
	// Question and Options are the poll's. Empty means DefaultQuestion and
	// DefaultOptions.
	Question string
	Options  []string
	// AdminKey authorizes POST /admin/reset (Authorization: Bearer
	// AdminKey). Empty turns the endpoint off (403).
	AdminKey string
	// Secret signs the login tokens (at least auth.MinSecretLen bytes).
	// Nil means a random one: every login dies with the process.
	Secret []byte
	// WebDir holds the built page (app.wasm, its .br and .gz copies,
	// app.css). Empty means "web".
	WebDir string
	// Logger receives the logs. Nil means slog.Default().
	Logger *slog.Logger
}

// App is the running backend.
type App struct {
	hub     *server.Server
	poll    *poll
	log     *slog.Logger
	handler http.Handler
}

// New builds the backend. It fails when the page was not built.
func New(cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Question == "" {
		cfg.Question = DefaultQuestion
	}
	if len(cfg.Options) == 0 {
		cfg.Options = strings.Split(DefaultOptions, ",")
	}
	seen := map[string]bool{}
	for _, o := range cfg.Options {
		if strings.TrimSpace(o) == "" || seen[o] {
			return nil, fmt.Errorf("backend: Options %q: want distinct, non-empty names", cfg.Options)
		}
		seen[o] = true
	}
	if cfg.Secret == nil {
		var err error
		if cfg.Secret, err = auth.RandomSecret(); err != nil {
			return nil, err
		}
	}
	login, err := auth.New(auth.Config{Secret: cfg.Secret, Guest: true, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	met, err := metrics.New(metrics.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	hub, err := server.New(server.Config{
		Registry:     msg.NewRegistry(),
		Authenticate: login.Authenticate, // the login cookie, a Bearer or ?token=
		VerifyToken:  login.Verify,       // the page's in-band token refresh
		Observer:     met,
		Logger:       cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	a := &App{hub: hub, poll: newPoll(cfg.Question, cfg.Options), log: cfg.Logger}
	server.HandleRequest(hub, a.vote)
	server.HandleRequest(hub, a.look)
	if err := met.WatchServer(hub); err != nil {
		_ = hub.Shutdown(context.Background())
		return nil, fmt.Errorf("metrics: %w", err)
	}
	web, err := webapp.New(webapp.Config{Handler: ui.Handler(), Routes: ui.Routes, Dir: cfg.WebDir, Logger: cfg.Logger})
	if err != nil {
		_ = hub.Shutdown(context.Background())
		return nil, fmt.Errorf("web app: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/ws", hub)
	mux.Handle("/auth/", login.Handler())
	mux.Handle("POST /admin/reset", a.adminReset(cfg.AdminKey))
	mux.Handle("GET /metrics", met.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, _, err := hub.Stats(ctx); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/", web)
	a.handler = mux
	return a, nil
}

// Handler answers every path of the app.
func (a *App) Handler() http.Handler { return a.handler }

// ConfigureHTTPServer sets the timeouts the WebSocket hub needs on hs.
func (a *App) ConfigureHTTPServer(hs *http.Server) { a.hub.ConfigureHTTPServer(hs) }

// Shutdown closes every WebSocket with 1001 (the pages reconnect) and waits
// for their goroutines, until ctx is done.
func (a *App) Shutdown(ctx context.Context) error { return a.hub.Shutdown(ctx) }

// vote counts a page's vote and publishes the new tally. The sender must
// have joined the room, so it sees the tallies that follow.
func (a *App) vote(ctx context.Context, c *server.Conn, v msg.Vote) (msg.Ballot, error) {
	b, changed, err := a.poll.vote(c.User(), v.Option)
	if err != nil || !changed {
		return b, err
	}
	if err := a.publish(ctx, b.Tally); err != nil {
		return msg.Ballot{}, err
	}
	return b, nil
}

// look answers a page that joined with the tally and its own vote.
func (a *App) look(_ context.Context, c *server.Conn, _ msg.Look) (msg.Ballot, error) {
	return a.poll.look(c.User()), nil
}

// publish sends t to every page in the room. Two publications may race: a
// page shows the one with the higher Rev.
func (a *App) publish(ctx context.Context, t msg.Tally) error {
	if _, _, err := a.hub.Publish(ctx, msg.Room, t); err != nil {
		return fmt.Errorf("publish tally: %w", err)
	}
	return nil
}

// adminReset is POST /admin/reset with Authorization: Bearer key: every
// vote is forgotten, a new round starts, and every page sees the empty
// tally at once. It answers the new tally as JSON.
func (a *App) adminReset(key string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key == "" {
			http.Error(w, "the admin endpoint is off: start the server with an admin key", http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="poll admin"`)
			http.Error(w, "admin key required (Authorization: Bearer KEY)", http.StatusUnauthorized)
			return
		}
		t := a.poll.reset()
		if err := a.publish(r.Context(), t); err != nil {
			a.log.Error("admin reset", "err", err)
			http.Error(w, "the poll was reset but the pages were not told: try again", http.StatusServiceUnavailable)
			return
		}
		a.log.Info("admin reset", "round", t.Round)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(t)
	})
}
