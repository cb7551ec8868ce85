// Package backend is the poll's server side: guest login under /auth/, the
// WebSocket hub at /ws with the poll's handlers, an admin endpoint that
// resets the poll (POST /admin/reset), /metrics, /healthz, and the page
// with its wasm bundle everywhere else.
//
// The counts live in a keyed-state room, the map msg.Map (docs/protocol.md
// §11), as one msg.Tally at msg.TallyKey: the vote handler and the admin
// reset change it by compare-and-set, every page subscribes to it, so a
// late joiner gets the counts in the map's snapshot and a page that
// reconnects resumes from the changes it missed. Who voted for what stays
// on the server (each page asks for its own vote with msg.Look).
package backend

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
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
	hub      *server.Server
	tally    *server.Map[string, msg.Tally]
	question string
	options  []string
	log      *slog.Logger
	handler  http.Handler

	mu    sync.Mutex      // one vote or reset at a time on this node
	votes map[string]vote // user → their vote
}

// New builds the backend and creates the poll's map, empty, unless the
// broker has it already. It fails when the page was not built.
func New(ctx context.Context, cfg Config) (*App, error) {
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
	a := &App{hub: hub, question: cfg.Question, options: cfg.Options, log: cfg.Logger, votes: make(map[string]vote)}
	// No OnWrite: pages may read the map, not write it.
	if a.tally, err = server.NewMap[string, msg.Tally](ctx, hub, msg.Map, server.MapOptions{}); err != nil {
		_ = hub.Shutdown(context.Background())
		return nil, err
	}
	if _, _, ok := a.tally.Get(msg.TallyKey); !ok {
		_, err := a.tally.Set(ctx, msg.TallyKey, freshTally(cfg.Question, cfg.Options, 0), server.IfRev(0))
		if err != nil && !errors.Is(err, server.ErrConflict) { // a conflict: another node made it
			_ = hub.Shutdown(context.Background())
			return nil, fmt.Errorf("create the tally: %w", err)
		}
	}
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

// vote counts a page's vote in the map's tally: a first vote adds one, a
// changed vote moves one from the old option to the new, the same vote
// again changes nothing. Every page sees the change through the map.
func (a *App) vote(ctx context.Context, c *server.Conn, v msg.Vote) (msg.Ballot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	user := c.User()
	t, err := updateTally(ctx, a.tally, func(t msg.Tally) (msg.Tally, bool, error) {
		if err := optionOf(t, v.Option); err != nil {
			return t, false, err
		}
		from := ""
		if old, ok := a.votes[user]; ok && old.round == t.Round {
			from = old.option
		}
		if from == v.Option {
			return t, false, nil
		}
		return move(t, from, v.Option), true, nil
	})
	if err != nil {
		return msg.Ballot{}, err
	}
	a.votes[user] = vote{option: v.Option, round: t.Round}
	return msg.Ballot{Mine: v.Option, Round: t.Round}, nil
}

// look answers a page with its own vote in the current round.
func (a *App) look(_ context.Context, c *server.Conn, _ msg.Look) (msg.Ballot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, _, _ := a.tally.Get(msg.TallyKey)
	b := msg.Ballot{Round: t.Round}
	if v, ok := a.votes[c.User()]; ok && v.round == t.Round {
		b.Mine = v.option
	}
	return b, nil
}

// reset forgets every vote and writes the empty tally of the next round.
func (a *App) reset(ctx context.Context) (msg.Tally, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, err := updateTally(ctx, a.tally, func(t msg.Tally) (msg.Tally, bool, error) {
		return freshTally(a.question, a.options, t.Round+1), true, nil
	})
	if err != nil {
		return msg.Tally{}, err
	}
	clear(a.votes)
	return t, nil
}

// adminReset is POST /admin/reset with Authorization: Bearer key: every
// vote is forgotten, a new round starts, and every page sees the empty
// tally at once (a change of the map). It answers the new tally as JSON.
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
		t, err := a.reset(r.Context())
		if err != nil {
			a.log.Error("admin reset", "err", err)
			http.Error(w, "the poll was not reset: try again", http.StatusServiceUnavailable)
			return
		}
		a.log.Info("admin reset", "round", t.Round)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(t)
	})
}
