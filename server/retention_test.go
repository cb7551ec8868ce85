package server_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/gorilla/websocket"

	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/internal/tethertest/raw"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestClosedConnFreedWithTimersPending: a connection that has closed is
// garbage as soon as the server has forgotten it, although its heartbeat and
// token-expiry timers were due long after. Go stops a timer lazily: a
// stopped timer stays in the runtime's timer heap, with its function, until
// its old due time comes round or the heap is tidied, so a timer function
// that holds the *server.Conn would keep every closed connection (its
// socket, gorilla's buffers, its queue) in memory for up to a heartbeat
// interval or a token's lifetime. Other connections stay open meanwhile, so
// that the heaps are full of live timers, due both before and after the
// closed connections' ones, as on a busy server.
func TestClosedConnFreedWithTimersPending(t *testing.T) {
	const (
		keepers = 200 // connections that stay open
		closers = 20  // connections that close, each must be freed
		room    = "retention"
	)
	var (
		mu    sync.Mutex
		freed = make(map[string]weak.Pointer[server.Conn])
	)
	cfg := unlimited(server.Config{
		Heartbeat: 45 * time.Minute,
		// Tokens that expire in 30 minutes to 3 hours: the closing
		// connections' (1 hour) are due among the open ones'.
		Authenticate: func(r *http.Request) (server.Identity, error) {
			id, err := server.InsecureQueryIdentity(r)
			if err != nil {
				return id, err
			}
			kind, n, _ := strings.Cut(id.User, "-")
			i, _ := strconv.Atoi(n)
			switch kind {
			case "keep":
				id.Expires = time.Now().Add(30*time.Minute + time.Duration(i)*time.Minute)
			default:
				id.Expires = time.Now().Add(time.Hour + time.Duration(i)*time.Second)
			}
			return id, nil
		},
	})
	e := newStressEnv(t, cfg, func(c *server.Conn, _ int) {
		if strings.HasPrefix(c.User(), "gone-") {
			mu.Lock()
			freed[c.ID()] = weak.Make(c)
			mu.Unlock()
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var open []*websocket.Conn
	t.Cleanup(func() {
		for _, ws := range open {
			_ = ws.Close()
		}
	})
	for i := range keepers {
		ws, _, err := raw.DialJoin(ctx, websocket.DefaultDialer, e.wsURL(fmt.Sprintf("keep-%d", i)), nil, room)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, ws)
	}

	// Each closing connection joins the room, then closes cleanly: it
	// waits for the server's answering close frame before it closes its
	// socket (closing it with unread frames would reset the connection).
	ids := make([]string, 0, closers)
	for i := range closers {
		ws, w, err := raw.DialJoin(ctx, websocket.DefaultDialer, e.wsURL(fmt.Sprintf("gone-%d", i)), nil, room)
		if err != nil {
			t.Fatalf("closing connection %d: %v", i, err)
		}
		ids = append(ids, w.Conn)
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
		if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(waitTime)); err != nil {
			t.Fatalf("closing connection %d: send close: %v", i, err)
		}
		readUntilClose(t, ws)
		_ = ws.Close()
	}
	for _, id := range ids {
		code, ok := e.closes.wait(id, waitTime)
		if !ok {
			t.Fatalf("connection %s was not disconnected within %v of its close frame", id, waitTime)
		}
		if code != shared.CloseNormal {
			t.Errorf("connection %s closed with %d, want %d", id, code, shared.CloseNormal)
		}
	}

	// OnDisconnect has run for each; once their goroutines have returned
	// (a writer or a reader run may still be finishing), nothing of the
	// server holds them: collections must free them all, long before their
	// timers would have been due. Other connections' goroutines come and go
	// meanwhile (presence events), so this polls, with a deadline, rather
	// than count goroutines.
	reachable := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		for id, w := range freed {
			if w.Value() != nil {
				ids = append(ids, id)
			}
		}
		return ids
	}
	mu.Lock()
	n := len(freed)
	mu.Unlock()
	if n != closers {
		t.Fatalf("OnDisconnect reported %d of the %d closed connections", n, closers)
	}
	deadline := time.Now().Add(waitTime)
	for {
		runtime.GC()
		left := reachable()
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d closed connections' *server.Conn still reachable %v after their close and full collections: their memory is kept (by their stopped timers?)",
				len(left), closers, waitTime)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := tethertest.Stats(t, e.srv); st.Connections != keepers {
		t.Errorf("Stats().Connections = %d, want the %d still open", st.Connections, keepers)
	}
}
