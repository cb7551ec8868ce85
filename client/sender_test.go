package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/shared"
)

// TestSendWindow: the outbox writes up to SendWindow messages ahead of
// their answers, as ordered sends of round 1; when the oldest is not run
// (unavailable) it writes it and those after it again, with their keys,
// in round 2, and the not-run answers reach no handler. After rate_limited
// it writes one message at a time.
func TestSendWindow(t *testing.T) {
	errs := make(chan shared.Error, 8)
	h := start(t, Config{SendWindow: 3}, func(c *Client) {
		On(c, func(e shared.Error) { errs <- e })
	})
	for i := 1; i <= 6; i++ {
		if err := h.c.Send(context.Background(), testmsg.ChatSend{Room: "lobby", Text: fmt.Sprintf("s%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	p := h.open(t)
	keys := map[string]string{}
	next := func(want string, round uint64) shared.Envelope {
		t.Helper()
		env := p.recv(t, "chat.send")
		var m testmsg.ChatSend
		decodeData(t, env, &m)
		if m.Text != want || env.Round != round || env.Key == "" {
			t.Fatalf("client wrote %q round %d key %q, want %q in round %d with a key", m.Text, env.Round, env.Key, want, round)
		}
		if k, seen := keys[want]; seen && k != env.Key {
			t.Fatalf("%q written again with key %q, want its first key %q", want, env.Key, k)
		}
		keys[want] = env.Key
		return env
	}
	s1, s2 := next("s1", 1), next("s2", 1)
	next("s3", 1)
	// The window is full: s4 goes only once s1 is answered.
	p.reply(t, s1, shared.Reply{OK: true})
	next("s4", 1)
	// s2 is not run: the server held s3 and s4 back. Round 2 starts at s2.
	p.reply(t, s2, shared.Error{Code: shared.CodeUnavailable, Message: "not run"})
	s2 = next("s2", 2)
	s3 := next("s3", 2)
	s4 := next("s4", 2)
	p.reply(t, s2, shared.Reply{OK: true})
	p.reply(t, s3, shared.Reply{OK: true})
	next("s5", 2)
	next("s6", 2)
	// rate_limited: from now on one at a time.
	p.reply(t, s4, shared.Error{Code: shared.CodeRateLimited, Message: "slow down"})
	s4 = next("s4", 3)
	p.reply(t, s4, shared.Reply{OK: true})
	s5 := next("s5", 3)
	p.reply(t, s5, shared.Reply{OK: true})
	s6 := next("s6", 3)
	p.reply(t, s6, shared.Error{Code: shared.CodeNotJoined, Message: "join first"})
	select {
	case e := <-errs:
		if e.Code != shared.CodeNotJoined {
			t.Fatalf("handlers got %+v first, want only the final not_joined (unavailable and rate_limited are sent again)", e)
		}
	case <-time.After(waitLimit):
		t.Fatal("the final error never reached the handlers")
	}
	// The handlers hear of the answer before the sender: wait for it.
	for deadline := time.Now().Add(waitLimit); h.c.Outbox() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("Outbox() = %d %v after every send was answered, want 0", h.c.Outbox(), waitLimit)
		}
		time.Sleep(time.Millisecond)
	}
}
