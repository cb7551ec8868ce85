package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTime bounds every wait of these tests.
const waitTime = tethertest.Wait

// testEnv is a running server on 127.0.0.1:0 that records every
// OnDisconnect.
type testEnv struct {
	t    *testing.T
	ts   *tethertest.Server
	srv  *server.Server
	hs   *httptest.Server
	reg  *shared.Registry
	disc chan disconnect // every OnDisconnect
	seen []disconnect    // read from disc, not yet waited for
}

// disconnect is one OnDisconnect call.
type disconnect struct {
	conn, user string
	code       int
	reason     string
}

// startServer starts a server with cfg; setup runs before it accepts
// connections. It is shut down when the test ends.
func startServer(t *testing.T, cfg server.Config, setup ...func(*server.Server)) *testEnv {
	t.Helper()
	return startServerWith(t, cfg, 0, setup...)
}

// startServerWith is startServer with the send buffer of the server's
// sockets set to writeBuffer bytes (0: the system's default).
func startServerWith(t *testing.T, cfg server.Config, writeBuffer int, setup ...func(*server.Server)) *testEnv {
	t.Helper()
	e := newEnvWith(t, cfg, writeBuffer, setup...)
	t.Cleanup(e.ts.Close)
	return e
}

// newEnv starts a server the caller shuts down.
func newEnv(t *testing.T, cfg server.Config, setup ...func(*server.Server)) *testEnv {
	t.Helper()
	return newEnvWith(t, cfg, 0, setup...)
}

func newEnvWith(t *testing.T, cfg server.Config, writeBuffer int, setup ...func(*server.Server)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, disc: make(chan disconnect, 64)}
	onDisc := cfg.OnDisconnect
	cfg.OnDisconnect = func(d server.DisconnectEvent) {
		if onDisc != nil {
			onDisc(d)
		}
		e.disc <- disconnect{conn: d.Conn.ID(), user: d.Conn.User(), code: d.Code, reason: d.Reason}
	}
	e.ts = tethertest.NewUnstartedServer(t, cfg)
	e.srv, e.hs, e.reg = e.ts.Server, e.ts.HTTP, e.ts.Registry
	for _, f := range setup {
		f(e.srv)
	}
	if writeBuffer > 0 {
		e.hs.Listener = &smallBufferListener{Listener: e.hs.Listener, writeBuffer: writeBuffer}
	}
	e.hs.Start()
	return e
}

// smallBufferListener sets the send buffer of every accepted connection.
type smallBufferListener struct {
	net.Listener
	writeBuffer int
}

func (l *smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		err = c.(*net.TCPConn).SetWriteBuffer(l.writeBuffer)
	}
	return c, err
}

// wsURL is the server's WebSocket URL for user.
func (e *testEnv) wsURL(user string) string { return e.ts.URL(user) }

// waitDisconnect waits for the OnDisconnect of connection id.
func (e *testEnv) waitDisconnect(id string) disconnect {
	e.t.Helper()
	for i, d := range e.seen {
		if d.conn == id {
			e.seen = append(e.seen[:i], e.seen[i+1:]...)
			return d
		}
	}
	deadline := time.After(waitTime)
	for {
		select {
		case d := <-e.disc:
			if d.conn == id {
				return d
			}
			e.seen = append(e.seen, d)
		case <-deadline:
			e.t.Fatalf("connection %s: no OnDisconnect within %v", id, waitTime)
		}
	}
}

// received is one message read by a test client.
type received struct {
	env shared.Envelope
	msg shared.Message
	err error
}

// testClient is a minimal Tether client for tests: a gorilla connection, a
// reader goroutine that decodes every frame into a channel, and helpers to
// send and wait for messages.
type testClient struct {
	t       *testing.T
	name    string
	ws      *websocket.Conn
	reg     *shared.Registry
	in      chan received
	stop    chan struct{}
	done    chan struct{} // closed when the reader stopped; readErr is set
	readErr error
	welcome shared.Welcome
	nextID  uint64
	once    sync.Once
}

// dial connects user and waits for welcome.
func (e *testEnv) dial(user string) *testClient {
	e.t.Helper()
	return e.dialURL(user, e.wsURL(user))
}

// dialURL connects to rawURL, names the client user and waits for welcome.
func (e *testEnv) dialURL(user, rawURL string) *testClient {
	e.t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(rawURL, nil)
	if err != nil {
		e.t.Fatalf("dial as %s: %v", user, err)
	}
	tc := &testClient{t: e.t, name: user, ws: ws, reg: e.reg,
		in: make(chan received, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	go tc.readLoop()
	e.t.Cleanup(tc.close)
	tc.welcome = expect[shared.Welcome](tc).msg
	return tc
}

// dialRaw connects user without reading anything: it does not even answer
// pings. readBuffer > 0 sets the socket's receive buffer, so that a client
// that stops reading backs up the server sooner.
func (e *testEnv) dialRaw(user string, readBuffer int) *websocket.Conn {
	e.t.Helper()
	d := *websocket.DefaultDialer
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil && readBuffer > 0 {
			err = c.(*net.TCPConn).SetReadBuffer(readBuffer)
		}
		return c, err
	}
	ws, _, err := d.Dial(e.wsURL(user), nil)
	if err != nil {
		e.t.Fatalf("dial as %s: %v", user, err)
	}
	e.t.Cleanup(func() { _ = ws.Close() })
	return ws
}

func (tc *testClient) readLoop() {
	defer close(tc.done)
	for {
		_, frame, err := tc.ws.ReadMessage()
		if err != nil {
			tc.readErr = err
			return
		}
		r := received{}
		r.env, r.err = shared.DecodeEnvelope(frame)
		if r.err == nil {
			r.msg, r.err = tc.reg.Decode(r.env)
		}
		select {
		case tc.in <- r:
		case <-tc.stop:
			return
		}
	}
}

// close closes the connection normally and waits for the reader.
func (tc *testClient) close() {
	tc.once.Do(func() {
		_ = tc.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
		select {
		case <-tc.done:
		case <-time.After(time.Second):
		}
		close(tc.stop)
		_ = tc.ws.Close()
		<-tc.done
	})
}

// send sends m with request id (0: none).
func (tc *testClient) send(id uint64, m shared.Message) {
	tc.t.Helper()
	b, err := shared.Encode(shared.Envelope{ID: id}, m)
	if err != nil {
		tc.t.Fatalf("%s: encode %s: %v", tc.name, m.MessageType(), err)
	}
	tc.sendRaw(websocket.TextMessage, b)
}

// request sends m with a fresh request id and returns the id.
func (tc *testClient) request(m shared.Message) uint64 {
	tc.t.Helper()
	tc.nextID++
	tc.send(tc.nextID, m)
	return tc.nextID
}

// sendRaw sends one frame as is.
func (tc *testClient) sendRaw(typ int, frame []byte) {
	tc.t.Helper()
	if err := tc.ws.WriteMessage(typ, frame); err != nil {
		tc.t.Fatalf("%s: write: %v", tc.name, err)
	}
}

// next returns the next message.
func (tc *testClient) next() received {
	tc.t.Helper()
	select {
	case r := <-tc.in:
		if r.err != nil {
			tc.t.Fatalf("%s: undecodable frame: %v", tc.name, r.err)
		}
		return r
	case <-tc.done:
		select {
		case r := <-tc.in:
			return r
		default:
		}
		tc.t.Fatalf("%s: connection closed while waiting for a message: %v", tc.name, tc.readErr)
	case <-time.After(waitTime):
		tc.t.Fatalf("%s: no message within %v", tc.name, waitTime)
	}
	panic("unreachable")
}

// typed is a received message of type T.
type typed[T shared.Message] struct {
	msg T
	env shared.Envelope
}

// expect returns the next message, which must be a T.
func expect[T shared.Message](tc *testClient) typed[T] {
	tc.t.Helper()
	r := tc.next()
	m, ok := r.msg.(T)
	if !ok {
		tc.t.Fatalf("%s: got %s %+v (envelope %+v), want %s", tc.name, r.env.Type, r.msg, r.env, shared.TypeOf[T]())
	}
	return typed[T]{msg: m, env: r.env}
}

// waitFor skips messages until a T for which match holds (nil: any T).
func waitFor[T shared.Message](tc *testClient, match func(T, shared.Envelope) bool) typed[T] {
	tc.t.Helper()
	for {
		r := tc.next()
		if m, ok := r.msg.(T); ok && (match == nil || match(m, r.env)) {
			return typed[T]{msg: m, env: r.env}
		}
	}
}

// join joins room and returns joined.
func (tc *testClient) join(room string, history int) shared.Joined {
	tc.t.Helper()
	id := tc.request(shared.Join{Room: room, History: history})
	return expectReply[shared.Joined](tc, id)
}

// expectReply waits for the answer to request id, which must be a T.
func expectReply[T shared.Message](tc *testClient, id uint64) T {
	tc.t.Helper()
	for {
		r := tc.next()
		if r.env.ID != id {
			continue
		}
		if m, ok := r.msg.(T); ok {
			return m
		}
		tc.t.Fatalf("%s: request %d answered with %s %+v, want %s", tc.name, id, r.env.Type, r.msg, shared.TypeOf[T]())
	}
}

// ping checks the connection still answers: app ping → pong with the id.
func (tc *testClient) ping() {
	tc.t.Helper()
	id := tc.request(shared.Ping{})
	expectReply[shared.Pong](tc, id)
}

// waitClose reads until the connection closes and returns the close frame
// the server sent.
func (tc *testClient) waitClose() *websocket.CloseError {
	tc.t.Helper()
	deadline := time.After(waitTime)
	for {
		select {
		case <-tc.in:
		case <-tc.done:
			var ce *websocket.CloseError
			if !errors.As(tc.readErr, &ce) {
				tc.t.Fatalf("%s: connection ended without a close frame: %v", tc.name, tc.readErr)
			}
			return ce
		case <-deadline:
			tc.t.Fatalf("%s: not closed within %v", tc.name, waitTime)
		}
	}
}

// readUntilClose reads a raw connection until it fails and returns the
// close frame, counting the messages read before it.
func readUntilClose(t *testing.T, ws *websocket.Conn) (*websocket.CloseError, int) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(waitTime))
	n := 0
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			n++
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("connection ended without a close frame after %d messages: %v", n, err)
		}
		return ce, n
	}
}

// members renders a member list for comparisons.
func members(ms []shared.Member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.User + "/" + m.Name
	}
	return fmt.Sprint(parts)
}

// httpStatus does a plain GET with the WebSocket handshake headers and
// returns the status and body.
func httpStatus(t *testing.T, rawURL string, header http.Header) (int, string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitTime}
	ws, resp, err := d.Dial(rawURL, header)
	if err == nil {
		_ = ws.Close()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// startChat starts a server with tethertest's chat handlers (chat.send,
// chat.typing for internal/testmsg's types).
func startChat(t *testing.T, cfg server.Config) *testEnv {
	t.Helper()
	return startServer(t, cfg, tethertest.InstallChat)
}
