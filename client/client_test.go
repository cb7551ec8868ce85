package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/shared"

	"github.com/tetherkit/tether/internal/testmsg"
)

// events collects what handlers saw, in order.
type events struct {
	mu  sync.Mutex
	got []string
	sig chan struct{}
}

func newEvents() *events { return &events{sig: make(chan struct{}, 1)} }

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	e.got = append(e.got, fmt.Sprintf(format, args...))
	e.mu.Unlock()
	select {
	case e.sig <- struct{}{}:
	default:
	}
}

// waitN waits until n events were recorded and returns them.
func (e *events) waitN(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		e.mu.Lock()
		if len(e.got) >= n {
			got := append([]string(nil), e.got...)
			e.mu.Unlock()
			return got
		}
		e.mu.Unlock()
		select {
		case <-e.sig:
		case <-deadline:
			e.mu.Lock()
			defer e.mu.Unlock()
			t.Fatalf("handlers saw %d events, want %d: %q", len(e.got), n, e.got)
		}
	}
}

func sameEvents(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("handlers saw\n  %q\nwant\n  %q", got, want)
	}
}

// joinRoom performs c.Join(room) against p, answering with joined.
func joinRoom(t *testing.T, c *Client, p *fakePeer, joined shared.Joined, history int) shared.Envelope {
	t.Helper()
	res := async(func() (shared.Joined, error) { return c.Join(context.Background(), joined.Room, history) })
	req := p.recv(t, "join")
	p.reply(t, req, joined)
	got, err := await(t, res)
	if err != nil {
		t.Fatalf("Join(%q): %v", joined.Room, err)
	}
	if got.Epoch != joined.Epoch || got.Seq != joined.Seq {
		t.Fatalf("Join returned %+v, want %+v", got, joined)
	}
	return req
}

func TestOnDispatchesTypedMessagesInOrder(t *testing.T) {
	ev := newEvents()
	h := start(t, Config{}, func(c *Client) {
		On(c, func(m testmsg.ChatMessage) { ev.add("first %s", m.Text) })
		On(c, func(m testmsg.ChatMessage) { ev.add("second %s", m.Text) })
		OnMeta(c, func(m testmsg.TickerQuote, meta Meta) { ev.add("quote %s %s/%d", m.Symbol, meta.Room, meta.Seq) })
		On(c, func(m testmsg.Notification) { ev.add("notification %s", m.Title) })
		On(c, func(w shared.Welcome) { ev.add("welcome %s", w.Conn) })
	})
	p := h.open(t)
	joinRoom(t, h.c, p, shared.Joined{Room: "ticker", Epoch: "e1"}, 0)

	p.push(t, shared.Envelope{}, testmsg.ChatMessage{Room: "x", User: "bob", Text: "hi"})
	p.pushRaw(t, []byte(`{"type":"x.unknown","data":{"a":1}}`))    // unknown type: ignored
	p.pushRaw(t, []byte(`not json`))                               // malformed: ignored
	p.pushRaw(t, []byte(`{"type":"notification","data":{"x":1}}`)) // bad data: ignored
	p.push(t, shared.Envelope{Room: "ticker", Seq: 1}, testmsg.TickerQuote{Symbol: "ACME", Price: 1})
	p.push(t, shared.Envelope{Room: "other", Seq: 1}, testmsg.TickerQuote{Symbol: "NOTJOINED"}) // room not joined: dropped
	p.push(t, shared.Envelope{ID: 999}, testmsg.Notification{Title: "stray reply"})             // reply to nothing: not dispatched
	p.push(t, shared.Envelope{}, testmsg.Notification{Title: "done"})

	sameEvents(t, ev.waitN(t, 5), []string{
		"welcome c1", "first hi", "second hi", "quote ACME ticker/1", "notification done",
	})
}

func TestRequest(t *testing.T) {
	h := start(t, Config{}, nil)
	p := h.open(t)

	t.Run("reply", func(t *testing.T) {
		res := async(func() (shared.PresenceList, error) {
			return Request[shared.PresenceList](context.Background(), h.c, shared.PresenceList{Room: "lobby"})
		})
		req := p.recv(t, "presence.list")
		if req.ID == 0 {
			t.Fatal("request sent without an id")
		}
		p.reply(t, req, shared.PresenceList{Room: "lobby", Members: []shared.Member{{User: "bob"}}})
		got, err := await(t, res)
		if err != nil || len(got.Members) != 1 || got.Members[0].User != "bob" {
			t.Fatalf("Request = %+v, %v; want the members list", got, err)
		}
	})

	t.Run("ids are unique", func(t *testing.T) {
		seen := map[uint64]bool{}
		for range 3 {
			res := async(func() (shared.Reply, error) {
				return Request[shared.Reply](context.Background(), h.c, shared.Hello{})
			})
			req := p.recv(t, "hello")
			if seen[req.ID] {
				t.Fatalf("request id %d reused", req.ID)
			}
			seen[req.ID] = true
			p.reply(t, req, shared.Reply{OK: true})
			if _, err := await(t, res); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("server error", func(t *testing.T) {
		res := async(func() (shared.PresenceList, error) {
			return Request[shared.PresenceList](context.Background(), h.c, shared.PresenceList{Room: "vip"})
		})
		req := p.recv(t, "presence.list")
		p.reply(t, req, shared.Error{Code: shared.CodeForbidden, Message: "no", Field: "room"})
		_, err := await(t, res)
		var se *shared.Error
		if !errors.As(err, &se) || se.Code != shared.CodeForbidden || se.Field != "room" {
			t.Fatalf("Request error = %v, want *shared.Error forbidden on field room", err)
		}
	})

	t.Run("reply of the wrong type", func(t *testing.T) {
		res := async(func() (shared.PresenceList, error) {
			return Request[shared.PresenceList](context.Background(), h.c, shared.PresenceList{Room: "lobby"})
		})
		req := p.recv(t, "presence.list")
		p.reply(t, req, shared.Pong{})
		_, err := await(t, res)
		if !errors.Is(err, shared.ErrUnknownType) {
			t.Fatalf("Request error = %v, want ErrUnknownType for a pong reply", err)
		}
	})

	t.Run("timeout from the context", func(t *testing.T) {
		res := async(func() (shared.Reply, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			return Request[shared.Reply](ctx, h.c, shared.Hello{})
		})
		p.recv(t, "hello") // and never answer
		_, err := await(t, res)
		if errorCode(err) != shared.CodeTimeout {
			t.Fatalf("Request error = %v, want code %q", err, shared.CodeTimeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Request error = %v: errors.Is(err, context.DeadlineExceeded) is false", err)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		res := async(func() (shared.Reply, error) { return Request[shared.Reply](ctx, h.c, shared.Hello{}) })
		p.recv(t, "hello")
		cancel()
		if _, err := await(t, res); !errors.Is(err, context.Canceled) {
			t.Fatalf("Request error = %v, want context.Canceled", err)
		}
	})

	t.Run("late reply is ignored", func(t *testing.T) {
		// The answer to the timed-out request above arrives now; the next
		// request must get its own reply.
		res := async(func() (shared.PresenceList, error) {
			return Request[shared.PresenceList](context.Background(), h.c, shared.PresenceList{Room: "lobby"})
		})
		req := p.recv(t, "presence.list")
		p.push(t, shared.Envelope{ID: req.ID - 1}, shared.Reply{OK: true})
		p.reply(t, req, shared.PresenceList{Room: "lobby"})
		if got, err := await(t, res); err != nil || got.Room != "lobby" {
			t.Fatalf("Request = %+v, %v; want its own reply", got, err)
		}
	})
}

func TestRequestTimeoutOption(t *testing.T) {
	h := start(t, Config{RequestTimeout: 30 * time.Millisecond}, nil)
	p := h.open(t)
	res := async(func() (shared.Joined, error) { return h.c.Join(context.Background(), "lobby", 0) })
	p.recv(t, "join") // the server never answers
	_, err := await(t, res)
	if errorCode(err) != shared.CodeTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join error = %v, want code %q wrapping context.DeadlineExceeded after RequestTimeout", err, shared.CodeTimeout)
	}
}

func TestRequestConnectionLost(t *testing.T) {
	h := start(t, Config{}, nil)
	p := h.open(t)
	res := async(func() (shared.Reply, error) {
		return Request[shared.Reply](context.Background(), h.c, shared.Hello{})
	})
	p.recv(t, "hello")
	p.drop()
	if _, err := await(t, res); errorCode(err) != shared.CodeClosed {
		t.Fatalf("Request error = %v, want code %q when the connection drops", err, shared.CodeClosed)
	}
	h.states.waitFor(t, "reconnecting", isState(Reconnecting))
}

func TestRequestWaitsForConnection(t *testing.T) {
	h := start(t, Config{}, nil)
	res := async(func() (shared.Joined, error) { return h.c.Join(context.Background(), "lobby", 5) })
	p := h.ft.accept(t)
	p.welcome(t, time.Hour.Milliseconds())
	req := p.recv(t, "join")
	p.reply(t, req, shared.Joined{Room: "lobby", Epoch: "e1"})
	if _, err := await(t, res); err != nil {
		t.Fatalf("Join before the connection opened: %v", err)
	}
}

func TestSendWithoutOutbox(t *testing.T) {
	ft := newFakeTransport()
	c := newClient(t, Config{Transport: ft, Outbox: -1})
	if err := c.Send(context.Background(), testmsg.ChatSend{Room: "lobby", Text: "hi"}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Send before Run = %v, want ErrNotConnected", err)
	}

	h := start(t, Config{Outbox: -1}, nil)
	p := h.open(t)
	if err := h.c.Send(context.Background(), testmsg.ChatSend{Room: "lobby", Text: "hi"}); err != nil {
		t.Fatalf("Send while open: %v", err)
	}
	env := p.recv(t, "chat.send")
	var m testmsg.ChatSend
	decodeData(t, env, &m)
	if env.ID != 0 || env.Key != "" || m.Text != "hi" || m.Room != "lobby" {
		t.Errorf("server got %+v %+v, want chat.send without id or key", env, m)
	}

	p.drop()
	h.states.waitFor(t, "reconnecting", isState(Reconnecting))
	if err := h.c.Send(context.Background(), testmsg.ChatSend{Room: "lobby", Text: "hi"}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Send while reconnecting = %v, want ErrNotConnected", err)
	}
}

// TestSendOutbox: Send queues while offline, sends in order one at a time
// with idempotency keys, sends an unanswered message again with the same
// key after a reconnect, and hands an error answer to the handlers once.
func TestSendOutbox(t *testing.T) {
	errs := make(chan shared.Error, 4)
	// One at a time (SendWindow 1), so that what is in flight at the drop
	// is known; TestSendWindow writes ahead.
	h := start(t, Config{Outbox: 3, SendWindow: 1}, func(c *Client) {
		On(c, func(e shared.Error) { errs <- e })
	})
	for _, text := range []string{"one", "two", "three"} {
		if err := h.c.Send(context.Background(), testmsg.ChatSend{Room: "lobby", Text: text}); err != nil {
			t.Fatalf("Send %q before the connection opened: %v", text, err)
		}
	}
	if err := h.c.Send(context.Background(), testmsg.ChatSend{Room: "lobby", Text: "four"}); !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("fourth Send with an outbox of 3 = %v, want ErrOutboxFull", err)
	}
	if n := h.c.Outbox(); n != 3 {
		t.Fatalf("Outbox() = %d, want 3", n)
	}
	text := func(env shared.Envelope) string {
		var m testmsg.ChatSend
		decodeData(t, env, &m)
		return m.Text
	}

	p := h.open(t)
	first := p.recv(t, "chat.send")
	if text(first) != "one" || first.ID == 0 || first.Key == "" {
		t.Fatalf("first frame %+v (%q), want chat.send \"one\" with an id and a key", first, text(first))
	}
	p.reply(t, first, shared.Reply{OK: true})
	second := p.recv(t, "chat.send")
	if text(second) != "two" || second.Key == first.Key {
		t.Fatalf("second frame %+v (%q), want \"two\" with its own key", second, text(second))
	}
	p.drop() // "two" is unanswered: the server may or may not have run it

	p2 := h.open(t)
	again := p2.recv(t, "chat.send")
	if text(again) != "two" || again.Key != second.Key {
		t.Fatalf("after the reconnect the client sent %+v (%q), want \"two\" again with key %q", again, text(again), second.Key)
	}
	p2.reply(t, again, shared.Reply{OK: true})
	third := p2.recv(t, "chat.send")
	if text(third) != "three" {
		t.Fatalf("then %q, want \"three\"", text(third))
	}
	p2.reply(t, third, shared.Error{Code: shared.CodeRateLimited, Message: "slow down"})
	third = p2.recv(t, "chat.send") // not processed: sent again after a pause
	if text(third) != "three" {
		t.Fatalf("after rate_limited the client sent %q, want \"three\" again", text(third))
	}
	p2.reply(t, third, shared.Error{Code: shared.CodeNotJoined, Message: "join the room first"})
	select {
	case e := <-errs:
		if e.Code != shared.CodeNotJoined {
			t.Fatalf("handler got %+v, want the not_joined answer", e)
		}
	case <-time.After(waitLimit):
		t.Fatal("the error answer never reached the handlers")
	}
	// Answered: "three" left the outbox, so the next message goes out.
	if err := h.c.Send(context.Background(), testmsg.ChatSend{Room: "lobby", Text: "four"}); err != nil {
		t.Fatal(err)
	}
	if got := text(p2.recv(t, "chat.send")); got != "four" {
		t.Fatalf("then %q, want \"four\"", got)
	}
	if n := h.c.Outbox(); n != 1 {
		t.Errorf("Outbox() = %d with one message in flight, want 1", n)
	}
	if len(errs) != 0 {
		t.Fatalf("handlers got %d more errors, want only the final one (rate_limited is retried)", len(errs))
	}
}

// TestSendOutboxWaitsForRejoin: after a reconnect the outbox is sent only
// once the rooms are joined again, so chat.send does not meet not_joined.
func TestSendOutboxWaitsForRejoin(t *testing.T) {
	h := start(t, Config{}, nil)
	p := h.open(t)
	res := async(func() (shared.Joined, error) { return h.c.Join(context.Background(), "lobby", 0) })
	p.reply(t, p.recv(t, "join"), shared.Joined{Room: "lobby", Epoch: "e1"})
	if _, err := await(t, res); err != nil {
		t.Fatal(err)
	}
	p.drop()
	h.states.waitFor(t, "reconnecting", isState(Reconnecting))
	if err := h.c.Send(context.Background(), testmsg.ChatSend{Room: "lobby", Text: "queued"}); err != nil {
		t.Fatal(err)
	}
	p2 := h.open(t)
	join := p2.recv(t, "")
	if join.Type != "join" {
		t.Fatalf("first frame after the reconnect is %s, want the rejoin", join.Type)
	}
	p2.reply(t, join, shared.Joined{Room: "lobby", Epoch: "e1"})
	if env := p2.recv(t, ""); env.Type != "chat.send" {
		t.Fatalf("then %s, want the queued chat.send", env.Type)
	}
}

func TestJoinRefusedForgetsRoom(t *testing.T) {
	h := start(t, Config{}, nil)
	p := h.open(t)
	res := async(func() (shared.Joined, error) { return h.c.Join(context.Background(), "vip", 0) })
	p.reply(t, p.recv(t, "join"), shared.Error{Code: shared.CodeForbidden, Message: "members only"})
	if _, err := await(t, res); errorCode(err) != shared.CodeForbidden {
		t.Fatalf("Join error = %v, want forbidden", err)
	}
	if _, err := h.c.Join(context.Background(), "bad room", 0); err == nil {
		t.Fatal("Join with an invalid room name succeeded")
	}
	// The refused room is not rejoined: the next connection sends nothing.
	p.drop()
	p2 := h.open(t)
	if err := h.c.Send(context.Background(), shared.Hello{Client: "marker"}); err != nil {
		t.Fatal(err)
	}
	if env := p2.recv(t, ""); env.Type != "hello" {
		t.Fatalf("after reconnect the client sent %s first, want nothing before the marker", env.Type)
	}
}

func TestReconnectRejoinsAndDropsDuplicates(t *testing.T) {
	ev := newEvents()
	var joinedMu sync.Mutex
	var joins []shared.Joined
	h := start(t, Config{}, func(c *Client) {
		OnMeta(c, func(m testmsg.ChatMessage, meta Meta) { ev.add("%s#%d %s", meta.Room, meta.Seq, m.Text) })
		c.OnJoined(func(j shared.Joined) {
			joinedMu.Lock()
			joins = append(joins, j)
			joinedMu.Unlock()
			ev.add("joined %s %s recovered=%v", j.Room, j.Epoch, j.Recovered)
		})
	})
	msg := func(p *fakePeer, seq uint64) {
		p.push(t, shared.Envelope{Room: "lobby", Seq: seq}, testmsg.ChatMessage{Room: "lobby", Text: fmt.Sprint("m", seq)})
	}

	// Fresh join with history: the last 2 of 5 are replayed.
	p1 := h.open(t)
	req := joinRoom(t, h.c, p1, shared.Joined{Room: "lobby", Epoch: "e1", Seq: 5, Replayed: 2}, 10)
	var j shared.Join
	decodeData(t, req, &j)
	if j.Since != nil || j.History != 10 {
		t.Fatalf("first join = %+v, want history 10 and no since", j)
	}
	msg(p1, 4)
	msg(p1, 5)
	msg(p1, 6)
	ev.waitN(t, 4)
	p1.drop()
	h.states.waitFor(t, "reconnecting", isState(Reconnecting))

	// Rejoin resumes from seq 6 in epoch e1; the server replays 5..8 with an
	// overlap, and repeats 8 live.
	p2 := h.ft.accept(t)
	p2.welcome(t, time.Hour.Milliseconds())
	req = p2.recv(t, "join")
	j = shared.Join{}
	decodeData(t, req, &j)
	if j.Room != "lobby" || j.Since == nil || *j.Since != 6 || j.Epoch != "e1" || j.History != 10 || req.ID == 0 {
		t.Fatalf("rejoin = %+v (id %d), want lobby since 6 epoch e1 history 10 as a request", j, req.ID)
	}
	p2.reply(t, req, shared.Joined{Room: "lobby", Epoch: "e1", Seq: 8, Recovered: true, Replayed: 2})
	msg(p2, 5)
	msg(p2, 6)
	msg(p2, 7)
	msg(p2, 8)
	msg(p2, 8)
	msg(p2, 9)
	ev.waitN(t, 8)
	p2.drop()

	// The room was recreated: a new epoch restarts the seqs.
	p3 := h.ft.accept(t)
	p3.welcome(t, time.Hour.Milliseconds())
	req = p3.recv(t, "join")
	j = shared.Join{}
	decodeData(t, req, &j)
	if *j.Since != 9 || j.Epoch != "e1" {
		t.Fatalf("second rejoin = %+v, want since 9 epoch e1", j)
	}
	p3.reply(t, req, shared.Joined{Room: "lobby", Epoch: "e2", Seq: 2, Replayed: 2})
	msg(p3, 1)
	msg(p3, 2)

	sameEvents(t, ev.waitN(t, 11), []string{
		"joined lobby e1 recovered=false", "lobby#4 m4", "lobby#5 m5", "lobby#6 m6",
		"joined lobby e1 recovered=true", "lobby#7 m7", "lobby#8 m8", "lobby#9 m9",
		"joined lobby e2 recovered=false", "lobby#1 m1", "lobby#2 m2",
	})
}

func TestLeaveForgetsRoom(t *testing.T) {
	ev := newEvents()
	h := start(t, Config{}, func(c *Client) {
		OnMeta(c, func(m testmsg.ChatMessage, meta Meta) { ev.add("%s#%d", meta.Room, meta.Seq) })
	})
	p := h.open(t)
	joinRoom(t, h.c, p, shared.Joined{Room: "a", Epoch: "e"}, 0)
	joinRoom(t, h.c, p, shared.Joined{Room: "b", Epoch: "e"}, 0)
	res := async(func() (struct{}, error) { return struct{}{}, h.c.Leave(context.Background(), "a") })
	req := p.recv(t, "leave")
	p.reply(t, req, shared.Left{Room: "a"})
	if _, err := await(t, res); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	p.push(t, shared.Envelope{Room: "a", Seq: 1}, testmsg.ChatMessage{}) // in flight after leave: dropped
	p.push(t, shared.Envelope{Room: "b", Seq: 1}, testmsg.ChatMessage{})
	sameEvents(t, ev.waitN(t, 1), []string{"b#1"})

	p.drop()
	p2 := h.ft.accept(t)
	p2.welcome(t, time.Hour.Milliseconds())
	var j shared.Join
	decodeData(t, p2.recv(t, "join"), &j)
	if j.Room != "b" {
		t.Fatalf("rejoined %q, want only b", j.Room)
	}
}

func TestServerEndsSession(t *testing.T) {
	tests := []struct {
		name       string
		script     func(t *testing.T, p *fakePeer)
		wantCode   int
		wantReason string
		wantKicked bool
	}{
		{"kicked", func(t *testing.T, p *fakePeer) {
			p.welcome(t, time.Hour.Milliseconds())
			p.push(t, shared.Envelope{}, shared.Kicked{Reason: "spamming"})
			p.closeWith(shared.CloseKicked, "")
		}, shared.CloseKicked, "spamming", true},
		{"kicked without close frame", func(t *testing.T, p *fakePeer) {
			p.welcome(t, time.Hour.Milliseconds())
			p.push(t, shared.Envelope{}, shared.Kicked{Reason: "bye"})
			p.drop()
		}, shared.CloseKicked, "bye", true},
		{"rejected before welcome", func(t *testing.T, p *fakePeer) {
			p.closeWith(shared.CloseRejected, "banned")
		}, shared.CloseRejected, "banned", false},
		{"rejected after welcome", func(t *testing.T, p *fakePeer) {
			p.welcome(t, time.Hour.Milliseconds())
			p.closeWith(shared.CloseRejected, "token expired")
		}, shared.CloseRejected, "token expired", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kicked := make(chan string, 1)
			h := start(t, Config{}, func(c *Client) {
				On(c, func(k shared.Kicked) { kicked <- k.Reason })
			})
			tt.script(t, h.ft.accept(t))
			err := h.wait(t)
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != tt.wantCode || ce.Reason != tt.wantReason {
				t.Fatalf("Run = %v, want *CloseError %d %q", err, tt.wantCode, tt.wantReason)
			}
			if s := h.c.State(); s.State != Closed || s.CloseCode != tt.wantCode || s.Reason != tt.wantReason {
				t.Errorf("state = %+v, want closed with %d %q", s, tt.wantCode, tt.wantReason)
			}
			if tt.wantKicked {
				select {
				case r := <-kicked:
					if r != tt.wantReason {
						t.Errorf("kicked handler got %q, want %q", r, tt.wantReason)
					}
				default:
					t.Error("On[shared.Kicked] handler was not called before Run returned")
				}
			}
			if n := h.ft.dialCount(); n != 1 {
				t.Errorf("client dialled %d times, want 1 (no automatic reconnect)", n)
			}
			if _, err := Request[shared.Reply](context.Background(), h.c, shared.Hello{}); errorCode(err) != shared.CodeClosed {
				t.Errorf("Request after the session ended = %v, want code closed", err)
			}
		})
	}
}

func TestReconnectSkipsBackoff(t *testing.T) {
	h := start(t, Config{MinBackoff: time.Hour, MaxBackoff: time.Hour}, nil)
	p := h.open(t)
	p.drop()
	s := h.states.waitFor(t, "reconnecting", isState(Reconnecting))
	if until := time.Until(s.RetryAt); until < 30*time.Minute {
		t.Fatalf("RetryAt is in %s, want about an hour", until)
	}
	if s.Attempt != 1 || s.CloseCode != 1006 || s.Err == nil {
		t.Errorf("reconnecting state = %+v, want attempt 1, code 1006 and an error", s)
	}
	h.c.Reconnect()
	h.open(t)
}

func TestBackoffGrowsWhileDialsFail(t *testing.T) {
	ft := newFakeTransport()
	ft.setRefuse(errors.New("connection refused"))
	h := start(t, Config{Transport: ft, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}, nil)
	for want := 1; want <= 3; want++ {
		s := h.states.waitFor(t, "reconnecting", isState(Reconnecting))
		if s.Attempt != want || s.Err == nil || !strings.Contains(s.Err.Error(), "connection refused") {
			t.Fatalf("reconnecting state = %+v, want attempt %d with the dial error", s, want)
		}
	}
	h.ft.setRefuse(nil)
	p := h.ft.accept(t)
	p.welcome(t, time.Hour.Milliseconds())
	if s := h.states.waitFor(t, "open", isState(Open)); s.Welcome.Conn != "c1" {
		t.Errorf("open state carries welcome %+v", s.Welcome)
	}
}

func TestBackoffResetsAfterStableConnection(t *testing.T) {
	h := start(t, Config{}, func(c *Client) { c.stableAfter = 0 })
	for range 3 {
		p := h.open(t)
		p.drop()
		if s := h.states.waitFor(t, "reconnecting", isState(Reconnecting)); s.Attempt != 1 {
			t.Fatalf("attempt after a stable connection = %d, want 1", s.Attempt)
		}
	}
}

func TestHalfOpenConnectionIsDropped(t *testing.T) {
	// Long enough for the test to answer a ping in time on a loaded machine.
	h := start(t, Config{PingInterval: 150 * time.Millisecond}, nil)
	p := h.ft.accept(t)
	p.welcome(t, 0)
	h.states.waitFor(t, "open", isState(Open))

	// An answered ping keeps the connection.
	p.reply(t, p.recv(t, "ping"), shared.Pong{})
	p.reply(t, p.recv(t, "ping"), shared.Pong{})
	if p.isClosed() {
		t.Fatal("client dropped a connection that answered its pings")
	}

	// Then the server goes silent: the client pings, waits and reconnects.
	p.recv(t, "ping")
	p.waitClosed(t)
	s := h.states.waitFor(t, "reconnecting", isState(Reconnecting))
	if s.Err == nil || !strings.Contains(s.Err.Error(), "heartbeat") {
		t.Errorf("reconnecting because of %v, want a heartbeat error", s.Err)
	}
	h.ft.accept(t)
}

func TestHeartbeatFromWelcome(t *testing.T) {
	h := start(t, Config{}, nil)
	p := h.ft.accept(t)
	p.welcome(t, 20) // 20ms
	p.recv(t, "ping")
	p.waitClosed(t)
	h.ft.accept(t)
}

func TestReconnectWhileOpenProbes(t *testing.T) {
	h := start(t, Config{}, nil)
	p := h.open(t)
	h.c.Reconnect()
	if env := p.recv(t, "ping"); env.ID == 0 {
		t.Error("probe ping has no id")
	}
}

func TestCloseStopsClient(t *testing.T) {
	h := start(t, Config{}, nil)
	p := h.open(t)
	joinRoom(t, h.c, p, shared.Joined{Room: "lobby", Epoch: "e1"}, 0)
	res := async(func() (shared.Reply, error) {
		return Request[shared.Reply](context.Background(), h.c, shared.Hello{})
	})
	p.recv(t, "hello")
	if err := h.c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := await(t, res); errorCode(err) != shared.CodeClosed {
		t.Errorf("pending Request = %v, want code closed", err)
	}
	if err := h.wait(t); err != nil {
		t.Errorf("Run after Close = %v, want nil", err)
	}
	if code, _ := p.waitClosed(t); code != shared.CloseNormal {
		t.Errorf("socket closed with %d, want 1000", code)
	}
	if s := h.c.State(); s.State != Closed || s.CloseCode != shared.CloseNormal {
		t.Errorf("state = %+v, want closed 1000", s)
	}
	if err := h.c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := h.c.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestContextCancelStopsClient(t *testing.T) {
	h := start(t, Config{MinBackoff: time.Hour, MaxBackoff: time.Hour}, nil)
	p := h.open(t)
	p.drop()
	h.states.waitFor(t, "reconnecting", isState(Reconnecting))
	h.cancel() // while waiting out an hour of backoff
	if err := h.wait(t); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	h.states.waitFor(t, "closed", isState(Closed))
}

func TestCloseBeforeRun(t *testing.T) {
	c := newClient(t, Config{Transport: newFakeTransport()})
	states := recordStates(c)
	c.Close()
	states.waitFor(t, "closed", isState(Closed))
	if err := c.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
	if _, err := c.Join(context.Background(), "lobby", 0); errorCode(err) != shared.CodeClosed {
		t.Errorf("Join after Close = %v, want code closed", err)
	}
}

func TestRunTwice(t *testing.T) {
	h := start(t, Config{}, nil)
	h.open(t)
	if err := h.c.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

func TestNoWelcome(t *testing.T) {
	h := start(t, Config{}, nil)
	p := h.ft.accept(t)
	p.push(t, shared.Envelope{}, shared.Pong{})
	p.waitClosed(t)
	s := h.states.waitFor(t, "reconnecting", isState(Reconnecting))
	if s.Err == nil || !strings.Contains(s.Err.Error(), "welcome") {
		t.Errorf("reconnecting because of %v, want a missing welcome", s.Err)
	}
	h.open(t)
}

// TestRequestRetry: with Retry, a request whose connection is lost before
// the reply is sent again with the same key on the next connection, and
// its reply there is the result; without Retry it fails with closed.
func TestRequestRetry(t *testing.T) {
	h := start(t, Config{}, nil)
	p := h.open(t)
	res := async(func() (shared.Reply, error) {
		return Request[shared.Reply](context.Background(), h.c, testmsg.ChatSend{Room: "lobby", Text: "hi"}, Retry())
	})
	first := p.recv(t, "chat.send")
	if first.Key == "" {
		t.Fatalf("retried request %+v carries no key", first)
	}
	p.drop()
	p2 := h.open(t)
	again := p2.recv(t, "chat.send")
	if again.Key != first.Key {
		t.Fatalf("sent again with key %q, want %q", again.Key, first.Key)
	}
	p2.reply(t, again, shared.Reply{OK: true})
	if r, err := await(t, res); err != nil || !r.OK {
		t.Fatalf("Request with Retry = %+v, %v; want the reply from the second connection", r, err)
	}

	plain := async(func() (shared.Reply, error) {
		return Request[shared.Reply](context.Background(), h.c, testmsg.ChatSend{Room: "lobby", Text: "hi"})
	})
	if env := p2.recv(t, "chat.send"); env.Key != "" {
		t.Errorf("a request without Retry carries key %q", env.Key)
	}
	p2.drop()
	if _, err := await(t, plain); errorCode(err) != shared.CodeClosed {
		t.Fatalf("Request without Retry after a drop = %v, want code closed", err)
	}
}
