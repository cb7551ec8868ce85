package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// Hub is what the API needs from the server. *server.Server implements it.
// Every call gets the HTTP request's context.
type Hub interface {
	Send(ctx context.Context, connID string, m shared.Message) error
	SendToUser(ctx context.Context, user string, m shared.Message) (int, error)
	Publish(ctx context.Context, room string, m shared.Message) (seq uint64, reached int, err error)
	PublishEphemeral(ctx context.Context, room string, m shared.Message) error
	Broadcast(ctx context.Context, m shared.Message) (int, error)
	Kick(ctx context.Context, user string, opts server.KickOptions) (int, error)
	Presence(ctx context.Context, room string) ([]shared.Member, error)
	Connections(ctx context.Context) ([]server.ConnInfo, server.Coverage, error)
	Stats(ctx context.Context) (server.Stats, server.Coverage, error)
	// Registry is the server's message registry: pushed messages are
	// validated against it.
	Registry() *shared.Registry
}

// Defaults applied by New to zero Config fields.
const (
	DefaultRate    rate.Limit = 50
	DefaultBurst              = 100
	DefaultMaxBody            = 64 << 10
)

// MinKeyLen is the shortest API key New accepts.
const MinKeyLen = 16

// Config configures the API handler. Every zero field but Hub has the
// default documented on it.
type Config struct {
	// Hub is the server the API drives. Required.
	Hub Hub
	// Keys are the accepted API keys, each at least MinKeyLen characters.
	// Empty means the API is open to anyone who can reach it (the local
	// demo); set keys in production.
	Keys []string
	// Rate is the sustained requests per second allowed per key (or per
	// remote address when open). Zero means 50 (DefaultRate); negative
	// means unlimited.
	Rate rate.Limit
	// Burst is the number of requests allowed at once. Zero means 100
	// (DefaultBurst).
	Burst int
	// MaxBody bounds a request body, in bytes. Zero means 64 KiB
	// (DefaultMaxBody).
	MaxBody int64
	// Logger receives request errors. Nil means slog.Default().
	Logger *slog.Logger
}

// maxLimiters bounds the per-client limiter table so that many distinct
// addresses cannot grow it without bound.
const maxLimiters = 10000

// Handler serves the /api/ routes.
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// New returns the API handler. Mount it at "/api/".
func New(cfg Config) (*Handler, error) {
	if cfg.Hub == nil {
		return nil, errors.New("api: Config.Hub is required")
	}
	if cfg.Burst < 0 || cfg.MaxBody < 0 {
		return nil, fmt.Errorf("api: Burst %d and MaxBody %d: want 0 (the default) or more", cfg.Burst, cfg.MaxBody)
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Rate < 0 {
		cfg.Rate = rate.Inf
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for i, k := range cfg.Keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("api: key %d is shorter than %d characters", i, MinKeyLen)
		}
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), limiters: make(map[string]*rate.Limiter)}
	h.mux.HandleFunc("POST /api/push", h.push)
	h.mux.HandleFunc("POST /api/kick", h.kick)
	h.mux.HandleFunc("GET /api/presence", h.presence)
	h.mux.HandleFunc("GET /api/connections", h.connections)
	h.mux.HandleFunc("GET /api/stats", h.stats)
	return h, nil
}

// ServeHTTP authenticates, rate limits and routes a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.admit(w, r) {
		h.mux.ServeHTTP(w, r)
	}
}

// Guard returns next behind the API's key check and rate limit, for other
// operator endpoints such as /metrics.
func (h *Handler) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.admit(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// admit authenticates and rate limits r; when it refuses, it has written the
// answer.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) bool {
	client, ok := h.authenticate(w, r)
	if !ok {
		return false
	}
	if res := h.limiter(client).Reserve(); !res.OK() || res.Delay() > 0 {
		wait := time.Second
		if res.OK() {
			wait = res.Delay()
			res.Cancel()
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, &shared.Error{Code: shared.CodeRateLimited, Message: "too many API requests; retry later"})
		return false
	}
	return true
}

// authenticate checks the bearer key and returns the rate-limit identity.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if len(h.cfg.Keys) == 0 {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		return "ip:" + host, true
	}
	auth := r.Header.Get("Authorization")
	key, found := strings.CutPrefix(auth, "Bearer ")
	if !found || key == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tether"`)
		writeError(w, http.StatusUnauthorized, &shared.Error{Code: "unauthorized", Message: "missing API key: send Authorization: Bearer <key>"})
		return "", false
	}
	match := 0
	for _, k := range h.cfg.Keys {
		// Compare with every key, in constant time, so timing reveals nothing.
		match |= subtle.ConstantTimeCompare([]byte(key), []byte(k))
	}
	if match != 1 {
		writeError(w, http.StatusForbidden, &shared.Error{Code: shared.CodeForbidden, Message: "API key not accepted"})
		return "", false
	}
	return "key:" + key, true
}

func (h *Handler) limiter(client string) *rate.Limiter {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.limiters[client]
	if !ok {
		if len(h.limiters) >= maxLimiters {
			// Forget everyone rather than grow: a brief reprieve for existing
			// clients beats unbounded memory.
			clear(h.limiters)
		}
		l = rate.NewLimiter(h.cfg.Rate, h.cfg.Burst)
		h.limiters[client] = l
	}
	return l
}
