package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tetherkit/tether/server"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTTL        = 12 * time.Hour
	DefaultIssuer     = "tether"
	DefaultCookieName = "tether_token"
	DefaultAlgorithm  = "HS256"
	// DefaultRefreshGrace is how long after its expiry a token may still be
	// refreshed (POST /auth/refresh), so that a client closed with 1008
	// "token expired" can get a fresh one.
	DefaultRefreshGrace = 2 * time.Minute
)

// MinSecretLen is the shortest secret New accepts, in bytes: HMAC-SHA256 is
// only as strong as its key, and 32 bytes is the hash's size.
const MinSecretLen = 32

// MaxTokenLen bounds the tokens Verify parses: a real token is a few hundred
// bytes, and a huge one would only cost decoding work.
const MaxTokenLen = 4096

// TokenParam is the query parameter that carries a token on a WebSocket
// handshake from a client that can set neither a header nor a cookie.
const TokenParam = "token"

// Errors returned by Verify and Authenticate; match them with errors.Is. The
// server answers all of them with HTTP 401.
var (
	// ErrNoToken means the request carried no token in any of the places
	// Authenticate looks.
	ErrNoToken = errors.New("no token: log in first (Authorization: Bearer, ?token= or the login cookie)")
	// ErrTokenExpired means the token was valid but its exp has passed: log
	// in again.
	ErrTokenExpired = errors.New("token has expired")
	// ErrTokenInvalid means the token is malformed, not signed with this
	// server's secret and algorithm, from another issuer, or carries an
	// invalid identity.
	ErrTokenInvalid = errors.New("token is invalid")
)

// Config configures an Auth. Every zero field but Secret has the default
// documented on it.
type Config struct {
	// Secret is the HMAC key tokens are signed with: at least MinSecretLen
	// bytes. Every server that must accept the same tokens needs the same
	// secret; changing it invalidates every token issued. A demo without a
	// configured secret uses RandomSecret at start-up, so that tokens die
	// with the process.
	Secret []byte
	// Algorithm is the signing algorithm: "HS256", "HS384" or "HS512".
	// Tokens signed with any other algorithm (including "none") are refused.
	// Empty means HS256 (DefaultAlgorithm).
	Algorithm string
	// TTL is how long an issued token is valid, with a precision of one
	// second (exp is in whole seconds). Zero means 12h (DefaultTTL).
	TTL time.Duration
	// Issuer is the token's iss claim, checked by Verify. Empty means
	// "tether" (DefaultIssuer).
	Issuer string
	// RefreshGrace is how long after its expiry POST /auth/refresh still
	// accepts a token (otherwise valid) and issues a fresh one. The
	// WebSocket handshake never accepts an expired token. Zero means 2m
	// (DefaultRefreshGrace); negative means none.
	RefreshGrace time.Duration
	// Guest enables POST /auth/guest: anyone may pick a nickname and get a
	// token for a fresh user id. False means it answers 403.
	Guest bool
	// CookieName names the cookie the login endpoints set. Empty means
	// "tether_token" (DefaultCookieName).
	CookieName string
	// Secure sets the cookie's Secure flag, so that browsers send it over
	// HTTPS only. Set it whenever the server is reached through TLS. Without
	// it the flag is still set on answers to requests that came over TLS or
	// carry X-Forwarded-Proto: https (from a TLS-terminating proxy).
	Secure bool
	// Now is the clock of issuing and verifying; tests set it. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives guest logins (debug) and internal errors. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Auth issues and verifies tokens. Create it with New; its methods are safe
// for concurrent use.
type Auth struct {
	cfg    Config
	method jwt.SigningMethod
	parser *jwt.Parser
	grace  *jwt.Parser // parser, with RefreshGrace of leeway on exp
	log    *slog.Logger
}

// claims are the token's claims: sub (the user id), name, exp, iat, iss.
type claims struct {
	Name string `json:"name,omitempty"`
	jwt.RegisteredClaims
}

// New returns an Auth configured by cfg (see Config for the defaults). It
// fails when the secret is shorter than MinSecretLen bytes or the algorithm
// is not an HMAC one.
func New(cfg Config) (*Auth, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: secret is %d bytes, at least %d are required (e.g. `openssl rand -base64 48`)", len(cfg.Secret), MinSecretLen)
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...) // the caller may reuse its slice
	if cfg.Algorithm == "" {
		cfg.Algorithm = DefaultAlgorithm
	}
	var method jwt.SigningMethod
	switch cfg.Algorithm {
	case "HS256":
		method = jwt.SigningMethodHS256
	case "HS384":
		method = jwt.SigningMethodHS384
	case "HS512":
		method = jwt.SigningMethodHS512
	default:
		return nil, fmt.Errorf("auth: algorithm %q is not supported (want HS256, HS384 or HS512)", cfg.Algorithm)
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("auth: TTL %v is negative", cfg.TTL)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RefreshGrace == 0 {
		cfg.RefreshGrace = DefaultRefreshGrace
	}
	a := &Auth{cfg: cfg, method: method, log: cfg.Logger}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{method.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	}
	a.parser = jwt.NewParser(opts...)
	a.grace = a.parser
	if cfg.RefreshGrace > 0 {
		a.grace = jwt.NewParser(append(opts, jwt.WithLeeway(cfg.RefreshGrace))...)
	}
	return a, nil
}

// RandomSecret returns a new random secret of 2*MinSecretLen bytes, for a
// server started without one: tokens it signs cannot be verified by any
// other process, and die with this one.
func RandomSecret() ([]byte, error) {
	b := make([]byte, 2*MinSecretLen)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("auth: random secret: %w", err)
	}
	return b, nil
}

// TTL returns how long issued tokens are valid.
func (a *Auth) TTL() time.Duration { return a.cfg.TTL }

// Issue returns a token for user (a valid server user id) with display name
// name (empty: the user id), and its expiry: now + TTL, truncated to the
// second.
func (a *Auth) Issue(user, name string) (token string, exp time.Time, err error) {
	if err := server.ValidUser(user); err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	if err := validName(name); err != nil {
		return "", time.Time{}, fmt.Errorf("issue token for %s: %w", user, err)
	}
	now := a.cfg.Now()
	exp = now.Add(a.cfg.TTL).Truncate(time.Second)
	c := claims{
		Name: name,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    a.cfg.Issuer,
			Subject:   user,
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
		},
	}
	token, err = jwt.NewWithClaims(a.method, c).SignedString(a.cfg.Secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue token for %s: %w", user, err)
	}
	return token, exp, nil
}

// Verify checks token — its algorithm (the configured one only), signature,
// expiry (exp is required), issuer and identity — and returns the identity
// it carries, with Expires set to its exp. Errors wrap ErrTokenExpired or
// ErrTokenInvalid; they never contain the token.
func (a *Auth) Verify(token string) (server.Identity, error) {
	return a.verify(a.parser, token)
}

// verify is Verify with parser p.
func (a *Auth) verify(p *jwt.Parser, token string) (server.Identity, error) {
	if len(token) > MaxTokenLen {
		return server.Identity{}, fmt.Errorf("auth: %w: longer than %d bytes", ErrTokenInvalid, MaxTokenLen)
	}
	var c claims
	_, err := p.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		return a.cfg.Secret, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return server.Identity{}, fmt.Errorf("auth: %w", ErrTokenExpired)
	case err != nil:
		return server.Identity{}, fmt.Errorf("auth: %w: %w", ErrTokenInvalid, err)
	}
	if err := server.ValidUser(c.Subject); err != nil {
		return server.Identity{}, fmt.Errorf("auth: %w: sub: %w", ErrTokenInvalid, err)
	}
	if err := validName(c.Name); err != nil {
		return server.Identity{}, fmt.Errorf("auth: %w: name: %w", ErrTokenInvalid, err)
	}
	name := c.Name
	if name == "" {
		name = c.Subject
	}
	return server.Identity{User: c.Subject, Name: name, Expires: c.ExpiresAt.Time}, nil
}

// Authenticate is a server.Config.Authenticate: it verifies the token of a
// handshake (or any request). It takes the first token present, in this
// order: the Authorization: Bearer header (native clients), the "token"
// query parameter (browsers that can set neither a header nor the cookie),
// the login cookie. A present but invalid token is an error even when
// another source holds a valid one.
func (a *Auth) Authenticate(r *http.Request) (server.Identity, error) {
	token, ok := a.token(r)
	if !ok {
		return server.Identity{}, fmt.Errorf("auth: %w", ErrNoToken)
	}
	return a.Verify(token)
}

// authenticateRefresh is Authenticate for POST /auth/refresh: a token that
// expired less than RefreshGrace ago is still accepted.
func (a *Auth) authenticateRefresh(r *http.Request) (server.Identity, error) {
	token, ok := a.token(r)
	if !ok {
		return server.Identity{}, fmt.Errorf("auth: %w", ErrNoToken)
	}
	return a.verify(a.grace, token)
}

// token finds the request's token: header, then query, then cookie.
func (a *Auth) token(r *http.Request) (string, bool) {
	if scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") {
		if tok = strings.TrimSpace(tok); tok != "" {
			return tok, true
		}
	}
	if tok := r.URL.Query().Get(TokenParam); tok != "" {
		return tok, true
	}
	if ck, err := r.Cookie(a.cfg.CookieName); err == nil && ck.Value != "" {
		return ck.Value, true
	}
	return "", false
}

// validName checks a display name the way the server does: valid UTF-8, at
// most server.MaxNameLen characters, no control characters.
func validName(name string) error {
	if !utf8.ValidString(name) {
		return errors.New("name is not valid UTF-8")
	}
	if utf8.RuneCountInString(name) > server.MaxNameLen {
		return fmt.Errorf("name is longer than %d characters", server.MaxNameLen)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return errors.New("name contains control characters")
		}
	}
	return nil
}
