package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// card is a map value of these tests.
type card struct {
	Page string `json:"page"`
}

// newBoard declares the map "board" on s.
func newBoard(t *testing.T, s *server.Server, opts server.MapOptions) *server.Map[string, card] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	m, err := server.NewMap[string, card](ctx, s, "board", opts)
	if err != nil {
		t.Fatalf("NewMap: %v", err)
	}
	return m
}

func set(t *testing.T, m *server.Map[string, card], key, page string, opts ...server.MapWriteOption) uint64 {
	t.Helper()
	rev, err := m.Set(context.Background(), key, card{page}, opts...)
	if err != nil {
		t.Fatalf("Set %s: %v", key, err)
	}
	return rev
}

// subscribe sends map.sub and reads the answer and what follows it: the
// snapshot's pages or the catch-up's changes.
func subscribe(tc *testClient, sub shared.MapSub) (shared.MapSubscribed, []shared.MapSnapshot, []shared.MapChange) {
	tc.t.Helper()
	id := tc.request(sub)
	ans := expectReply[shared.MapSubscribed](tc, id)
	var pages []shared.MapSnapshot
	var changes []shared.MapChange
	for range ans.Pages {
		pages = append(pages, expect[shared.MapSnapshot](tc).msg)
	}
	if !ans.Snapshot {
		for range ans.Changes {
			changes = append(changes, expect[shared.MapChange](tc).msg)
		}
	}
	return ans, pages, changes
}

func pageKeys(pages []shared.MapSnapshot) []string {
	var keys []string
	for _, p := range pages {
		for _, e := range p.Entries {
			keys = append(keys, e.Key+"="+string(e.Value))
		}
	}
	return keys
}

func TestMapSubscribeSnapshotThenChanges(t *testing.T) {
	var board *server.Map[string, card]
	e := startServer(t, server.Config{}, func(s *server.Server) { board = newBoard(t, s, server.MapOptions{}) })
	set(t, board, "bob", "ticker")
	r2 := set(t, board, "alice", "chat")

	tc := e.dial("carol")
	ans, pages, _ := subscribe(tc, shared.MapSub{Map: "board"})
	if !ans.Snapshot || ans.Keys != 2 || ans.Pages != 1 || ans.Rev != r2 || ans.Epoch == "" {
		t.Fatalf("map.subscribed %+v: want a snapshot of 2 keys in 1 page at rev %d", ans, r2)
	}
	if got, want := fmt.Sprint(pageKeys(pages)), `[alice={"page":"chat"} bob={"page":"ticker"}]`; got != want {
		t.Errorf("snapshot %s, want %s (sorted by key)", got, want)
	}
	if pages[0].More || pages[0].Rev != r2 {
		t.Errorf("the only page says more=%v rev=%d", pages[0].More, pages[0].Rev)
	}
	r3 := set(t, board, "alice", "danmaku")
	if _, err := board.Delete(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	ch := expect[shared.MapChange](tc).msg
	if ch.Rev != r3 || ch.Op != shared.MapOpSet || ch.Key != "alice" || string(ch.Value) != `{"page":"danmaku"}` {
		t.Errorf("first change %+v", ch)
	}
	ch = expect[shared.MapChange](tc).msg
	if ch.Rev <= r3 || ch.Op != shared.MapOpDelete || ch.Key != "bob" {
		t.Errorf("second change %+v", ch)
	}
	if v, rev, ok := board.Get("alice"); !ok || v.Page != "danmaku" || rev != r3 {
		t.Errorf("server Get(alice) = %v %d %v", v, rev, ok)
	}
}

func TestMapSnapshotPaged(t *testing.T) {
	var board *server.Map[string, card]
	e := startServer(t, server.Config{}, func(s *server.Server) { board = newBoard(t, s, server.MapOptions{}) })
	const n = 1234
	for i := range n {
		set(t, board, fmt.Sprintf("k%05d", i), "p")
	}
	tc := e.dial("carol")
	ans, pages, _ := subscribe(tc, shared.MapSub{Map: "board"})
	if ans.Keys != n || ans.Pages != 3 || len(pages) != 3 {
		t.Fatalf("map.subscribed %+v with %d pages: want %d keys in 3 pages of at most 500", ans, len(pages), n)
	}
	keys := pageKeys(pages)
	if len(keys) != n || !sort.StringsAreSorted(keys) {
		t.Errorf("pages hold %d keys (sorted: %v), want %d sorted", len(keys), sort.StringsAreSorted(keys), n)
	}
	for i, p := range pages {
		if p.More != (i < 2) {
			t.Errorf("page %d more=%v", i, p.More)
		}
	}
}

func TestMapResumeByChangesOrSnapshot(t *testing.T) {
	var board *server.Map[string, card]
	e := startServer(t, server.Config{}, func(s *server.Server) { board = newBoard(t, s, server.MapOptions{Changes: 4}) })
	set(t, board, "a", "1")
	tc := e.dial("carol")
	ans, _, _ := subscribe(tc, shared.MapSub{Map: "board"})
	tc.close()

	set(t, board, "b", "2")
	r := set(t, board, "a", "3")
	tc = e.dial("carol")
	got, _, changes := subscribe(tc, shared.MapSub{Map: "board", Epoch: ans.Epoch, Rev: ans.Rev})
	if got.Snapshot || got.Changes != 2 || got.Rev != r || len(changes) != 2 || changes[0].Key != "b" || changes[1].Key != "a" {
		t.Fatalf("resume from %d: %+v %+v, want the 2 changes missed", ans.Rev, got, changes)
	}
	tc.close()

	for i := range 10 { // more than the 4(+1) changes kept
		set(t, board, "c", fmt.Sprint(i))
	}
	tc = e.dial("carol")
	got, pages, _ := subscribe(tc, shared.MapSub{Map: "board", Epoch: ans.Epoch, Rev: r})
	if !got.Snapshot || got.Keys != 3 {
		t.Fatalf("resume from a revision whose changes are gone: %+v, want a fresh snapshot of 3 keys", got)
	}
	if fmt.Sprint(pageKeys(pages)) != `[a={"page":"3"} b={"page":"2"} c={"page":"9"}]` {
		t.Errorf("snapshot %v", pageKeys(pages))
	}
	got, _, _ = subscribe(tc, shared.MapSub{Map: "board", Epoch: "another-epoch", Rev: 1})
	if !got.Snapshot {
		t.Errorf("resume in another epoch: %+v, want a snapshot", got)
	}
}

func TestMapClientWritesThroughHandler(t *testing.T) {
	var board *server.Map[string, card]
	e := startServer(t, server.Config{}, func(s *server.Server) { board = newBoard(t, s, server.MapOptions{}) })
	tc := e.dial("carol")
	id := tc.request(shared.MapSet{Map: "board", Key: "carol", Value: json.RawMessage(`{"page":"chat"}`)})
	if e := expectReply[shared.Error](tc, id); e.Code != shared.CodeForbidden {
		t.Fatalf("a write without a handler: %+v, want forbidden", e)
	}
	board.OnWrite(func(ctx context.Context, w server.ClientWrite[string, card]) (card, error) {
		if w.Key != w.Conn.User() {
			return card{}, &shared.Error{Code: shared.CodeForbidden, Message: "write your own key"}
		}
		return card{Page: w.Value.Page + "!"}, nil
	})
	subscribe(tc, shared.MapSub{Map: "board"})
	zero := uint64(0)
	id = tc.request(shared.MapSet{Map: "board", Key: "carol", Value: json.RawMessage(`{"page":"chat"}`), IfRev: &zero})
	w, ch := writtenAndChange(tc, id)
	if ch.Rev != w.Rev || string(ch.Value) != `{"page":"chat!"}` {
		t.Errorf("written %+v, change %+v: want the handler's value at the written revision", w, ch)
	}
	for _, tcase := range []struct {
		msg  shared.Message
		code string
	}{
		{shared.MapSet{Map: "board", Key: "carol", Value: json.RawMessage(`{"page":"x"}`), IfRev: &zero}, shared.CodeConflict},
		{shared.MapDelete{Map: "board", Key: "carol", IfRev: new(w.Rev - 1)}, shared.CodeConflict},
		{shared.MapSet{Map: "board", Key: "dave", Value: json.RawMessage(`{"page":"x"}`)}, shared.CodeForbidden},
		{shared.MapSet{Map: "board", Key: "carol", Value: json.RawMessage(`{"pages":"x"}`)}, shared.CodeBadData},
		{shared.MapSet{Map: "nope", Key: "carol", Value: json.RawMessage(`1`)}, shared.CodeNotFound},
	} {
		id := tc.request(tcase.msg)
		if e := expectReply[shared.Error](tc, id); e.Code != tcase.code {
			t.Errorf("%+v: %+v, want %s", tcase.msg, e, tcase.code)
		}
	}
	id = tc.request(shared.MapDelete{Map: "board", Key: "carol", IfRev: &w.Rev})
	d, ch := writtenAndChange(tc, id)
	if ch.Op != shared.MapOpDelete || ch.Rev != d.Rev {
		t.Errorf("delete change %+v, written %+v", ch, d)
	}
	if _, err := board.Set(context.Background(), "x", card{}, server.IfRev(12345)); !errors.Is(err, server.ErrConflict) {
		t.Errorf("server Set with a stale IfRev: %v, want ErrConflict", err)
	}
}

func TestMapKeyTTLExpires(t *testing.T) {
	var board *server.Map[string, card]
	e := startServer(t, server.Config{}, func(s *server.Server) { board = newBoard(t, s, server.MapOptions{}) })
	tc := e.dial("carol")
	subscribe(tc, shared.MapSub{Map: "board"})
	rev := set(t, board, "blip", "x", server.TTL(50*time.Millisecond))
	set(t, board, "stays", "y")
	expect[shared.MapChange](tc)
	expect[shared.MapChange](tc)
	ch := expect[shared.MapChange](tc).msg
	if ch.Op != shared.MapOpExpire || ch.Key != "blip" || ch.Rev <= rev {
		t.Fatalf("after the TTL: %+v, want an expire of blip", ch)
	}
	if _, _, ok := board.Get("blip"); ok {
		t.Error("the expired key is still in the server's copy")
	}
	if _, _, ok := board.Get("stays"); !ok {
		t.Error("a key without TTL went")
	}
}

func TestMapUnsubStopsChanges(t *testing.T) {
	var board *server.Map[string, card]
	e := startServer(t, server.Config{}, func(s *server.Server) { board = newBoard(t, s, server.MapOptions{}) })
	tc := e.dial("carol")
	subscribe(tc, shared.MapSub{Map: "board"})
	id := tc.request(shared.MapUnsub{Map: "board"})
	expectReply[shared.Reply](tc, id)
	set(t, board, "a", "1")
	tc.ping() // pong comes, and no change before it
}

// writtenAndChange reads the answer to write request id and the change it
// made, which may come first (the protocol does not order them).
func writtenAndChange(tc *testClient, id uint64) (shared.MapWritten, shared.MapChange) {
	tc.t.Helper()
	var (
		w           shared.MapWritten
		ch          shared.MapChange
		gotW, gotCh bool
	)
	for !gotW || !gotCh {
		r := tc.next()
		switch m := r.msg.(type) {
		case shared.MapWritten:
			if r.env.ID != id {
				tc.t.Fatalf("map.written for request %d, want %d", r.env.ID, id)
			}
			w, gotW = m, true
		case shared.MapChange:
			ch, gotCh = m, true
		default:
			tc.t.Fatalf("got %s %+v, want map.written and map.change", r.env.Type, r.msg)
		}
	}
	return w, ch
}
