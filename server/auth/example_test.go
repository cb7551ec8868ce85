package auth_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/auth"
)

// A server whose connections need a token: the web app gets one from
// POST /auth/guest (as a cookie), a native client from the operator (as
// Authorization: Bearer).
func Example() {
	secret, err := auth.RandomSecret() // or the operator's -secret / TETHER_SECRET
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.New(auth.Config{Secret: secret, Guest: true})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Authenticate: a.Authenticate, // the handshake's token
		VerifyToken:  a.Verify,       // a client's in-band refresh (client.Config.Token)
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	mux.Handle("/auth/", a.Handler())

	// A backend issues a token for a user it knows.
	token, _, err := a.Issue("alice", "Alice")
	if err != nil {
		log.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/ws", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	id, err := a.Authenticate(r)
	fmt.Println(id.User, id.Name, err)

	// A handshake without a token is refused before the upgrade.
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ws", nil))
	fmt.Println(w.Code)
	// Output:
	// alice Alice <nil>
	// 401
}
