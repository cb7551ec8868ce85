package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// sendOrdered sends m as request id with key key, an ordered send of round.
func (tc *testClient) sendOrdered(id uint64, key string, round uint64, m shared.Message) {
	tc.t.Helper()
	b, err := shared.Encode(shared.Envelope{ID: id, Key: key, Round: round}, m)
	if err != nil {
		tc.t.Fatalf("%s: encode %s: %v", tc.name, m.MessageType(), err)
	}
	tc.sendRaw(websocket.TextMessage, b)
}

// TestOrderedSendsHeldAfterRefusal: ordered sends written ahead of their
// answers (docs/protocol.md §3) are applied in their order even when one
// of them is not run: the ones after it in its round are refused
// unavailable without running, and a new round with the refused one first
// applies the rest once each, in order. Sends outside the rounds (no
// round) and later rounds are not held; a round without a key is
// malformed.
func TestOrderedSendsHeldAfterRefusal(t *testing.T) {
	var mu sync.Mutex
	var applied []string
	failed := map[string]bool{}
	e := startServer(t, server.Config{}, func(s *server.Server) {
		server.Handle(s, func(ctx context.Context, c *server.Conn, m testmsg.ChatSend) error {
			mu.Lock()
			defer mu.Unlock()
			if m.Text == "s2" && !failed[m.Text] {
				failed[m.Text] = true // a dependency fails the first time
				return fmt.Errorf("store: %w", server.ErrUnavailable)
			}
			applied = append(applied, m.Text)
			return nil
		})
	})
	tc := e.dial("alice")
	send := func(id uint64, i int, round uint64) {
		tc.sendOrdered(id, fmt.Sprintf("k-%d", i), round, testmsg.ChatSend{Room: "r", Text: fmt.Sprintf("s%d", i)})
	}
	// Round 1: s1..s5 written at once; s2 is not run.
	for i := 1; i <= 5; i++ {
		send(uint64(i), i, 1)
	}
	if r := expectReply[shared.Reply](tc, 1); !r.OK {
		t.Fatalf("s1 answered %+v", r)
	}
	for id := uint64(2); id <= 5; id++ {
		if got := expectReply[shared.Error](tc, id); got.Code != shared.CodeUnavailable {
			t.Fatalf("round 1 send %d answered %+v, want unavailable (s2 failed; the rest held back)", id, got)
		}
	}
	// A keyed request outside the rounds is not held.
	tc.sendKeyed(6, "other", testmsg.ChatSend{Room: "r", Text: "free"})
	if r := expectReply[shared.Reply](tc, 6); !r.OK {
		t.Fatalf("a keyed request without a round answered %+v, want ok", r)
	}
	// Round 2: s2..s5 again with their keys.
	for i := 2; i <= 5; i++ {
		send(uint64(10+i), i, 2)
	}
	for i := 2; i <= 5; i++ {
		if r := expectReply[shared.Reply](tc, uint64(10+i)); !r.OK {
			t.Fatalf("round 2 s%d answered %+v", i, r)
		}
	}
	// A late frame of round 1 is still held: it was written before the
	// client knew.
	send(20, 6, 1)
	if got := expectReply[shared.Error](tc, 20); got.Code != shared.CodeUnavailable {
		t.Fatalf("a round 1 send after round 2 answered %+v, want unavailable", got)
	}
	mu.Lock()
	if got, want := fmt.Sprint(applied), "[s1 free s2 s3 s4 s5]"; got != want {
		t.Errorf("applied %s, want %s: once each, in the order written", got, want)
	}
	mu.Unlock()

	b, _ := shared.Encode(shared.Envelope{ID: 30, Round: 3}, testmsg.ChatSend{Room: "r", Text: "x"})
	tc.sendRaw(websocket.TextMessage, b)
	if got := expectReply[shared.Error](tc, 30); got.Code != shared.CodeMalformed || got.Field != "round" {
		t.Fatalf("a round without a key answered %+v, want malformed, field round", got)
	}
}
