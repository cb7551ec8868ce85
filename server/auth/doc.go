// Package auth authenticates Tether connections with signed, expiring tokens
// (JWT, HS256 by default) and serves the small HTTP API a web app needs to
// get one: guest login, refresh, logout and "who am I".
//
// An Auth plugs into the server before the WebSocket upgrade:
//
//	a, err := auth.New(auth.Config{Secret: secret, Guest: true})
//	if err != nil { ... }
//	srv, err := server.New(server.Config{
//		Authenticate: a.Authenticate, // the handshake's token
//		VerifyToken:  a.Verify,       // a client's in-band token refresh
//	})
//	if err != nil { ... }
//	mux.Handle("/ws", srv)
//	mux.Handle("/auth/", a.Handler())
//
// A handshake carries its token in the Authorization: Bearer header (native
// clients), the "token" query parameter (browsers that cannot set headers on
// a WebSocket) or the HttpOnly cookie set by the login endpoints (the web
// app), in that order of precedence. A handshake without a valid token is
// refused with HTTP 401, before the upgrade. The identity carries the token's
// expiry (server.Identity.Expires): the server closes the connection with
// 1008 "token expired" when it passes, so a client refreshes its token
// (POST /auth/refresh) before then, or logs in again and reconnects.
//
// Tokens are stateless: there is no session store, and logging out only
// forgets the cookie. A token stays valid until it expires or the secret
// changes. A server started without a configured secret uses a random one
// (RandomSecret), so every token dies with the process.
//
// docs/security.md describes the threat model and every default.
package auth
