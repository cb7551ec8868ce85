//go:build !js

package client_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// memStore is an OutboxStore in memory with the semantics of
// BrowserOutboxStore (records with leases, claims under one lock), shared
// by the clients of a test as localStorage is by a browser's tabs.
type memStore struct {
	mu      sync.Mutex
	now     func() time.Time
	records map[string]map[string]*memRecord // scope → owner → record
	mine    map[string]bool                  // scope+owner saved and not deleted
}

type memRecord struct {
	lease, since time.Time
	sends        []client.StoredSend
}

func newMemStore() *memStore {
	return &memStore{now: time.Now, records: make(map[string]map[string]*memRecord), mine: make(map[string]bool)}
}

func (s *memStore) Save(scope, owner string, sends []client.StoredSend) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[scope][owner]
	if s.mine[scope+"|"+owner] && !ok {
		delete(s.mine, scope+"|"+owner)
		return client.ErrOutboxTaken
	}
	if len(sends) == 0 {
		delete(s.records[scope], owner)
		delete(s.mine, scope+"|"+owner)
		return nil
	}
	if !ok {
		rec = &memRecord{since: s.now()}
		if s.records[scope] == nil {
			s.records[scope] = make(map[string]*memRecord)
		}
		s.records[scope][owner] = rec
	}
	rec.lease, rec.sends = s.now().Add(client.OutboxLease), slices.Clone(sends)
	s.mine[scope+"|"+owner] = true
	return nil
}

func (s *memStore) Release(scope, owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.records[scope][owner]; ok {
		rec.lease = time.Time{}
	}
}

func (s *memStore) Claim(_ context.Context, scope, owner string) ([]client.StoredSend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var orphans []string
	for o, rec := range s.records[scope] {
		if o != owner && !rec.lease.After(s.now()) {
			orphans = append(orphans, o)
		}
	}
	slices.SortFunc(orphans, func(a, b string) int {
		return s.records[scope][a].since.Compare(s.records[scope][b].since)
	})
	var claimed []client.StoredSend
	for _, o := range orphans {
		claimed = append(claimed, s.records[scope][o].sends...)
		delete(s.records[scope], o)
	}
	if len(claimed) > 0 {
		own, ok := s.records[scope][owner]
		if !ok {
			own = &memRecord{since: s.now()}
			s.records[scope][owner] = own
		}
		own.sends = append(slices.Clone(claimed), own.sends...)
		own.lease = s.now().Add(client.OutboxLease)
		s.mine[scope+"|"+owner] = true
	}
	return claimed, nil
}

func (s *memStore) Drop(scope string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for o := range s.records[scope] {
		delete(s.mine, scope+"|"+o)
	}
	delete(s.records, scope)
	return nil
}

// stored counts the sends kept for every scope.
func (s *memStore) stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, recs := range s.records {
		for _, r := range recs {
			n += len(r.sends)
		}
	}
	return n
}

// chatWatcher is a client in room that records the chat lines it sees.
type chatWatcher struct {
	mu    sync.Mutex
	lines []string
	seen  chan string
}

func watchRoom(t *testing.T, s *tethertest.Server, room string) *chatWatcher {
	t.Helper()
	w := &chatWatcher{seen: make(chan string, 100)}
	c := tethertest.NewClient(t, client.Config{URL: s.URL("watcher")})
	client.On(c, func(m testmsg.ChatMessage) {
		w.mu.Lock()
		w.lines = append(w.lines, m.Text)
		w.mu.Unlock()
		w.seen <- m.Text
	})
	tethertest.Run(t, c)
	if _, err := c.Join(context.Background(), room, 0); err != nil {
		t.Fatal(err)
	}
	return w
}

// waitLine waits for the line text.
func (w *chatWatcher) waitLine(t *testing.T, text string) {
	t.Helper()
	for {
		if got := tethertest.Receive(t, w.seen, "chat line "+text); got == text {
			return
		}
	}
}

func (w *chatWatcher) got() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

// hiddenWithSends runs a client of user alice in room with store, hides it
// (its connection is lost), makes sends while it is hidden, and hides it
// again (the page goes away).
func hiddenWithSends(t *testing.T, s *tethertest.Server, store client.OutboxStore, room string, texts ...string) *client.Client {
	t.Helper()
	a := s.Client(t, "alice", client.Config{OutboxStore: store, MinBackoff: 50 * time.Millisecond})
	if _, err := a.Join(context.Background(), room, 0); err != nil {
		t.Fatal(err)
	}
	a.Hide()
	tethertest.WaitUntil(t, "alice hidden", func() bool {
		st := a.State()
		return st.State == client.Reconnecting && st.Hidden
	})
	for _, text := range texts {
		if err := a.Send(context.Background(), testmsg.ChatSend{Room: room, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	a.Hide() // the page goes away for good (pagehide): its lease ends
	return a
}

// TestStoredOutboxSentByTheNextPage: what a page queued while hidden and
// never sent is sent, once each and in order, by the user's next page
// (client) sharing the store, before that page's own sends; the page
// connects before the app joins the room again, so the first attempt may
// meet not_joined and must go again after the join.
func TestStoredOutboxSentByTheNextPage(t *testing.T) {
	s := startServer(t, server.Config{})
	store := newMemStore()
	w := watchRoom(t, s, "r")
	a := hiddenWithSends(t, s, store, "r", "one", "two")
	if n := store.stored(); n != 2 {
		t.Fatalf("the store keeps %d sends after two made while hidden, want 2", n)
	}
	_ = a.Close() // the page is gone (pagehide released it)

	b := s.Client(t, "alice", client.Config{OutboxStore: store})
	if _, err := b.Join(context.Background(), "r", 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(context.Background(), testmsg.ChatSend{Room: "r", Text: "three"}); err != nil {
		t.Fatal(err)
	}
	w.waitLine(t, "three")
	if got := w.got(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Errorf("the room got %q, want one, two, three once each", got)
	}
	tethertest.WaitUntil(t, "the store emptied", func() bool { return store.stored() == 0 })
}

// TestStoredOutboxTakenOverIsNotSentTwice: a page hidden with unsent lines
// (released on pagehide) whose lines another page of the user took over
// and sent does not send them again when it is shown (Back).
func TestStoredOutboxTakenOverIsNotSentTwice(t *testing.T) {
	s := startServer(t, server.Config{})
	store := newMemStore()
	w := watchRoom(t, s, "r")
	a := hiddenWithSends(t, s, store, "r", "one", "two")

	b := s.Client(t, "alice", client.Config{OutboxStore: store})
	if _, err := b.Join(context.Background(), "r", 0); err != nil {
		t.Fatal(err)
	}
	w.waitLine(t, "two")

	a.Show()
	tethertest.WaitUntil(t, "alice open again with an empty outbox", func() bool {
		return a.State().State == client.Open && a.Outbox() == 0
	})
	if err := a.Send(context.Background(), testmsg.ChatSend{Room: "r", Text: "back"}); err != nil {
		t.Fatal(err)
	}
	w.waitLine(t, "back")
	if got := w.got(); !slices.Equal(got, []string{"one", "two", "back"}) {
		t.Errorf("the room got %q, want one, two, back once each", got)
	}
}

// TestDropOutbox: signing out drops the queue, also what is stored for the
// next page.
func TestDropOutbox(t *testing.T) {
	s := startServer(t, server.Config{})
	store := newMemStore()
	w := watchRoom(t, s, "r")
	a := hiddenWithSends(t, s, store, "r", "dropped")
	if err := a.DropOutbox(); err != nil {
		t.Fatal(err)
	}
	if a.Outbox() != 0 || store.stored() != 0 {
		t.Fatalf("after DropOutbox the client holds %d sends and the store %d, want none", a.Outbox(), store.stored())
	}
	_ = a.Close()
	b := s.Client(t, "alice", client.Config{OutboxStore: store})
	if _, err := b.Join(context.Background(), "r", 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(context.Background(), testmsg.ChatSend{Room: "r", Text: "after"}); err != nil {
		t.Fatal(err)
	}
	w.waitLine(t, "after")
	if got := w.got(); !slices.Equal(got, []string{"after"}) {
		t.Errorf("the room got %q, want only the line sent after the sign-out", got)
	}
}

// TestHideLeavesAndShowResumes: Hide closes the connection at once (the
// room sees the member leave) and keeps the client from reconnecting, even
// when asked to; Show connects again through Reconnecting and resumes the
// room with what was said meanwhile.
func TestHideLeavesAndShowResumes(t *testing.T) {
	s := startServer(t, server.Config{})
	presence := make(chan string, 10)
	wc := tethertest.NewClient(t, client.Config{URL: s.URL("watcher")})
	client.On(wc, func(m shared.PresenceLeave) { presence <- "leave " + m.Member.User })
	client.On(wc, func(m shared.PresenceJoin) { presence <- "join " + m.Member.User })
	tethertest.Run(t, wc)
	if _, err := wc.Join(context.Background(), "r", 0); err != nil {
		t.Fatal(err)
	}

	a := tethertest.NewClient(t, client.Config{URL: s.URL("alice")})
	lines := make(chan string, 10)
	client.On(a, func(m testmsg.ChatMessage) { lines <- m.Text })
	var mu sync.Mutex
	var states []string
	a.OnState(func(si client.StateInfo) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, fmt.Sprintf("%s hidden=%v", si.State, si.Hidden))
	})
	tethertest.Run(t, a)
	if _, err := a.Join(context.Background(), "r", 0); err != nil {
		t.Fatal(err)
	}
	for tethertest.Receive(t, presence, "alice joins") != "join alice" {
	}

	a.Hide()
	for tethertest.Receive(t, presence, "alice leaves") != "leave alice" {
	}
	a.Reconnect() // the online event, say: still hidden
	if err := wc.Send(context.Background(), testmsg.ChatSend{Room: "r", Text: "while hidden"}); err != nil {
		t.Fatal(err)
	}
	a.Show()
	if got := tethertest.Receive(t, lines, "the line said while hidden"); got != "while hidden" {
		t.Errorf("after Show alice got %q first, want the line said while hidden", got)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"connecting hidden=false", "open hidden=false", "reconnecting hidden=true", "connecting hidden=false", "open hidden=false"}
	if !slices.Equal(states, want) {
		t.Errorf("states %q, want %q: hidden, the client waits for Show and reconnects through reconnecting", states, want)
	}
}
