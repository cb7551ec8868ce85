package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/shared"
)

// countingListener counts the Write calls (one write(2) each on loopback) on
// the connections it accepts.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, writes: l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// fanOut is a server with subscribers connections whose clients read and
// count every frame, for the writer benchmarks.
type fanOut struct {
	srv     *Server
	hs      *httptest.Server
	conns   []*Conn
	clients []*websocket.Conn
	writes  atomic.Int64 // socket writes by the server
	got     atomic.Int64 // frames received by all clients
	want    atomic.Int64 // got value at which done is signalled
	done    chan struct{}
	wg      sync.WaitGroup

	checkOrder bool         // decode every frame and check the ids rise
	outOfOrder atomic.Int64 // frames whose id was not the previous + 1
}

func newFanOut(tb testing.TB, subscribers, sendQueue int, checkOrder bool, obs Observer) *fanOut {
	tb.Helper()
	f := &fanOut{done: make(chan struct{}, 1), checkOrder: checkOrder}
	var mu sync.Mutex
	connected := make(chan struct{}, subscribers)
	var err error
	f.srv, err = New(Config{
		Logger:          slog.New(slog.DiscardHandler),
		Authenticate:    InsecureQueryIdentity,
		SendQueue:       sendQueue,
		MaxConnsPerUser: -1,
		MaxConnsPerIP:   -1,
		MessageRate:     -1,
		Observer:        obs,
		OnConnect: func(_ context.Context, e ConnectEvent) error {
			c := e.Conn
			mu.Lock()
			f.conns = append(f.conns, c)
			mu.Unlock()
			connected <- struct{}{}
			return nil
		},
	})
	if err != nil {
		tb.Fatal(err)
	}

	f.hs = httptest.NewUnstartedServer(f.srv)
	f.hs.Listener = countingListener{Listener: f.hs.Listener, writes: &f.writes}
	f.hs.Start()
	url := "ws" + strings.TrimPrefix(f.hs.URL, "http") + "/ws?user="
	for i := range subscribers {
		ws, _, err := websocket.DefaultDialer.Dial(fmt.Sprint(url, "u", i), nil)
		if err != nil {
			tb.Fatalf("dial subscriber %d: %v", i, err)
		}
		if _, _, err := ws.ReadMessage(); err != nil { // welcome
			tb.Fatalf("subscriber %d: no welcome: %v", i, err)
		}
		f.clients = append(f.clients, ws)
		f.wg.Add(1)
		go f.read(ws)
	}
	for range subscribers {
		select {
		case <-connected:
		case <-time.After(10 * time.Second):
			tb.Fatal("subscribers did not connect")
		}
	}
	// A welcome is counted in Stats just after its write returns, which
	// can be after its client has read it: wait until every welcome is
	// counted, or a caller's snapshot of Stats could count one as its own
	// frame later (TestWriterCoalesces saw 201 of its 200).
	deadline := time.Now().Add(10 * time.Second)
	for f.srv.localStats().Stats.MessagesOut < uint64(subscribers) {
		if time.Now().After(deadline) {
			tb.Fatalf("Stats.MessagesOut = %d after the %d welcomes were read", f.srv.localStats().Stats.MessagesOut, subscribers)
		}
		time.Sleep(time.Millisecond)
	}
	return f
}

// read counts the frames ws receives until it closes.
func (f *fanOut) read(ws *websocket.Conn) {
	defer f.wg.Done()
	var last uint64
	for {
		_, r, err := ws.NextReader()
		if err != nil {
			return
		}
		if f.checkOrder {
			b, err := io.ReadAll(r)
			if err != nil {
				return
			}
			env, err := shared.DecodeEnvelope(b)
			if err != nil || env.ID != last+1 {
				f.outOfOrder.Add(1)
			}
			last = env.ID
		} else if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
		if f.got.Add(1) == f.want.Load() {
			f.done <- struct{}{}
		}
	}
}

// publish queues each frame to every connection and waits until every
// client has received them all.
func (f *fanOut) publish(tb testing.TB, frames []*outFrame) {
	f.want.Add(int64(len(frames) * len(f.conns)))
	for _, fr := range frames {
		for _, c := range f.conns {
			if err := c.enqueue(fr); err != nil {
				tb.Fatalf("enqueue: %v", err)
			}
		}
	}
	select {
	case <-f.done:
	case <-time.After(30 * time.Second):
		tb.Fatalf("clients received %d of %d frames", f.got.Load(), f.want.Load())
	}
}

func (f *fanOut) close(tb testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		tb.Errorf("Shutdown: %v", err)
	}
	for _, ws := range f.clients {
		_ = ws.Close()
	}
	f.wg.Wait()
	f.hs.Close()
}

// BenchmarkWriter measures the write path of a fan-out: one prepared frame
// (128 bytes of chat) queued to every one of 100 connections per op, in
// bursts of 1 (each message is delivered everywhere before the next is
// queued: nothing to coalesce), 16 and 128 messages. It reports ns per
// delivery (one frame to one connection) and frames per socket write.
func BenchmarkWriter(b *testing.B) {
	const subscribers = 100
	msg, err := prepare(shared.Envelope{}, testmsg.ChatMessage{Room: "bench", Text: strings.Repeat("x", 128)})
	if err != nil {
		b.Fatal(err)
	}
	for _, burst := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("burst=%d", burst), func(b *testing.B) {
			f := newFanOut(b, subscribers, 1024, false, nil)
			defer f.close(b)
			frames := make([]*outFrame, burst)
			for i := range frames {
				frames[i] = msg
			}
			writes0 := f.writes.Load()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			sent := 0
			for sent < b.N {
				n := min(burst, b.N-sent)
				f.publish(b, frames[:n])
				sent += n
			}
			elapsed := time.Since(start)
			b.StopTimer()
			deliveries := float64(sent * subscribers)
			b.ReportMetric(float64(elapsed.Nanoseconds())/deliveries, "ns/delivery")
			b.ReportMetric(deliveries/float64(f.writes.Load()-writes0), "frames/write")
		})
	}
}

// TestWriterCoalesces checks that a backlog goes out in fewer socket writes
// than frames, in order, and is counted in Stats.
func TestWriterCoalesces(t *testing.T) {
	obs := &batchCounter{}
	f := newFanOut(t, 1, 1024, true, obs)
	defer f.close(t)
	c := f.conns[0]
	const n = 200
	frames := make([]*outFrame, n)
	for i := range frames {
		fr, err := encode(shared.Envelope{ID: uint64(i + 1)}, shared.Pong{})
		if err != nil {
			t.Fatal(err)
		}
		frames[i] = fr
	}
	writes0 := f.writes.Load()
	out0 := f.srv.localStats().Stats.MessagesOut
	f.want.Add(n)
	c.q.mu.Lock() // hold the writer off while all n are queued
	for _, fr := range frames {
		c.q.data = append(c.q.data, fr)
		c.q.unwritten++
	}
	c.q.mu.Unlock()
	c.q.signal()
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("client received %d of %d frames", f.got.Load(), n)
	}
	writes := f.writes.Load() - writes0
	t.Logf("%d frames in %d socket writes", n, writes)
	if bad := f.outOfOrder.Load(); bad > 0 {
		t.Errorf("%d of %d frames arrived out of order", bad, n)
	}
	if writes >= n/10 {
		t.Errorf("%d queued frames took %d socket writes, want them coalesced (fewer than %d)", n, writes, n/10)
	}
	// Counted just after the write returns, so possibly after the client
	// read the frames: polled, with a deadline.
	deadline := time.Now().Add(5 * time.Second)
	for f.srv.localStats().Stats.MessagesOut-out0 < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := f.srv.localStats().Stats.MessagesOut - out0; got != n {
		t.Errorf("Stats.MessagesOut grew by %d, want %d", got, n)
	}
	pongs, calls := obs.pongs()
	t.Logf("BatchObserver: %d pong frames in %d MessagesOut calls", pongs, calls)
	if pongs != n || calls >= n/10 {
		t.Errorf("BatchObserver saw %d pong frames in %d calls, want all %d in a few", pongs, calls, n)
	}
}

// batchCounter is a BatchObserver counting the pong frames and calls.
type batchCounter struct {
	nopObserver
	mu            sync.Mutex
	frames, calls int
}

func (o *batchCounter) MessagesOut(typ string, frames, _ int) {
	if typ != "pong" {
		return
	}
	o.mu.Lock()
	o.frames += frames
	o.calls++
	o.mu.Unlock()
}

func (o *batchCounter) pongs() (frames, calls int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.frames, o.calls
}

// TestIdleWriterParks: a connection with nothing to write for a heartbeat
// interval has no writer goroutine, yet keeps getting pings, and a message
// queued later still arrives.
func TestIdleWriterParks(t *testing.T) {
	ws, conn := serveOne(t, 50*time.Millisecond, "idle")
	var pings atomic.Int64
	ws.SetPingHandler(func(string) error { pings.Add(1); return nil })
	frames := make(chan []byte, 8)
	go func() {
		defer close(frames)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			frames <- b
		}
	}()
	next := func(what string) []byte {
		t.Helper()
		select {
		case b, ok := <-frames:
			if !ok {
				t.Fatalf("connection closed while waiting for %s", what)
			}
			return b
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s within 5s", what)
		}
		return nil
	}
	next("welcome")
	waitUntil(t, "the connection is registered", func() bool { return conn.Load() != nil })
	c := conn.Load()
	running := c.q.runs
	waitUntil(t, "the idle connection's writer parked", func() bool { return !running() })
	p0 := pings.Load()
	waitUntil(t, "two more pings reach the parked connection", func() bool { return pings.Load() >= p0+2 })
	if err := c.Send(shared.Pong{}); err != nil {
		t.Fatalf("Send after parking: %v", err)
	}
	if b := next("the message sent after parking"); !strings.Contains(string(b), `"pong"`) {
		t.Errorf("got %s, want the pong sent after the writer parked", b)
	}
	t.Logf("%d pings; writer running after the send: %v", pings.Load(), running())
}

// TestWriterParksWhenDone: the writer returns as soon as it has written what
// was queued, not a heartbeat later (the heartbeat here is an hour), so that
// a connection storm leaves no writer goroutine per connection behind; the
// next message starts another, and a burst queued while one writes still
// arrives whole and in order.
func TestWriterParksWhenDone(t *testing.T) {
	ws, conn := serveOne(t, time.Hour, "w")
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, b, err := ws.ReadMessage(); err != nil || !strings.Contains(string(b), `"welcome"`) {
		t.Fatalf("first frame %s, %v; want welcome", b, err)
	}
	waitUntil(t, "the connection is registered", func() bool { return conn.Load() != nil })
	c := conn.Load()
	waitUntil(t, "the writer parked after welcome", func() bool { return !c.q.runs() })
	const n = 50
	for i := range n {
		if err := c.sendEnv(shared.Envelope{ID: uint64(i + 1)}, shared.Pong{}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	for i := range n {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if want := fmt.Sprintf(`"id":%d,`, i+1); !strings.Contains(string(b), want) {
			t.Fatalf("frame %d is %s, want id %d", i, b, i+1)
		}
	}
	waitUntil(t, "the writer parked after the burst", func() bool { return !c.q.runs() })
}

// serveOne starts a server with the given heartbeat that keeps the
// connection it accepts, and dials it as user (?user=). The socket, then
// the server, close when the test ends.
func serveOne(t *testing.T, heartbeat time.Duration, user string) (*websocket.Conn, *atomic.Pointer[Conn]) {
	t.Helper()
	conn := new(atomic.Pointer[Conn])
	srv, err := New(Config{
		Logger:       slog.New(slog.DiscardHandler),
		Authenticate: InsecureQueryIdentity,
		Heartbeat:    heartbeat,
		OnConnect:    func(_ context.Context, e ConnectEvent) error { conn.Store(e.Conn); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws?user="+url.QueryEscape(user), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws, conn
}
