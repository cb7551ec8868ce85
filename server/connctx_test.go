package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// dialConn starts a server with cfg (Authenticate and OnConnect set here)
// and connects one client; it returns the server's side of the connection
// and the client's, both closed at the end of the test.
func dialConn(t *testing.T, cfg Config) (*Conn, *websocket.Conn) {
	t.Helper()
	var conn atomic.Pointer[Conn]
	connected := make(chan struct{})
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Authenticate = InsecureQueryIdentity
	cfg.OnConnect = func(_ context.Context, e ConnectEvent) error {
		conn.Store(e.Conn)
		close(connected)
		return nil
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	})
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws?user=u", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("OnConnect not called within 10s")
	}
	return conn.Load(), ws
}

// TestConnContext: a connection's context is done, with context.Canceled,
// when the connection starts closing; contexts derived from it are
// cancelled with it, through its AfterFunc (no goroutine each), and leave
// nothing registered when they are cancelled first.
func TestConnContext(t *testing.T) {
	c, _ := dialConn(t, Config{})
	ctx := c.Context()
	if _, ok := ctx.(interface{ AfterFunc(func()) func() bool }); !ok {
		t.Fatal("Conn.Context has no AfterFunc: every derived context would cost a goroutine")
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err of an open connection's context = %v", err)
	}
	select {
	case <-ctx.Done():
		t.Fatal("Done closed while the connection is open")
	default:
	}
	if _, ok := ctx.Deadline(); ok {
		t.Error("the connection's context has a deadline")
	}
	afters := func() int {
		c.closeMu.Lock()
		defer c.closeMu.Unlock()
		return len(c.afters)
	}
	// Derived, then cancelled first: nothing stays registered.
	var cancels []context.CancelFunc
	for range 5 {
		_, cancel := context.WithTimeout(ctx, time.Hour)
		cancels = append(cancels, cancel)
	}
	if n := afters(); n != 5 {
		t.Fatalf("%d functions registered for 5 derived contexts, want 5", n)
	}
	for _, i := range []int{2, 0, 4, 1, 3} { // out of order: the swap-removal keeps indexes right
		cancels[i]()
	}
	if n := afters(); n != 0 {
		t.Fatalf("%d functions still registered after the derived contexts were cancelled", n)
	}
	c.closeMu.Lock()
	kept := c.afters != nil
	c.closeMu.Unlock()
	if kept {
		t.Error("an empty registration slice is kept")
	}
	// Derived, then the connection closes: cancelled with it.
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(stopped) })
	c.Close(shared.CloseNormal, "bye")
	for _, done := range []<-chan struct{}{ctx.Done(), child.Done(), stopped} {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("not done within 5s of the connection closing")
		}
	}
	if !errors.Is(ctx.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) || !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Errorf("Err = %v, child's %v, Cause %v; want context.Canceled", ctx.Err(), child.Err(), context.Cause(ctx))
	}
	if stop() {
		t.Error("AfterFunc's stop reported true after the function ran")
	}
	// Derived after the close: done at once.
	late, lateCancel := context.WithTimeout(ctx, time.Hour)
	defer lateCancel()
	select {
	case <-late.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a context derived from a closed connection's is not done")
	}
}
