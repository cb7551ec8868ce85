//go:build !js

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/shared"
)

// wsServer starts an HTTP server on 127.0.0.1:0 whose /ws endpoint upgrades
// and hands each connection to serve. It returns the ws:// URL.
func wsServer(t *testing.T, serve func(r *http.Request, ws *websocket.Conn)) string {
	t.Helper()
	// Handlers are counted under a mutex, not a WaitGroup: the race
	// detector cannot see that a handler's start precedes the cleanup (the
	// ordering goes through the network).
	var mu sync.Mutex
	started := 0
	finished := make(chan struct{}, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		started++
		mu.Unlock()
		defer func() { finished <- struct{}{} }()
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		serve(r, ws)
	}))
	t.Cleanup(func() {
		srv.Close() // does not wait for hijacked (WebSocket) connections
		mu.Lock()
		n := started
		mu.Unlock()
		for range n {
			select {
			case <-finished:
			case <-time.After(waitLimit):
				t.Errorf("a WebSocket handler did not return within %s", waitLimit)
				return
			}
		}
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

func frame(t *testing.T, env shared.Envelope, m shared.Message) []byte {
	t.Helper()
	b, err := shared.Encode(env, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNativeTransportFramesAndClose(t *testing.T) {
	serverErr := make(chan error, 1)
	url := wsServer(t, func(r *http.Request, ws *websocket.Conn) {
		if r.Header.Get("X-Test") != "yes" {
			serverErr <- errors.New("handshake header missing")
			return
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"welcome","data":{"conn":"n1","user":"alice","heartbeat_ms":1000}}`))
		_ = ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}) // not part of the protocol: skipped
		_, m, err := ws.ReadMessage()
		if err != nil {
			serverErr <- err
			return
		}
		_ = ws.WriteMessage(websocket.TextMessage, m)
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(shared.CloseKicked, "bye"), time.Now().Add(time.Second))
		_, _, err = ws.ReadMessage() // the client's close
		serverErr <- err
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	sock, err := NativeTransport{Header: http.Header{"X-Test": {"yes"}}}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer sock.Close(shared.CloseNormal, "")
	if got, err := sock.Read(ctx); err != nil || !strings.Contains(string(got), `"welcome"`) {
		t.Fatalf("first Read = %s, %v; want the welcome", got, err)
	}
	if err := sock.Write(ctx, []byte(`{"type":"hello"}`)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if got, err := sock.Read(ctx); err != nil || string(got) != `{"type":"hello"}` {
		t.Fatalf("echo Read = %s, %v", got, err)
	}
	_, err = sock.Read(ctx)
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != shared.CloseKicked || ce.Reason != "bye" {
		t.Fatalf("Read after the server closed = %v, want *CloseError 4000 bye", err)
	}
	select {
	case err := <-serverErr:
		var wce *websocket.CloseError
		if !errors.As(err, &wce) {
			t.Errorf("server saw %v, want the client's close frame", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("server did not finish")
	}
}

func TestNativeTransportReadHonoursContext(t *testing.T) {
	release := make(chan struct{})
	url := wsServer(t, func(r *http.Request, ws *websocket.Conn) {
		<-release // send nothing
	})
	defer close(release)
	sock, err := NativeTransport{}.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer sock.Close(shared.CloseNormal, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := sock.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read with a deadline = %v, want DeadlineExceeded", err)
	}

	sock2, err := NativeTransport{}.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer sock2.Close(shared.CloseNormal, "")
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := sock2.Read(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read with a cancelled context = %v, want Canceled", err)
	}
}

func TestNativeTransportHandshakeRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "who are you", http.StatusUnauthorized)
	}))
	defer srv.Close()
	_, err := NativeTransport{}.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Dial = %v, want an error naming HTTP 401", err)
	}
}

// TestNativeClient runs the whole client over a real WebSocket: join with a
// replay, a room message, then Close with code 1000.
func TestNativeClient(t *testing.T) {
	closed := make(chan int, 1)
	url := wsServer(t, func(r *http.Request, ws *websocket.Conn) {
		_ = ws.WriteMessage(websocket.TextMessage, frame(t, shared.Envelope{}, shared.Welcome{Conn: "n1", User: "alice", HeartbeatMS: 60000}))
		for {
			_, m, err := ws.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					closed <- ce.Code
				}
				return
			}
			env, err := shared.DecodeEnvelope(m)
			if err != nil || env.Type != "join" {
				continue
			}
			_ = ws.WriteMessage(websocket.TextMessage, frame(t, shared.Envelope{ID: env.ID}, shared.Joined{Room: "lobby", Epoch: "e1", Seq: 1, Replayed: 1}))
			_ = ws.WriteMessage(websocket.TextMessage, frame(t, shared.Envelope{Room: "lobby", Seq: 1}, testmsg.ChatMessage{Room: "lobby", User: "bob", Text: "hello"}))
		}
	})
	got := make(chan testmsg.ChatMessage, 1)
	c := newClient(t, Config{URL: url})
	On(c, func(m testmsg.ChatMessage) { got <- m })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()

	if _, err := c.Join(ctx, "lobby", 10); err != nil {
		t.Fatalf("Join: %v", err)
	}
	select {
	case m := <-got:
		if m.Text != "hello" {
			t.Errorf("got %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("no room message")
	}
	c.Close()
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	select {
	case code := <-closed:
		if code != shared.CloseNormal {
			t.Errorf("server saw close code %d, want 1000", code)
		}
	case <-ctx.Done():
		t.Fatal("server never saw the close frame")
	}
}

// TestNativeTransportHeaderFunc: every dial asks HeaderFunc for a fresh
// header (a refreshed token), and its error stops the dial.
func TestNativeTransportHeaderFunc(t *testing.T) {
	seen := make(chan string, 4)
	url := wsServer(t, func(r *http.Request, ws *websocket.Conn) {
		seen <- r.Header.Get("Authorization")
	})
	n := 0
	tr := NativeTransport{HeaderFunc: func(context.Context) (http.Header, error) {
		n++
		if n == 3 {
			return nil, errors.New("token service down")
		}
		return http.Header{"Authorization": {fmt.Sprintf("Bearer token-%d", n)}}, nil
	}}
	for i := 1; i <= 2; i++ {
		s, err := tr.Dial(context.Background(), url)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if got, want := <-seen, fmt.Sprintf("Bearer token-%d", i); got != want {
			t.Fatalf("dial %d sent Authorization %q, want %q", i, got, want)
		}
		_ = s.Close(1000, "")
	}
	if _, err := tr.Dial(context.Background(), url); err == nil || !strings.Contains(err.Error(), "token service down") {
		t.Fatalf("dial with a failing HeaderFunc = %v, want its error", err)
	}
}

// TestNativeTransportPongSurvivesStall: the network (or the process) stalls
// for longer than gorilla's one-second pong deadline just as the server
// pings; the pong goes out when the stall ends and the connection lives on.
// With gorilla's default ping handler the pong's write timed out and the
// read failed ("write tcp ...: i/o timeout"): under load, clients dropped
// healthy connections (TestConcurrentPushBroadcastHeartbeat, close code 0).
func TestNativeTransportPongSurvivesStall(t *testing.T) {
	const stall = 1500 * time.Millisecond // the network cannot take a byte for this long
	ponged := make(chan struct{})
	serverErr := make(chan error, 1)
	url := wsServer(t, func(r *http.Request, ws *websocket.Conn) {
		ws.SetPongHandler(func(string) error { close(ponged); return nil })
		if err := ws.WriteControl(websocket.PingMessage, []byte("hb"), time.Now().Add(waitLimit)); err != nil {
			serverErr <- err
			return
		}
		_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
		go func() {
			select {
			case <-ponged:
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"after"}`))
			case <-time.After(waitLimit):
			}
		}()
		_, _, err := ws.ReadMessage() // the pong, then the client's close
		serverErr <- err
	})
	var conn *stallConn
	d := *websocket.DefaultDialer
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn = &stallConn{Conn: c, stall: stall}
		return conn, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	sock, err := NativeTransport{Dialer: &d}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer sock.Close(shared.CloseNormal, "")
	conn.armed.Store(true) // the next write (the pong) stalls
	start := time.Now()
	got, err := sock.Read(ctx)
	if err != nil {
		t.Fatalf("Read after a %v stall of the pong's write: %v, want the connection alive", stall, err)
	}
	if string(got) != `{"type":"after"}` {
		t.Fatalf("Read = %s, want the frame the server sent after the pong", got)
	}
	t.Logf("pong written after a stall of %v; next frame read %v after the ping", stall, time.Since(start).Round(time.Millisecond))
	_ = sock.Close(shared.CloseNormal, "")
	select {
	case err := <-serverErr:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Errorf("server saw %v, want the client's close frame", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("server did not finish")
	}
}

// stallConn is a net.Conn whose next write, once armed, waits stall before
// it goes out, as a full socket would, and fails like one when its write
// deadline passes first.
type stallConn struct {
	net.Conn
	stall time.Duration
	armed atomic.Bool

	mu       sync.Mutex
	deadline time.Time // the write deadline
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) Write(p []byte) (int, error) {
	if c.armed.Swap(false) {
		c.mu.Lock()
		deadline := c.deadline
		c.mu.Unlock()
		writable := time.NewTimer(c.stall)
		defer writable.Stop()
		var expired <-chan time.Time
		if !deadline.IsZero() {
			e := time.NewTimer(time.Until(deadline))
			defer e.Stop()
			expired = e.C
		}
		select {
		case <-writable.C:
		case <-expired:
			return 0, os.ErrDeadlineExceeded
		}
	}
	return c.Conn.Write(p)
}
