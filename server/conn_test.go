package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

func TestHeartbeatTimeoutClosesSilentConnection(t *testing.T) {
	var pongs atomic.Int64
	e := startServer(t, server.Config{
		Heartbeat:        50 * time.Millisecond,
		HeartbeatTimeout: 200 * time.Millisecond,
		OnPong:           func(server.PongEvent) { pongs.Add(1) },
	})
	alive := e.dial("alice") // reads, so it answers pings
	start := time.Now()
	e.dialRaw("mallory", 0) // never reads: the server's pings stay unanswered

	var silentID string
	tethertest.WaitUntil(t, "mallory is connected", func() bool {
		for _, c := range tethertest.Connections(t, e.srv) {
			if c.User == "mallory" {
				silentID = c.ID
				return true
			}
		}
		return false
	})
	d := e.waitDisconnect(silentID)
	elapsed := time.Since(start)
	if d.code != shared.CloseHeartbeat {
		t.Errorf("silent connection closed with %d %q, want %d", d.code, d.reason, shared.CloseHeartbeat)
	}
	if elapsed < 200*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("silent connection closed after %v, want after the 200ms timeout and soon", elapsed)
	}
	// The connection that answers pings outlived the timeout.
	alive.ping()
	if pongs.Load() == 0 {
		t.Error("OnPong never called, although alice answers pings")
	}
}

func TestOversizeMessageCloses1009(t *testing.T) {
	e := startServer(t, server.Config{ReadLimit: 1024})
	for _, size := range []int{1025 - len(`{"type":"chat.send","data":{"room":"lobby","text":""}}`), 4 << 10, 4 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := e.dial("alice")
			big := `{"type":"chat.send","data":{"room":"lobby","text":"` + strings.Repeat("x", size) + `"}}`
			// The write of the largest may fail: the server refuses it early.
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte(big))
			if ce := c.waitClose(); ce.Code != shared.CloseTooBig {
				t.Errorf("close code %d %q, want %d", ce.Code, ce.Text, shared.CloseTooBig)
			}
			if d := e.waitDisconnect(c.welcome.Conn); d.code != shared.CloseTooBig {
				t.Errorf("OnDisconnect code %d, want %d", d.code, shared.CloseTooBig)
			}
		})
	}
	// At the limit is fine.
	c := e.dial("bob")
	c.sendRaw(websocket.TextMessage, []byte(`{"type":"ping","id":1,"data":{}}`+strings.Repeat(" ", 1024-32)))
	expectReply[shared.Pong](c, 1)
}

func TestDecodeErrorsKeepTheConnectionOpen(t *testing.T) {
	var pings atomic.Int64
	e := startServer(t, server.Config{OnPing: func(server.PingEvent) { pings.Add(1) }})
	c := e.dial("alice")
	tests := []struct {
		name      string
		binary    bool
		frame     string
		wantID    uint64
		wantCode  string
		wantField string
	}{
		{"not JSON", false, `{"type":`, 0, shared.CodeMalformed, ""},
		{"no type", false, `{"id":3}`, 3, shared.CodeMalformed, "type"},
		{"bad type name", false, `{"type":"Chat","id":4}`, 4, shared.CodeMalformed, "type"},
		{"data not an object", false, `{"type":"ping","id":5,"data":[1]}`, 5, shared.CodeBadData, "data"},
		{"type twice", false, `{"type":"ping","type":"join","id":13,"data":{"room":"lobby"}}`, 13, shared.CodeMalformed, "type"},
		{"room twice", false, `{"type":"join","id":14,"data":{"room":"lobby","room":"other"}}`, 14, shared.CodeBadData, "data.room"},
		{"unknown type", false, `{"type":"nope.nope","id":6}`, 6, shared.CodeUnknownType, ""},
		{"missing field", false, `{"type":"chat.send","id":7,"data":{"room":"lobby"}}`, 7, shared.CodeBadData, "data.text"},
		{"unknown field", false, `{"type":"chat.send","id":8,"data":{"room":"lobby","text":"hi","x":1}}`, 8, shared.CodeBadData, "data.x"},
		{"wrong JSON type", false, `{"type":"chat.send","id":9,"data":{"room":"lobby","text":7}}`, 9, shared.CodeBadData, "data.text"},
		{"server-only type", false, `{"type":"welcome","id":10,"data":{"conn":"x","user":"y","heartbeat_ms":1}}`, 10, shared.CodeNoHandler, ""},
		{"no handler", false, `{"type":"chat.send","id":11,"data":{"room":"lobby","text":"hi"}}`, 11, shared.CodeNoHandler, ""},
		{"binary frame", true, `{"type":"ping","id":12}`, 0, shared.CodeMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := websocket.TextMessage
			if tt.binary {
				typ = websocket.BinaryMessage
			}
			c.sendRaw(typ, []byte(tt.frame))
			got := expect[shared.Error](c)
			if got.env.ID != tt.wantID || got.msg.Code != tt.wantCode || got.msg.Field != tt.wantField {
				t.Errorf("error id %d %+v, want id %d code %s field %q", got.env.ID, got.msg, tt.wantID, tt.wantCode, tt.wantField)
			}
			if got.msg.Message == "" {
				t.Error("error without a message")
			}
			c.ping()
		})
	}
	if pings.Load() != int64(len(tests)) {
		t.Errorf("OnPing called %d times, want %d", pings.Load(), len(tests))
	}
}

func TestHandlerResults(t *testing.T) {
	e := startServer(t, server.Config{}, func(s *server.Server) {
		server.HandleRequest(s, func(_ context.Context, c *server.Conn, m testmsg.ChatSend) (testmsg.ChatMessage, error) {
			switch m.Text {
			case "plain error":
				return testmsg.ChatMessage{}, errWrapped
			case "typed error":
				return testmsg.ChatMessage{}, &shared.Error{Code: shared.CodeRateLimited, Message: "slow down"}
			case "not joined":
				return testmsg.ChatMessage{}, server.ErrNotJoined
			case "panic":
				panic("boom")
			}
			return testmsg.ChatMessage{Room: m.Room, User: c.User(), Text: strings.ToUpper(m.Text)}, nil
		})
		server.Handle(s, func(ctx context.Context, c *server.Conn, m testmsg.DanmakuSend) error {
			if ctx.Err() != nil {
				t.Errorf("handler context already done: %v", ctx.Err())
			}
			return nil
		})
	})
	c := e.dial("alice")
	tests := []struct {
		name     string
		msg      shared.Message
		wantType string
		wantCode string
		wantText string
	}{
		{"reply message", testmsg.ChatSend{Room: "r", Text: "hi"}, "chat.message", "", "HI"},
		{"plain error is rejected", testmsg.ChatSend{Room: "r", Text: "plain error"}, "error", shared.CodeRejected, errWrapped.Error()},
		{"shared.Error passes through", testmsg.ChatSend{Room: "r", Text: "typed error"}, "error", shared.CodeRateLimited, "slow down"},
		{"ErrNotJoined", testmsg.ChatSend{Room: "r", Text: "not joined"}, "error", shared.CodeNotJoined, server.ErrNotJoined.Error()},
		{"panic is internal", testmsg.ChatSend{Room: "r", Text: "panic"}, "error", shared.CodeInternal, "internal error"},
		{"no reply message", testmsg.DanmakuSend{Room: "r", Text: "wow"}, "reply", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := c.request(tt.msg)
			r := c.next()
			if r.env.ID != id || r.env.Type != tt.wantType {
				t.Fatalf("answer %s id %d, want %s id %d", r.env.Type, r.env.ID, tt.wantType, id)
			}
			switch m := r.msg.(type) {
			case shared.Error:
				if m.Code != tt.wantCode || m.Message != tt.wantText {
					t.Errorf("error %+v, want code %s message %q", m, tt.wantCode, tt.wantText)
				}
			case testmsg.ChatMessage:
				if m.Text != tt.wantText {
					t.Errorf("reply text %q, want %q", m.Text, tt.wantText)
				}
			case shared.Reply:
				if !m.OK {
					t.Error("reply ok = false")
				}
			}
		})
	}
	// Without a request id, success is silent and failure is reported.
	c.send(0, testmsg.DanmakuSend{Room: "r", Text: "wow"})
	c.send(0, testmsg.ChatSend{Room: "r", Text: "plain error"})
	if got := expect[shared.Error](c); got.env.ID != 0 || got.msg.Code != shared.CodeRejected {
		t.Errorf("got %+v id %d, want a rejected error without id", got.msg, got.env.ID)
	}
}

var errWrapped = &wrapErr{}

type wrapErr struct{}

func (*wrapErr) Error() string { return "not today" }

func TestSlowConsumerIsClosedOthersKeepReceiving(t *testing.T) {
	e := startServerWith(t, server.Config{SendQueue: 8}, 64<<10)
	slow := e.dialRaw("slow", 128<<10)
	b, _ := shared.Encode(shared.Envelope{ID: 1}, shared.Join{Room: "feed"})
	if err := slow.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
	tethertest.WaitUntil(t, "slow joined", func() bool { return len(tethertest.Presence(t, e.srv, "feed")) == 1 })
	fast1, fast2 := e.dial("fast1"), e.dial("fast2")
	fast1.join("feed", 0)
	fast2.join("feed", 0)

	text := strings.Repeat("x", 16<<10)
	published := 0
	for tethertest.Stats(t, e.srv).Dropped == 0 {
		if published == 20000 {
			t.Fatalf("no drop after %d messages of %d bytes", published, len(text))
		}
		if _, _, err := e.srv.Publish(context.Background(), "feed", testmsg.Notification{Title: "tick", Body: text}); err != nil {
			t.Fatal(err)
		}
		published++
		for _, c := range []*testClient{fast1, fast2} {
			waitFor[testmsg.Notification](c, nil)
		}
	}
	ce, n := readUntilClose(t, slow)
	if ce.Code != shared.CloseSlowConsumer {
		t.Errorf("slow consumer closed with %d %q, want %d", ce.Code, ce.Text, shared.CloseSlowConsumer)
	}
	t.Logf("slow consumer read %d of %d messages before the close", n, published+4)

	// The others keep receiving.
	if _, reached, err := e.srv.Publish(context.Background(), "feed", testmsg.Notification{Title: "after"}); err != nil || reached < 2 {
		t.Errorf("Publish after the drop reached %d, %v; want the 2 fast clients", reached, err)
	}
	for _, c := range []*testClient{fast1, fast2} {
		if got := waitFor[testmsg.Notification](c, nil); got.msg.Title != "after" {
			t.Errorf("%s got %q, want after", c.name, got.msg.Title)
		}
	}
}

func TestOnConnectRejects4001(t *testing.T) {
	e := startServer(t, server.Config{OnConnect: func(_ context.Context, e server.ConnectEvent) error {
		c := e.Conn
		if c.User() == "banned" {
			return errBanned
		}
		return nil
	}})
	c := e.dial("banned")
	if ce := c.waitClose(); ce.Code != shared.CloseRejected || ce.Text != errBanned.Error() {
		t.Errorf("close %d %q, want %d %q", ce.Code, ce.Text, shared.CloseRejected, errBanned.Error())
	}
	e.dial("alice").ping()
}

var errBanned = &bannedErr{}

type bannedErr struct{}

func (*bannedErr) Error() string { return "you are banned" }

func TestHandshakeRefusals(t *testing.T) {
	e := startServer(t, server.Config{AllowedOrigins: []string{"https://app.example", "HTTP://Other.Example:8443"}})
	base := "ws" + strings.TrimPrefix(e.hs.URL, "http") + "/ws"
	tests := []struct {
		name   string
		url    string
		origin string
		want   int
	}{
		{"no user", base, "", 401},
		{"bad user", base + "?user=al%20ice", "", 401},
		{"long user", base + "?user=" + strings.Repeat("a", 65), "", 401},
		{"foreign origin", base + "?user=alice", "http://evil.example", 403},
		{"same origin", base + "?user=alice", e.hs.URL, 101},
		{"no origin", base + "?user=alice", "", 101},
		{"allowed origin", base + "?user=alice", "https://app.example", 101},
		{"allowed origin, other case and port", base + "?user=alice", "http://other.example:8443", 101},
		{"allowed host, wrong scheme", base + "?user=alice", "http://app.example", 403},
		{"allowed host, wrong port", base + "?user=alice", "https://app.example:444", 403},
		{"look-alike suffix", base + "?user=alice", "https://app.example.evil", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string][]string{}
			if tt.origin != "" {
				h["Origin"] = []string{tt.origin}
			}
			code, body := httpStatus(t, tt.url, h)
			if code != tt.want {
				t.Errorf("status %d (%s), want %d", code, body, tt.want)
			}
			if code == 401 && !strings.Contains(body, `"code":"unauthorized"`) {
				t.Errorf("401 body %q is not a JSON error", body)
			}
		})
	}
}

func TestCloseCancelsHandlerContext(t *testing.T) {
	handlerDone := make(chan error, 1)
	started := make(chan struct{})
	e := startServer(t, server.Config{}, func(s *server.Server) {
		server.Handle(s, func(ctx context.Context, _ *server.Conn, _ testmsg.ChatSend) error {
			close(started)
			<-ctx.Done()
			handlerDone <- ctx.Err()
			return nil
		})
	})
	c := e.dial("alice")
	c.send(0, testmsg.ChatSend{Room: "lobby", Text: "wait for me"})
	<-started
	_, _ = e.srv.Kick(context.Background(), "alice", server.KickOptions{Reason: "enough"})
	select {
	case err := <-handlerDone:
		if err == nil {
			t.Error("handler context done without an error")
		}
	case <-time.After(waitTime):
		t.Fatal("handler context not cancelled when the connection closed")
	}
	if ce := c.waitClose(); ce.Code != shared.CloseKicked {
		t.Errorf("close %d, want %d", ce.Code, shared.CloseKicked)
	}
}

func TestAbruptLossIs1006(t *testing.T) {
	e := startServer(t, server.Config{})
	c := e.dial("alice")
	c.join("lobby", 0)
	watcher := e.dial("bob")
	watcher.join("lobby", 0)
	_ = c.ws.NetConn().Close() // no close frame: the TCP connection just goes away

	if d := e.waitDisconnect(c.welcome.Conn); d.code != websocket.CloseAbnormalClosure {
		t.Errorf("OnDisconnect code %d %q, want %d", d.code, d.reason, websocket.CloseAbnormalClosure)
	}
	if pl := waitFor[shared.PresenceLeave](watcher, nil); pl.msg.Member.User != "alice" {
		t.Errorf("bob got presence.leave of %q, want alice", pl.msg.Member.User)
	}
	// OnDisconnect ran once: nothing else arrives for that connection.
	watcher.ping()
	select {
	case d := <-e.disc:
		t.Errorf("second OnDisconnect %+v", d)
	default:
	}
}

func TestClientCloseCodeReachesOnDisconnect(t *testing.T) {
	e := startServer(t, server.Config{})
	c := e.dial("alice")
	c.close() // 1000 "bye"
	if d := e.waitDisconnect(c.welcome.Conn); d.code != websocket.CloseNormalClosure || d.reason != "bye" {
		t.Errorf("OnDisconnect %d %q, want 1000 bye", d.code, d.reason)
	}
}
