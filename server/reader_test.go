package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/shared"
)

// plainListener hands out connections that hide their file descriptor, so
// that the server cannot have the poller watch them: they get a reader
// goroutine, as on another system or behind TLS.
type plainListener struct{ net.Listener }

type plainConn struct{ net.Conn }

func (l plainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return plainConn{c}, nil
}

// readerEnv is a server on 127.0.0.1 whose connections are watched by the
// poller (polled) or have reader goroutines, with the last one connected.
type readerEnv struct {
	t      *testing.T
	srv    *Server
	hs     *httptest.Server
	conns  chan *Conn
	closed chan int // close codes, from OnDisconnect
}

func newReaderEnv(t *testing.T, polled bool, cfg Config) *readerEnv {
	t.Helper()
	e := &readerEnv{t: t, conns: make(chan *Conn, 16), closed: make(chan int, 16)}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Authenticate = InsecureQueryIdentity
	onConnect := cfg.OnConnect
	cfg.OnConnect = func(ctx context.Context, ev ConnectEvent) error {
		e.conns <- ev.Conn
		if onConnect != nil {
			return onConnect(ctx, ev)
		}
		return nil
	}
	cfg.OnDisconnect = func(ev DisconnectEvent) { e.closed <- ev.Code }
	var err error
	if e.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	e.hs = httptest.NewUnstartedServer(e.srv)
	if !polled {
		e.hs.Listener = plainListener{e.hs.Listener}
	}
	e.hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.hs.Close()
	})
	return e
}

// dial connects user and reads welcome; it returns the client and the
// server's side of the connection.
func (e *readerEnv) dial(user string) (*websocket.Conn, *Conn) {
	e.t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.hs.URL, "http")+"/ws?user="+user, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, b, err := ws.ReadMessage(); err != nil || !strings.Contains(string(b), `"welcome"`) {
		e.t.Fatalf("read %s (%v), want welcome", b, err)
	}
	select {
	case c := <-e.conns:
		return ws, c
	case <-time.After(10 * time.Second):
		e.t.Fatal("no connection")
	}
	return nil, nil
}

// waitUntil polls cond until it holds, for at most 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// idleReader reports whether c's reader holds no read buffer, and, polled,
// is parked.
func idleReader(c *Conn, polled bool) bool {
	if !polled {
		return true // its reader goroutine's buffer is its own
	}
	// rb is the reader's: read under readMu, while parked (the run released
	// the buffer before it parked under readMu).
	c.readMu.Lock()
	defer c.readMu.Unlock()
	return c.rstate == readerParked && c.rb.held == nil
}

// TestReaderParksAndWakes: an idle connection watched by the poller has no
// reader goroutine and no read buffer; a message wakes it, is answered, and
// it parks again; the heartbeat's pings and their pongs do not keep it
// awake.
func TestReaderParksAndWakes(t *testing.T) {
	e := newReaderEnv(t, true, Config{Heartbeat: 20 * time.Millisecond, HeartbeatTimeout: 5 * time.Second})
	ws, c := e.dial("parked")
	if !c.polled.Load() {
		t.Skip("the poller does not watch this system's sockets")
	}
	waitUntil(t, "the reader parks with no buffer", func() bool { return idleReader(c, true) })
	for i := 1; i <= 3; i++ {
		if err := ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"ping","id":%d}`, i)); err != nil {
			t.Fatal(err)
		}
		_, b, err := ws.ReadMessage() // also answers the server's pings
		if err != nil || !strings.Contains(string(b), fmt.Sprintf(`"id":%d`, i)) {
			t.Fatalf("read %s (%v), want the pong of request %d", b, err, i)
		}
		waitUntil(t, "the reader parks again", func() bool { return idleReader(c, true) })
	}
	// Pings go out every 20ms and the client's pongs come back (it reads
	// in the background): the connection must keep parking.
	pings := make(chan struct{}, 64)
	ws.SetPingHandler(func(s string) error {
		pings <- struct{}{}
		return ws.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for range 5 {
		select {
		case <-pings:
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat ping")
		}
	}
	waitUntil(t, "the reader parks between pongs", func() bool { return idleReader(c, true) })
	if d := time.Since(time.Unix(0, c.lastRead.Load())); d > time.Second {
		t.Errorf("lastRead is %v old: the pongs were not seen", d)
	}
}

// TestReaderFrameInPieces: a frame that arrives in pieces, split inside its
// header and inside its payload, is read whole, whether the connection is
// polled or has a reader goroutine; so is a ping split in two.
func TestReaderFrameInPieces(t *testing.T) {
	for _, polled := range []bool{true, false} {
		t.Run(fmt.Sprintf("polled=%v", polled), func(t *testing.T) {
			e := newReaderEnv(t, polled, Config{})
			ws, c := e.dial("pieces")
			waitUntil(t, "the reader is idle", func() bool { return idleReader(c, polled) })
			raw := ws.NetConn()
			msg := []byte(`{"type":"ping","id":7}`)
			frame := maskedFrame(0x80|websocket.TextMessage, msg)
			ping := maskedFrame(0x80|websocket.PingMessage, []byte("split"))
			pongs := make(chan string, 1)
			ws.SetPongHandler(func(s string) error { pongs <- s; return nil })
			for _, cut := range [][]byte{frame[:1], frame[1:4], frame[4:10], frame[10:], ping[:3], ping[3:]} {
				if _, err := raw.Write(cut); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond) // each piece its own segment, read on its own
			}
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, b, err := ws.ReadMessage(); err != nil || !strings.Contains(string(b), `"id":7`) {
				t.Fatalf("read %s (%v), want the pong of request 7", b, err)
			}
			go func() { _, _, _ = ws.ReadMessage() }() // reads the pong frame
			select {
			case s := <-pongs:
				if s != "split" {
					t.Errorf("pong %q, want split", s)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no pong to the split ping")
			}
			waitUntil(t, "the reader is idle again", func() bool { return idleReader(c, polled) })
		})
	}
}

// TestReaderCloseWhileParked: a parked connection closed by the server ends
// (OnDisconnect, its goroutines gone) whether its client answers the close
// frame or has gone silent; and one whose client stops answering pings is
// closed with 4003 by the node's timers.
func TestReaderCloseWhileParked(t *testing.T) {
	t.Run("client answers", func(t *testing.T) {
		e := newReaderEnv(t, true, Config{})
		ws, c := e.dial("kicked")
		waitUntil(t, "the reader is idle", func() bool { return idleReader(c, true) })
		c.Close(shared.CloseKicked, "bye")
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := ws.ReadMessage() // gorilla answers the close frame
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != shared.CloseKicked {
			t.Fatalf("client read %v, want close 4000", err)
		}
		if code := e.waitClosed(); code != shared.CloseKicked {
			t.Errorf("OnDisconnect got %d, want 4000", code)
		}
	})
	t.Run("client silent", func(t *testing.T) {
		e := newReaderEnv(t, true, Config{})
		_, c := e.dial("silent") // never reads again, never answers
		waitUntil(t, "the reader is idle", func() bool { return idleReader(c, true) })
		start := time.Now()
		c.Close(shared.CloseKicked, "bye")
		if code := e.waitClosed(); code != shared.CloseKicked {
			t.Errorf("OnDisconnect got %d, want 4000", code)
		}
		if took := time.Since(start); took < closeGrace/2 {
			t.Errorf("closed after %v, want it to wait about closeGrace (%v) for an answer", took, closeGrace)
		}
	})
	t.Run("heartbeat timeout", func(t *testing.T) {
		e := newReaderEnv(t, true, Config{Heartbeat: 20 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond})
		_, c := e.dial("gone") // does not read: no pongs
		if !c.polled.Load() {
			t.Skip("the poller does not watch this system's sockets")
		}
		if code := e.waitClosed(); code != shared.CloseHeartbeat {
			t.Errorf("OnDisconnect got %d, want 4003", code)
		}
	})
}

func (e *readerEnv) waitClosed() int {
	e.t.Helper()
	select {
	case code := <-e.closed:
		return code
	case <-time.After(10 * time.Second):
		e.t.Fatal("the connection did not end")
	}
	return 0
}

// TestReaderSlowConsumer: a parked connection whose client stops reading is
// closed with 4002 when its queue overflows, and ends.
func TestReaderSlowConsumer(t *testing.T) {
	for _, polled := range []bool{true, false} {
		t.Run(fmt.Sprintf("polled=%v", polled), func(t *testing.T) {
			e := newReaderEnv(t, polled, Config{SendQueue: 16, WriteTimeout: time.Minute})
			_, c := e.dial("slow") // never reads again
			waitUntil(t, "the reader is idle", func() bool { return idleReader(c, polled) })
			big := strings.Repeat("x", 60<<10)
			var err error
			for i := 0; err == nil && i < 10000; i++ {
				err = c.Send(testmsg.ChatMessage{Room: "r", Text: big})
			}
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Send never failed (%v): the queue did not overflow", err)
			}
			if code := e.waitClosed(); code != shared.CloseSlowConsumer {
				t.Errorf("OnDisconnect got %d, want 4002", code)
			}
		})
	}
}

// TestHandlersInOrder: a connection's handlers run one at a time, in the
// order the messages arrived, whether the connection is polled or has a
// reader goroutine (they run off it).
func TestHandlersInOrder(t *testing.T) {
	for _, polled := range []bool{true, false} {
		t.Run(fmt.Sprintf("polled=%v", polled), func(t *testing.T) {
			const n = 200
			var (
				running atomic.Int32
				mu      sync.Mutex
				got     []string
				done    = make(chan struct{})
				reg     = shared.NewRegistry()
			)
			shared.Register[orderMsg](reg)
			e := newReaderEnv(t, polled, Config{Registry: reg, MessageRate: -1})
			Handle(e.srv, func(_ context.Context, _ *Conn, m orderMsg) error {
				if running.Add(1) > 1 {
					t.Error("two handlers of one connection ran at once")
				}
				defer running.Add(-1)
				deep(64) // grows the stack the handler runs on
				mu.Lock()
				defer mu.Unlock()
				if got = append(got, fmt.Sprint(m.N)); len(got) == n {
					close(done)
				}
				return nil
			})
			ws, _ := e.dial("order")
			var buf bytes.Buffer
			for i := range n {
				buf.Reset()
				fmt.Fprintf(&buf, `{"type":"test.order","data":{"n":%d}}`, i)
				if err := ws.WriteMessage(websocket.TextMessage, buf.Bytes()); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("%d of %d messages handled", len(got), n)
			}
			for i, s := range got {
				if s != fmt.Sprint(i) {
					t.Fatalf("message %d handled as number %s: out of order", i, s)
				}
			}
		})
	}
}

// orderMsg is TestHandlersInOrder's message.
type orderMsg struct {
	N int `json:"n"`
}

func (orderMsg) MessageType() string { return "test.order" }

// deep recurses with a KiB of stack per level.
func deep(n int) byte {
	var pad [1024]byte
	pad[n%1024] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[n%1024]
}

// TestNodeTimers: the node's timer goroutine runs while the node has
// connections, one for all of them, and stops when the last one ends.
func TestNodeTimers(t *testing.T) {
	e := newReaderEnv(t, true, Config{MaxConnsPerUser: -1})
	var clients []*websocket.Conn
	for range 5 {
		ws, _ := e.dial("timers")
		clients = append(clients, ws)
	}
	if n := tickLoops(); n != 1 {
		t.Errorf("%d timer goroutines for 5 connections, want 1", n)
	}
	for _, ws := range clients {
		_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		ws.Close()
	}
	for range clients {
		e.waitClosed()
	}
	waitUntil(t, "the timer goroutine stops with the last connection", func() bool { return tickLoops() == 0 })
}

// tickLoops counts the goroutines running Server.tickLoop.
func tickLoops() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("server.(*Server).tickLoop("))
}
