package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/shared"
)

// recordingListener records the Write calls made on the connections it
// accepts, with a check of the writing goroutine's stack.
type recordingListener struct {
	net.Listener
	mu     sync.Mutex
	writes [][]byte
	check  func(stack string) error // nil: no check
	bad    []error
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, l: l}, nil
}

func (l *recordingListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.writes)
}

func (l *recordingListener) last() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes[len(l.writes)-1]
}

type recordingConn struct {
	net.Conn
	l *recordingListener
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, bytes.Clone(p))
	if c.l.check != nil {
		buf := make([]byte, 64<<10)
		if err := c.l.check(string(buf[:runtime.Stack(buf, false)])); err != nil {
			c.l.bad = append(c.l.bad, err)
		}
	}
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// upgraded is one connection upgraded through a hijackWriter, as
// Server.ServeHTTP does, with its client.
type upgraded struct {
	l      *recordingListener
	ws     *websocket.Conn // the server's side
	bc     *batchConn
	client *websocket.Conn
	writes int // socket writes of the handshake
}

func upgrade(t *testing.T, readLimit int64) *upgraded {
	t.Helper()
	var pools writePools
	var reads readPool
	up := websocket.Upgrader{WriteBufferPool: &pools.frame, HandshakeTimeout: 5 * time.Second}
	got := make(chan *upgraded, 1)
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &hijackWriter{ResponseWriter: w, pools: &pools, reads: &reads}
		ws, err := up.Upgrade(hw, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		ws.SetReadLimit(readLimit)
		got <- &upgraded{ws: ws, bc: hw.bc}
	}))
	l := &recordingListener{Listener: hs.Listener}
	hs.Listener = l
	hs.Start()
	t.Cleanup(hs.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	var u *upgraded
	select {
	case u = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no upgrade")
	}
	t.Cleanup(func() { u.ws.Close() })
	u.l, u.client = l, client
	u.writes = l.count()
	return u
}

// TestBatchConnPinsGorilla pins what batchConn relies on in gorilla/websocket
// (v1.5.3): an upgrade to this version must keep it, or the connection's
// writer would no longer be the only goroutine writing to the socket.
func TestBatchConnPinsGorilla(t *testing.T) {
	t.Run("the handshake is written before Upgrade returns", func(t *testing.T) {
		u := upgrade(t, 0)
		if u.writes == 0 || !bytes.HasPrefix(u.l.last(), []byte("HTTP/1.1 101 ")) {
			t.Fatalf("Upgrade returned after %d socket writes, want the 101 response written through the hijacked conn", u.writes)
		}
	})

	t.Run("every frame goes through Write, whole, until flush", func(t *testing.T) {
		u := upgrade(t, 0)
		u.bc.attach()
		big := strings.Repeat("b", 3*batchBufferSize) // longer than gorilla's write buffer: a frame of two writes
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte("prepared"))
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		steps := []func() error{
			func() error { return u.ws.WriteMessage(websocket.TextMessage, []byte("one")) },
			func() error { return u.ws.WriteControl(websocket.PingMessage, []byte("ping"), deadline) },
			func() error { return u.ws.WritePreparedMessage(pm) },
			func() error { return u.ws.WriteMessage(websocket.TextMessage, []byte(big)) },
			func() error { return u.ws.WriteControl(websocket.PongMessage, []byte("pong"), deadline) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		if n := u.l.count(); n != u.writes {
			t.Fatalf("%d socket writes before flush, want none: gorilla wrote around the buffer", n-u.writes)
		}
		if err := u.bc.flush(deadline); err != nil {
			t.Fatal(err)
		}
		if n := u.l.count(); n != u.writes+1 {
			t.Fatalf("flush made %d socket writes, want 1", n-u.writes)
		}
		var pings, pongs []string
		u.client.SetPingHandler(func(s string) error { pings = append(pings, s); return nil })
		u.client.SetPongHandler(func(s string) error { pongs = append(pongs, s); return nil })
		_ = u.client.SetReadDeadline(deadline)
		for _, want := range []string{"one", "prepared", big} {
			_, b, err := u.client.ReadMessage()
			if err != nil || string(b) != want {
				t.Fatalf("client read %.20q (%v), want %.20q", b, err, want)
			}
		}
		if len(pings) != 1 || pings[0] != "ping" {
			t.Errorf("client got pings %q, want [ping]", pings)
		}
		// The pong is the last frame: it is read with the next message.
		go func() {
			_ = u.ws.WriteMessage(websocket.TextMessage, []byte("end"))
			_ = u.bc.flush(time.Now().Add(5 * time.Second))
		}()
		if _, b, err := u.client.ReadMessage(); err != nil || string(b) != "end" {
			t.Fatalf("client read %q (%v), want end", b, err)
		}
		if len(pongs) != 1 || pongs[0] != "pong" {
			t.Errorf("client got pongs %q, want [pong]", pongs)
		}
	})

	t.Run("frames stay whole when two goroutines frame at once", func(t *testing.T) {
		u := upgrade(t, 0)
		u.bc.attach()
		const n = 200
		deadline := time.Now().Add(5 * time.Second)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // as the writer
			defer wg.Done()
			for i := range n {
				if err := u.ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("d", i))); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
		go func() { // as gorilla on the reader
			defer wg.Done()
			for range n {
				if err := u.ws.WriteControl(websocket.PongMessage, []byte("p"), deadline); err != nil {
					t.Errorf("write control: %v", err)
					return
				}
			}
		}()
		wg.Wait()
		// A last message, so that the client reads every pong before it.
		if err := u.ws.WriteMessage(websocket.TextMessage, []byte("end")); err != nil {
			t.Fatal(err)
		}
		if err := u.bc.flush(deadline); err != nil {
			t.Fatal(err)
		}
		pongs := 0
		u.client.SetPongHandler(func(s string) error {
			if s == "p" {
				pongs++
			}
			return nil
		})
		_ = u.client.SetReadDeadline(deadline)
		for i := range n {
			if _, b, err := u.client.ReadMessage(); err != nil || len(b) != i {
				t.Fatalf("message %d: read %d bytes (%v), want %d", i, len(b), err, i)
			}
		}
		if _, b, err := u.client.ReadMessage(); err != nil || string(b) != "end" {
			t.Fatalf("read %q (%v), want end", b, err)
		}
		if pongs != n {
			t.Errorf("client got %d pongs of %d", pongs, n)
		}
	})

	// gorilla writes a close frame of its own on the reading goroutine when
	// it refuses what it read: through Write (so it waits in the buffer for
	// the writer), and it then refuses data frames with ErrCloseSent.
	for _, tc := range []struct {
		name      string
		readLimit int64
		frame     []byte // sent raw by the client
		code      int
	}{
		{"protocol error", 0, maskedFrame(0xA0|websocket.TextMessage, []byte("rsv2")), websocket.CloseProtocolError},
		{"read limit", 8, maskedFrame(0x80|websocket.TextMessage, []byte("longer than eight")), websocket.CloseMessageTooBig},
	} {
		t.Run("close frame on "+tc.name, func(t *testing.T) {
			u := upgrade(t, tc.readLimit)
			u.bc.attach()
			if _, err := u.client.NetConn().Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			_ = u.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := u.ws.NextReader(); err == nil {
				t.Fatal("NextReader took the bad frame")
			}
			if n := u.l.count(); n != u.writes {
				t.Fatalf("gorilla made %d socket writes on the reader, want its close frame buffered", n-u.writes)
			}
			if !u.bc.buffered() {
				t.Fatal("gorilla's close frame is not in the buffer")
			}
			if err := u.ws.WriteMessage(websocket.TextMessage, []byte("after")); !errors.Is(err, websocket.ErrCloseSent) {
				t.Errorf("data write after gorilla's close frame = %v, want ErrCloseSent", err)
			}
			if err := u.bc.flush(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			_ = u.client.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := u.client.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != tc.code {
				t.Errorf("client read %v, want close %d", err, tc.code)
			}
		})
	}
}

// maskedFrame is one client frame: first byte b0 (FIN, RSV bits, opcode),
// payload masked, shorter than 126 bytes.
func maskedFrame(b0 byte, payload []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{b0, 0x80 | byte(len(payload))}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// TestOneSocketWriter: after the handshake, every write to a connection's
// socket is made by its writer goroutine — data, the heartbeat's pings, the
// pongs to the client's pings, the answer to its close frame, and the close
// frames of a protocol error and of an oversized message.
func TestOneSocketWriter(t *testing.T) {
	l := &recordingListener{}
	l.check = func(stack string) error {
		if strings.Contains(stack, "(*Conn).writeLoop") || strings.Contains(stack, "(*Upgrader).Upgrade") {
			return nil
		}
		return errors.New(stack)
	}
	srv, err := New(Config{
		Logger:       slog.New(slog.DiscardHandler),
		Authenticate: InsecureQueryIdentity,
		Heartbeat:    20 * time.Millisecond,
		ReadLimit:    64,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	l.Listener = hs.Listener
	hs.Listener = l
	hs.Start()
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	dial := func() *websocket.Conn {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws?user=one", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil {
			t.Fatalf("no welcome: %v", err)
		}
		return ws
	}
	closeCode := func(ws *websocket.Conn) int {
		t.Helper()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("read %v, want a close frame", err)
				}
				return ce.Code
			}
		}
	}

	// Pings both ways, a request and its reply, the client's close.
	ws := dial()
	pinged := make(chan struct{}, 1)
	ws.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	ponged := make(chan string, 1)
	ws.SetPongHandler(func(s string) error { ponged <- s; return nil })
	if err := ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","id":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := ws.ReadMessage(); err != nil || !strings.Contains(string(b), `"pong"`) {
		t.Fatalf("read %s (%v), want the pong message", b, err)
	}
	select {
	case s := <-ponged:
		if s != "hi" {
			t.Errorf("pong payload %q, want hi", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong to the client's ping")
	}
	read := make(chan struct{})
	go func() { // read on, for the heartbeat's pings
		defer close(read)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for range 2 {
		select {
		case <-pinged:
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat ping")
		}
	}
	ws.Close()
	<-read

	ws = dial()
	if err := ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(ws); code != websocket.CloseNormalClosure {
		t.Errorf("the server answered the client's 1000 with %d", code)
	}
	ws.Close()

	ws = dial()
	if _, err := ws.NetConn().Write(maskedFrame(0xA0|websocket.TextMessage, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(ws); code != shared.CloseProtocolError {
		t.Errorf("a frame with RSV2 closed with %d, want 1002", code)
	}
	ws.Close()

	ws = dial()
	if err := ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 200)); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(ws); code != shared.CloseTooBig {
		t.Errorf("a message over the read limit closed with %d, want 1009", code)
	}
	ws.Close()

	l.mu.Lock()
	defer l.mu.Unlock()
	for _, stack := range l.bad {
		t.Errorf("a socket write not made by the writer goroutine:\n%s", stack)
	}
	t.Logf("%d socket writes, %d not by the writer", len(l.writes), len(l.bad))
}
