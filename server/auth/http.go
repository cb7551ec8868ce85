package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tetherkit/tether/shared"
	"github.com/tetherkit/tether/shared/authwire"
)

// The endpoints' paths, bodies and limits are authwire's: the browser's
// session helper (client/session) compiles the same declarations.
const (
	PathGuest        = authwire.PathGuest
	PathRefresh      = authwire.PathRefresh
	PathLogout       = authwire.PathLogout
	PathMe           = authwire.PathMe
	MaxBody          = authwire.MaxBody
	MaxNickLen       = authwire.MaxNickLen
	CodeUnauthorized = authwire.CodeUnauthorized
)

// Handler serves the login endpoints; mount it at "/auth/":
//
//	POST /auth/guest    {"name":"Alice"} → a token for a new guest user (403 unless Config.Guest)
//	POST /auth/refresh  a valid token (cookie or Bearer) → a fresh one
//	POST /auth/logout   forget the cookie
//	GET  /auth/me       the identity of the cookie or Bearer token, or 401
//
// Each answers an authwire.Session (or 204 for logout) and sets or clears the cookie.
func (a *Auth) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(PathGuest, a.GuestHandler())
	mux.Handle(PathRefresh, only(http.MethodPost, a.refresh))
	mux.Handle(PathLogout, only(http.MethodPost, a.logout))
	mux.Handle(PathMe, only(http.MethodGet, a.me))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, shared.CodeNotFound, "no such endpoint: "+r.URL.Path)
	})
	return mux
}

// GuestHandler serves POST /auth/guest on its own (Handler includes it): it
// validates the nickname, derives a fresh user id from it, and answers a
// authwire.Session with the token, also set as the cookie.
func (a *Auth) GuestHandler() http.Handler {
	return only(http.MethodPost, a.guest)
}

func (a *Auth) guest(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.Guest {
		writeError(w, http.StatusForbidden, shared.CodeForbidden,
			"guest login is disabled on this server: connect with a token issued by its operator (or start the server with -guest)")
		return
	}
	var req authwire.GuestRequest
	if !decodeBody(w, r, &req) {
		return
	}
	name, err := cleanNick(req.Name)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, authwire.ErrorBody{Error: shared.Error{Code: shared.CodeBadData, Field: "name", Message: err.Error()}})
		return
	}
	user, err := guestUser(name)
	if err != nil {
		a.internal(w, "guest user id", err)
		return
	}
	a.issueSession(w, r, user, name)
	a.log.Debug("guest login", "user", user)
}

func (a *Auth) refresh(w http.ResponseWriter, r *http.Request) {
	id, err := a.authenticateRefresh(r)
	if err != nil {
		unauthorized(w, err)
		return
	}
	a.issueSession(w, r, id.User, id.Name)
}

func (a *Auth) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, a.cookie(r, "", -1))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) me(w http.ResponseWriter, r *http.Request) {
	id, err := a.Authenticate(r)
	if err != nil {
		unauthorized(w, err)
		return
	}
	writeJSON(w, http.StatusOK, authwire.Session{User: id.User, Name: id.Name, Expires: id.Expires})
}

// issueSession issues a token for user, sets the cookie and answers the
// authwire.Session.
func (a *Auth) issueSession(w http.ResponseWriter, r *http.Request, user, name string) {
	token, exp, err := a.Issue(user, name)
	if err != nil {
		a.internal(w, "issue token", err)
		return
	}
	http.SetCookie(w, a.cookie(r, token, int(math.Ceil(a.cfg.TTL.Seconds()))))
	writeJSON(w, http.StatusOK, authwire.Session{User: user, Name: name, Expires: exp, Token: token})
}

// cookie is the login cookie, for the answer to r, holding token for maxAge
// seconds (negative: delete it). HttpOnly keeps it from scripts (an XSS
// cannot steal it), SameSite=Strict keeps other sites from using it (CSRF,
// cross-site WebSocket hijacking), Secure keeps it off plain HTTP.
func (a *Auth) cookie(r *http.Request, token string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     a.cfg.CookieName,
		Value:    token,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   a.cfg.Secure || overTLS(r),
		SameSite: http.SameSiteStrictMode,
	}
}

// overTLS reports whether the browser reached the server over TLS: directly,
// or through a proxy that says so in X-Forwarded-Proto. A client forging the
// header only makes its own cookie stricter.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (a *Auth) internal(w http.ResponseWriter, what string, err error) {
	a.log.Error("auth: "+what, "err", err)
	writeError(w, http.StatusInternalServerError, shared.CodeInternal, "internal error")
}

// only restricts h to one method: anything else is 405 with Allow.
func only(method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, shared.CodeMalformed, "method "+r.Method+" not allowed; use "+method)
			return
		}
		h(w, r)
	})
}

// decodeBody strictly decodes a JSON body of at most MaxBody bytes into dst.
// It insists on Content-Type: application/json, which a cross-site HTML form
// cannot send without a CORS preflight (that this server never grants).
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, shared.CodeMalformed, "Content-Type must be application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, shared.CodeMalformed, "body is larger than 4 KiB")
			return false
		}
		writeError(w, http.StatusBadRequest, shared.CodeMalformed, "could not read the body")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		writeError(w, http.StatusBadRequest, shared.CodeMalformed, "body is not the expected JSON object: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, shared.CodeMalformed, "body has data after the JSON object")
		return false
	}
	return true
}

// cleanNick trims a nickname and checks it: 1–MaxNickLen printable
// characters.
func cleanNick(nick string) (string, error) {
	nick = strings.TrimSpace(nick)
	switch n := utf8.RuneCountInString(nick); {
	case n == 0:
		return "", errors.New("name is required")
	case n > MaxNickLen:
		return "", errors.New("name is longer than 32 characters")
	}
	for _, r := range nick {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return "", errors.New("name must be printable characters (no control characters or special spaces)")
		}
	}
	return nick, nil
}

// Shape of a guest user id: the nickname's slug (at most slugLen bytes of
// [a-z0-9-]), "-", and suffixLen random characters, so that two guests named
// Alice are two users: "alice-k3x9qa".
const (
	slugLen   = 24
	suffixLen = 6
)

// suffixAlphabet is 32 characters, so that a random byte maps to one
// without bias.
const suffixAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// guestUser derives a fresh user id from a nickname.
func guestUser(nick string) (string, error) {
	suffix := make([]byte, suffixLen)
	if _, err := rand.Read(suffix); err != nil {
		return "", err
	}
	for i, b := range suffix {
		suffix[i] = suffixAlphabet[b%32]
	}
	return slug(nick) + "-" + string(suffix), nil
}

// slug is the nickname in lower-case ASCII letters and digits, every other
// run of characters one "-"; "guest" when nothing is left.
func slug(nick string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(nick) {
		if b.Len() >= slugLen {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "guest"
	}
	return s
}

// unauthorized answers a request without a valid token.
func unauthorized(w http.ResponseWriter, err error) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="tether"`)
	msg := "not logged in: " + err.Error()
	if errors.Is(err, ErrTokenExpired) {
		msg = "token has expired: log in again"
	}
	writeError(w, http.StatusUnauthorized, CodeUnauthorized, msg)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, authwire.ErrorBody{Error: shared.Error{Code: code, Message: msg}})
}

// writeJSON answers v; never cached, since it may hold a token.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}
