package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
	"golang.org/x/time/rate"
)

func TestTokenExpiry(t *testing.T) {
	// The handshake's ?ttl= is how long its identity stays valid.
	e := startServer(t, server.Config{Authenticate: func(r *http.Request) (server.Identity, error) {
		id, err := server.InsecureQueryIdentity(r)
		if err != nil {
			return id, err
		}
		ttl, err := time.ParseDuration(r.URL.Query().Get("ttl"))
		if err != nil {
			return id, fmt.Errorf("ttl: %w", err)
		}
		id.Expires = time.Now().Add(ttl)
		return id, nil
	}})

	t.Run("expiry closes with 1008", func(t *testing.T) {
		const ttl = 300 * time.Millisecond
		start := time.Now()
		c := e.dialURL("alice", e.wsURL("alice")+"&ttl="+ttl.String())
		c.ping() // usable until it expires
		ce := c.waitClose()
		took := time.Since(start)
		if ce.Code != shared.ClosePolicyViolation || ce.Text != "token expired" {
			t.Errorf("closed with %d %q, want %d \"token expired\"", ce.Code, ce.Text, shared.ClosePolicyViolation)
		}
		if took < ttl || took > ttl+2*time.Second {
			t.Errorf("closed %v after connecting, want at the %v expiry", took, ttl)
		}
		if d := e.waitDisconnect(c.welcome.Conn); d.code != shared.ClosePolicyViolation {
			t.Errorf("OnDisconnect got %d, want %d", d.code, shared.ClosePolicyViolation)
		}
	})
	t.Run("expired token is refused with 401", func(t *testing.T) {
		code, body := httpStatus(t, e.wsURL("bob")+"&ttl=-1s", nil)
		if code != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthorized"`) || !strings.Contains(body, "token expired") {
			t.Errorf("expired token got %d %s, want 401 unauthorized \"token expired\"", code, body)
		}
	})
	t.Run("closing first stops the expiry", func(t *testing.T) {
		// The expiry timer of an hour must not outlive the connection
		// (goleak checks no goroutine is left; OnDisconnect is the 1000).
		c := e.dialURL("carol", e.wsURL("carol")+"&ttl=1h")
		c.ping()
		c.close()
		if d := e.waitDisconnect(c.welcome.Conn); d.code != shared.CloseNormal {
			t.Errorf("OnDisconnect got %d, want %d", d.code, shared.CloseNormal)
		}
	})
}

func TestMessageRateLimit(t *testing.T) {
	const burst = 5
	obs := newRecordingObserver()
	// One token an hour: only the burst passes during the test.
	e := startServer(t, server.Config{MessageRate: rate.Every(time.Hour), MessageBurst: burst, Observer: obs})
	c := e.dial("alice")
	for range burst {
		c.ping()
	}
	// Over the limit: refused with rate_limited and the request id, but
	// still connected.
	id := c.request(shared.Ping{})
	if got := expectReply[shared.Error](c, id); got.Code != shared.CodeRateLimited {
		t.Fatalf("message over the limit got error %q, want %q", got.Code, shared.CodeRateLimited)
	}
	// Going on: refusal number burst+1 within the window closes with 1008.
	for i := 2; i <= burst+1; i++ {
		id := c.request(shared.Ping{})
		if got := expectReply[shared.Error](c, id); got.Code != shared.CodeRateLimited {
			t.Fatalf("refused message %d got error %q, want %q", i, got.Code, shared.CodeRateLimited)
		}
	}
	ce := c.waitClose()
	if ce.Code != shared.ClosePolicyViolation || ce.Text != "rate limit exceeded" {
		t.Errorf("a client that keeps flooding was closed with %d %q, want %d \"rate limit exceeded\"",
			ce.Code, ce.Text, shared.ClosePolicyViolation)
	}
	if got := obs.count("rate_limited"); got != burst+1 {
		t.Errorf("Observer.RateLimited called %d times, want %d", got, burst+1)
	}

	t.Run("ping frames count too", func(t *testing.T) {
		wc := e.dialRaw("bob", 0)
		pongs := 0
		wc.SetPongHandler(func(string) error { pongs++; return nil })
		for i := range 2*burst + 1 {
			if err := wc.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(waitTime)); err != nil {
				t.Fatalf("ping %d: %v", i+1, err)
			}
		}
		ce, _ := readUntilClose(t, wc)
		if ce.Code != shared.ClosePolicyViolation {
			t.Errorf("a ping flood was closed with %d %q, want %d", ce.Code, ce.Text, shared.ClosePolicyViolation)
		}
		if pongs != burst {
			t.Errorf("%d of %d pings answered, want the burst of %d", pongs, 2*burst+1, burst)
		}
	})
	t.Run("negative rate is unlimited", func(t *testing.T) {
		e := startServer(t, server.Config{MessageRate: -1, MessageBurst: 1})
		c := e.dial("bob")
		const n = 200 // well over the burst, under the send queue of 256 pongs
		for i := uint64(1); i <= n; i++ {
			c.send(i, shared.Ping{})
		}
		for i := uint64(1); i <= n; i++ {
			expectReply[shared.Pong](c, i)
		}
	})
}

func TestConnectionLimits(t *testing.T) {
	type dial struct {
		user, ip string
		want     int // HTTP status: 101 or 429
	}
	tests := []struct {
		name  string
		cfg   server.Config
		dials []dial // kept open in order
	}{
		{"per user", server.Config{MaxConnsPerUser: 2}, []dial{
			{"alice", "", 101}, {"alice", "", 101}, {"alice", "", 429}, {"bob", "", 101},
		}},
		{"per IP from RemoteAddr", server.Config{MaxConnsPerIP: 2}, []dial{
			{"alice", "", 101}, {"bob", "", 101}, {"carol", "", 429},
		}},
		{"per IP from ClientIP", server.Config{MaxConnsPerIP: 1, ClientIP: func(r *http.Request) string { return r.Header.Get("X-Client-IP") }}, []dial{
			{"alice", "10.0.0.1", 101}, {"bob", "10.0.0.1", 429}, {"bob", "10.0.0.2", 101},
		}},
		{"negative is unlimited", server.Config{MaxConnsPerUser: -1, MaxConnsPerIP: -1}, []dial{
			{"alice", "", 101}, {"alice", "", 101}, {"alice", "", 101}, {"alice", "", 101},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startServer(t, tt.cfg)
			var open []*websocket.Conn
			for i, d := range tt.dials {
				wc, resp := dialWithIP(t, e, d.user, d.ip)
				if wc != nil {
					open = append(open, wc)
				}
				if resp.StatusCode != d.want {
					t.Fatalf("dial %d (%s from %q): status %d, want %d", i+1, d.user, d.ip, resp.StatusCode, d.want)
				}
				if d.want == http.StatusTooManyRequests {
					checkTooMany(t, resp)
				}
			}
			// A slot is free again once a connection has closed.
			if len(open) == 0 {
				return
			}
			_ = open[0].Close()
			first := tt.dials[0]
			tethertest.WaitUntil(t, "a closed connection frees its slot", func() bool {
				wc, resp := dialWithIP(t, e, first.user, first.ip)
				if wc != nil {
					_ = wc.Close()
				}
				return resp.StatusCode == http.StatusSwitchingProtocols
			})
		})
	}
}

// dialWithIP dials as user with X-Client-IP: ip (when set) and returns the
// connection (nil when refused) and the handshake's response.
func dialWithIP(t *testing.T, e *testEnv, user, ip string) (*websocket.Conn, *http.Response) {
	t.Helper()
	h := http.Header{}
	if ip != "" {
		h.Set("X-Client-IP", ip)
	}
	d := websocket.Dialer{HandshakeTimeout: waitTime}
	wc, resp, err := d.Dial(e.wsURL(user), h)
	if resp == nil {
		t.Fatalf("dial as %s: %v", user, err)
	}
	if wc != nil {
		t.Cleanup(func() { _ = wc.Close() })
	}
	return wc, resp
}

// checkTooMany checks a 429 refusal: Retry-After and a JSON rate_limited
// error.
func checkTooMany(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After: the client cannot tell when to try again")
	}
	var e shared.Error
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &e); err != nil || e.Code != shared.CodeRateLimited {
		t.Errorf("429 body %q, want a JSON error with code %q", body, shared.CodeRateLimited)
	}
}

func TestHandshakeTimeoutDropsHalfRequests(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv, err := server.New(server.Config{HandshakeTimeout: timeout, Authenticate: server.InsecureQueryIdentity, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	srv.ConfigureHTTPServer(hs.Config)
	if hs.Config.ReadHeaderTimeout != timeout {
		t.Fatalf("ConfigureHTTPServer set ReadHeaderTimeout %v, want %v", hs.Config.ReadHeaderTimeout, timeout)
	}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	addr := hs.Listener.Addr().String()
	tests := []struct {
		name string
		sent string
	}{
		{"nothing sent", ""},
		{"half a request", "GET /ws?user=x HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			start := time.Now()
			if _, err := io.WriteString(nc, tt.sent); err != nil {
				t.Fatal(err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(waitTime))
			n, err := io.Copy(io.Discard, nc)
			took := time.Since(start)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %v: a half handshake holds a server connection", waitTime)
			}
			if took > timeout+time.Second {
				t.Errorf("dropped after %v, want within the %v handshake timeout", took, timeout)
			}
			t.Logf("dropped after %v (%d bytes answered)", took, n)
		})
	}
	// The ordinary handshake still works.
	wc, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?user=x", nil)
	if err != nil {
		t.Fatalf("complete handshake: %v", err)
	}
	_ = wc.Close()
}

// countingConn counts the bytes written to a connection.
type countingConn struct {
	net.Conn
	written atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

func TestCompressionBoundsTheDecompressedMessage(t *testing.T) {
	obs := newRecordingObserver()
	e := startServer(t, server.Config{Compression: true, Observer: obs})
	tests := []struct {
		name      string
		compress  bool
		payload   []byte
		wantReply uint64 // a pong with this id, then still open
		wantClose int
	}{
		{"compressed, 64 KiB", true, paddedPing(1, server.DefaultReadLimit), 1, 0},
		{"compressed bomb, 4 MiB of zeros", true, make([]byte, 4<<20), 0, shared.CloseTooBig},
		{"compressed, 64 KiB + 1", true, paddedPing(2, server.DefaultReadLimit+1), 0, shared.CloseTooBig},
		{"uncompressed, 64 KiB", false, paddedPing(3, server.DefaultReadLimit), 3, 0},
		{"uncompressed, 64 KiB + 1", false, paddedPing(4, server.DefaultReadLimit+1), 0, shared.CloseTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cc *countingConn
			d := websocket.Dialer{
				HandshakeTimeout:  waitTime,
				EnableCompression: tt.compress,
				NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					cc = &countingConn{Conn: nc}
					return cc, err
				},
			}
			wc, resp, err := d.Dial(e.wsURL("alice"), nil)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer wc.Close()
			negotiated := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
			if negotiated != tt.compress {
				t.Fatalf("permessage-deflate negotiated: %v, want %v", negotiated, tt.compress)
			}
			before := cc.written.Load()
			if err := wc.WriteMessage(websocket.TextMessage, tt.payload); err != nil {
				t.Fatalf("write: %v", err)
			}
			t.Logf("%d bytes sent as %d on the wire", len(tt.payload), cc.written.Load()-before)
			_ = wc.SetReadDeadline(time.Now().Add(waitTime))
			for {
				_, data, err := wc.ReadMessage()
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					if ce.Code != tt.wantClose {
						t.Errorf("closed with %d %q, want %d", ce.Code, ce.Text, tt.wantClose)
					}
					return
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("neither an answer nor a close within %v: the message was swallowed", waitTime)
				}
				if err != nil {
					t.Fatalf("connection dropped without a close frame: %v", err)
				}
				env, err := shared.DecodeEnvelope(data)
				if err == nil && tt.wantReply != 0 && env.ID == tt.wantReply {
					if env.Type != shared.TypeOf[shared.Pong]() {
						t.Errorf("request %d answered with %s, want pong", tt.wantReply, env.Type)
					}
					return
				}
			}
		})
	}
	// Compressed frames went out too, and were counted before compression.
	if obs.count("out welcome") == 0 {
		t.Error("Observer saw no welcome go out")
	}
}

func TestCorruptCompressedDataCloses1007(t *testing.T) {
	e := startServer(t, server.Config{Compression: true})
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	d := ws.Dialer{Extensions: []httphead.Option{wsflate.DefaultParameters.Option()}}
	nc, br, hs, err := d.Dial(ctx, e.wsURL("x"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer nc.Close()
	if len(hs.Extensions) == 0 {
		t.Fatal("permessage-deflate was not negotiated")
	}
	fc := &frameConn{t: t, nc: nc, r: nc}
	if br != nil {
		fc.r = io.MultiReader(br, nc)
	}
	// 0xFF starts a final deflate block of the reserved type 11.
	f := ws.NewTextFrame([]byte{0xff, 0xff, 0xff, 0xff})
	f.Header.Rsv = ws.Rsv(true, false, false)
	fc.write(f, true)
	if got := fc.readClose(); got != shared.CloseInvalidPayload {
		t.Errorf("corrupt compressed message closed with %d, want %d", got, shared.CloseInvalidPayload)
	}
}

// recordingObserver is a server.Observer that records every event as a
// string ("handshake ok", "in ping 23", "out pong 20", "closed 1000",
// "dropped closed", "slow_consumer", "heartbeat_timeout", "rate_limited").
type recordingObserver struct {
	mu     sync.Mutex
	events []string
	took   []time.Duration
}

var _ server.Observer = (*recordingObserver)(nil)

func newRecordingObserver() *recordingObserver { return &recordingObserver{} }

func (o *recordingObserver) add(ev string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, ev)
}

func (o *recordingObserver) HandshakeDone(outcome string, took time.Duration) {
	o.mu.Lock()
	o.took = append(o.took, took)
	o.mu.Unlock()
	o.add("handshake " + outcome)
}
func (o *recordingObserver) ConnClosed(code int)          { o.add(fmt.Sprint("closed ", code)) }
func (o *recordingObserver) MessageIn(typ string, n int)  { o.add(fmt.Sprintf("in %s %d", typ, n)) }
func (o *recordingObserver) MessageOut(typ string, n int) { o.add(fmt.Sprintf("out %s %d", typ, n)) }
func (o *recordingObserver) Dropped(reason string)        { o.add("dropped " + reason) }
func (o *recordingObserver) SlowConsumer()                { o.add("slow_consumer") }
func (o *recordingObserver) HeartbeatTimeout()            { o.add("heartbeat_timeout") }
func (o *recordingObserver) RateLimited()                 { o.add("rate_limited") }
func (o *recordingObserver) Types(*shared.Registry)       {}

// count returns how many events are ev or start with ev + " ".
func (o *recordingObserver) count(ev string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, e := range o.events {
		if e == ev || strings.HasPrefix(e, ev+" ") {
			n++
		}
	}
	return n
}

// waitCount waits until count(ev) reaches n.
func (o *recordingObserver) waitCount(t *testing.T, ev string, n int) {
	t.Helper()
	tethertest.WaitUntil(t, fmt.Sprintf("the Observer saw %d× %q", n, ev), func() bool { return o.count(ev) >= n })
}

// encoded is the frame the server sends for m with request id.
func encoded(t *testing.T, id uint64, m shared.Message) []byte {
	t.Helper()
	b, err := shared.Encode(shared.Envelope{ID: id}, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestObserverReceivesEvents(t *testing.T) {
	t.Run("handshakes", func(t *testing.T) {
		obs := newRecordingObserver()
		e := startServer(t, server.Config{Observer: obs, MaxConnsPerUser: 1})
		base := "ws" + strings.TrimPrefix(e.hs.URL, "http") + "/ws"
		e.dial("alice")
		steps := []struct {
			url     string
			origin  string
			outcome string
		}{
			{base + "?user=bob", "", "ok"},
			{base, "", "unauthorized"},
			{base + "?user=carol", "http://evil.example", "forbidden_origin"},
			{base + "?user=alice", "", "too_many"},
		}
		for _, s := range steps {
			h := http.Header{}
			if s.origin != "" {
				h.Set("Origin", s.origin)
			}
			httpStatus(t, s.url, h)
		}
		// Not a WebSocket handshake at all: the upgrade fails.
		resp, err := http.Get(e.hs.URL + "/ws?user=dave")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for outcome, n := range map[string]int{"ok": 2, "unauthorized": 1, "forbidden_origin": 1, "too_many": 1, "failed": 1} {
			obs.waitCount(t, "handshake "+outcome, n)
		}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		for _, d := range obs.took {
			if d <= 0 || d > waitTime {
				t.Errorf("handshake latency %v, want above 0 and below %v", d, waitTime)
			}
		}
	})
	t.Run("messages, rate limit and close", func(t *testing.T) {
		obs := newRecordingObserver()
		e := startServer(t, server.Config{Observer: obs, MessageRate: rate.Every(time.Hour), MessageBurst: 3})
		c := e.dial("alice")
		ping := encoded(t, 1, shared.Ping{})
		unknown := []byte(`{"type":"nope.x","id":2}`)
		c.sendRaw(websocket.TextMessage, ping)
		expectReply[shared.Pong](c, 1)
		c.sendRaw(websocket.TextMessage, unknown)
		expectReply[shared.Error](c, 2)
		c.sendRaw(websocket.BinaryMessage, []byte{1, 2, 3})
		expect[shared.Error](c)
		c.sendRaw(websocket.TextMessage, encoded(t, 4, shared.Ping{})) // the 4th: over the burst
		if got := expectReply[shared.Error](c, 4); got.Code != shared.CodeRateLimited {
			t.Fatalf("4th message got %q, want %q", got.Code, shared.CodeRateLimited)
		}
		c.close()
		e.waitDisconnect(c.welcome.Conn)
		obs.waitCount(t, "closed", 1)
		want := map[string]int{
			fmt.Sprintf("in ping %d", len(ping)): 2, // the 4th is counted in, then refused
			fmt.Sprintf("in  %d", len(unknown)):  1, // unknown type: no type name
			"in  3":                              1, // binary
			"out welcome":                        1,
			fmt.Sprintf("out pong %d", len(encoded(t, 1, shared.Pong{}))): 1,
			"out error":    3,
			"rate_limited": 1,
			"closed 1000":  1,
		}
		for ev, n := range want {
			if got := obs.count(ev); got != n {
				t.Errorf("Observer saw %q %d times, want %d", ev, got, n)
			}
		}
	})
	t.Run("heartbeat timeout", func(t *testing.T) {
		obs := newRecordingObserver()
		e := startServer(t, server.Config{Observer: obs, Heartbeat: 50 * time.Millisecond, HeartbeatTimeout: 200 * time.Millisecond})
		e.dialRaw("mallory", 0) // never reads, never answers pings
		obs.waitCount(t, "heartbeat_timeout", 1)
		obs.waitCount(t, "closed 4003", 1)
	})
	t.Run("slow consumer and drops", func(t *testing.T) {
		obs := newRecordingObserver()
		conns := make(chan *server.Conn, 1)
		// The short write timeout ends the write the stalled socket blocks.
		e := startServer(t, server.Config{Observer: obs, SendQueue: 1, WriteTimeout: 200 * time.Millisecond,
			OnConnect: func(_ context.Context, e server.ConnectEvent) error { conns <- e.Conn; return nil }})
		e.dialRaw("slow", 0)
		c := <-conns
		big := testmsg.Notification{Title: "flood", Body: strings.Repeat("x", 32<<10)}
		for i := 0; i < 10000 && c.Send(big) == nil; i++ {
		}
		if err := c.Send(big); !errors.Is(err, server.ErrClosed) {
			t.Fatalf("Send after the overflow: %v, want ErrClosed", err)
		}
		if obs.count("slow_consumer") != 1 || obs.count("dropped slow_consumer") < 1 || obs.count("dropped closed") < 1 {
			t.Errorf("Observer saw slow_consumer %d×, dropped slow_consumer %d×, dropped closed %d×; want 1, ≥1, ≥1",
				obs.count("slow_consumer"), obs.count("dropped slow_consumer"), obs.count("dropped closed"))
		}
		obs.waitCount(t, "closed 4002", 1)
	})
}
