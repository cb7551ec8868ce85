// Package authwire is the wire form of the login endpoints under /auth/
// (docs/security.md §3): their paths, the request and answer bodies, and the
// error shape. The server's handler (server/auth) answers with these types
// and the browser's session helper (client/session) decodes them, so both
// sides compile the same contract. Standard library only: it builds for
// js/wasm without linking the server.
package authwire

import (
	"time"

	"github.com/tetherkit/tether/shared"
)

// Paths of the login endpoints, relative to the server's root.
const (
	// PathGuest is POST {"name":…}: a token for a new guest user.
	PathGuest = "/auth/guest"
	// PathRefresh is POST with a valid token (cookie or Bearer): a fresh one.
	PathRefresh = "/auth/refresh"
	// PathLogout is POST: forget the login cookie (204).
	PathLogout = "/auth/logout"
	// PathMe is GET: the identity of the cookie or Bearer token, or 401.
	PathMe = "/auth/me"
)

// MaxBody bounds a request body of the login endpoints, in bytes.
const MaxBody = 4 << 10

// MaxNickLen bounds a guest's nickname, in characters.
const MaxNickLen = 32

// CodeUnauthorized is the error code of a request without a valid token
// (HTTP 401), as in docs/api.md.
const CodeUnauthorized = "unauthorized"

// GuestRequest is the body of POST /auth/guest.
type GuestRequest struct {
	// Name is the nickname: 1–32 printable characters once trimmed.
	Name string `json:"name"`
}

// Session is the answer of the login endpoints: who the token is for and
// until when. Token is also set as an HttpOnly cookie; it is in the body for
// native clients, which send it as Authorization: Bearer. GET /auth/me omits
// it.
type Session struct {
	// User is the user id.
	User string `json:"user"`
	// Name is the display name.
	Name string `json:"name"`
	// Expires is when the token expires, and the connections it opened are
	// closed with 1008.
	Expires time.Time `json:"expires"`
	// Token is the signed token.
	Token string `json:"token,omitempty"`
}

// ErrorBody is the JSON shape of every error of these endpoints, the same
// as the HTTP API's: {"error":{"code":…,"message":…}}.
type ErrorBody struct {
	// Error describes the failure with a stable code.
	Error shared.Error `json:"error"`
}
