//go:build !js

package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/client/session"
	"github.com/tetherkit/tether/shared"

	"github.com/tetherkit/tether/examples/poll/msg"
)

const adminKey = "test-admin-key"

// start runs the backend on 127.0.0.1 with a stand-in web directory (the
// page is the browser test's business).
func start(t *testing.T) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), Config{WebDir: dir, AdminKey: adminKey, Options: []string{"Go", "Rust", "Zig"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
		ts.Close()
	})
	return ts
}

// voter is a signed-in guest's client, subscribed to the poll's map.
type voter struct {
	c       *client.Client
	poll    *client.Map[string, msg.Tally]
	changed chan struct{} // a change of the map's copy
}

func join(t *testing.T, ctx context.Context, base, name string) *voter {
	t.Helper()
	login, err := session.New(base)
	if err != nil {
		t.Fatal(err)
	}
	me, err := login.Guest(ctx, name)
	if err != nil {
		t.Fatalf("guest login: %v", err)
	}
	c, err := client.New(client.Config{
		URL:       login.WebSocketURL(),
		Registry:  msg.NewRegistry(),
		Transport: client.NativeTransport{Header: http.Header{"Authorization": {"Bearer " + me.Token}}},
		Token:     login.Token,
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := client.NewMap[string, msg.Tally](c, msg.Map)
	if err != nil {
		t.Fatal(err)
	}
	v := &voter{c: c, poll: m, changed: make(chan struct{}, 1)}
	m.OnChange(func(client.Change[string, msg.Tally]) {
		select {
		case v.changed <- struct{}{}:
		default:
		}
	})
	go c.Run(ctx)
	t.Cleanup(func() { _ = c.Close() })
	if err := m.Subscribe(ctx); err != nil {
		t.Fatalf("%s subscribes: %v", name, err)
	}
	return v
}

func (v *voter) vote(t *testing.T, ctx context.Context, option string) msg.Ballot {
	t.Helper()
	b, err := client.Request[msg.Ballot](ctx, v.c, msg.Vote{Option: option})
	if err != nil {
		t.Fatalf("vote %s: %v", option, err)
	}
	return b
}

// tally is the voter's copy of the tally.
func (v *voter) tally() msg.Tally {
	e, _, _ := v.poll.Get(msg.TallyKey)
	return e
}

// waitCounts waits until the voter's copy of the map shows want in round.
func (v *voter) waitCounts(t *testing.T, ctx context.Context, want [3]int, round uint64) msg.Tally {
	t.Helper()
	for {
		if tl := v.tally(); counts(tl) == want && tl.Round == round {
			return tl
		}
		select {
		case <-v.changed:
		case <-ctx.Done():
			tl := v.tally()
			t.Fatalf("the copy shows %v in round %d, want %v in round %d", counts(tl), tl.Round, want, round)
		}
	}
}

func counts(tl msg.Tally) [3]int { return [3]int{tl.Votes("Go"), tl.Votes("Rust"), tl.Votes("Zig")} }

// TestPoll: votes count once per user, a changed vote moves, a late joiner
// gets the counts in the map's snapshot, an unknown option is refused,
// pages may not write the map, and the admin reset empties the poll for
// everyone.
func TestPoll(t *testing.T) {
	ts := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, bob := join(t, ctx, ts.URL, "Alice"), join(t, ctx, ts.URL, "Bob")
	if tl := alice.tally(); tl.Question != DefaultQuestion || counts(tl) != [3]int{} {
		t.Fatalf("Alice's snapshot: %+v, want the question and no votes", tl)
	}

	if b := alice.vote(t, ctx, "Go"); b.Mine != "Go" || b.Round != 0 {
		t.Fatalf("Alice's ballot %+v, want her vote for Go in round 0", b)
	}
	bob.waitCounts(t, ctx, [3]int{1, 0, 0}, 0)
	bob.vote(t, ctx, "Rust")
	alice.waitCounts(t, ctx, [3]int{1, 1, 0}, 0)
	_, revBefore, _ := alice.poll.Get(msg.TallyKey)
	alice.vote(t, ctx, "Go") // the same vote again: no change of the map
	alice.vote(t, ctx, "Zig")
	alice.waitCounts(t, ctx, [3]int{0, 1, 1}, 0)
	if _, rev, _ := alice.poll.Get(msg.TallyKey); rev <= revBefore {
		t.Fatalf("the tally's revision %d after Alice's change, want above %d", rev, revBefore)
	}
	bob.waitCounts(t, ctx, [3]int{0, 1, 1}, 0)

	// A late joiner: the counts at once from the snapshot, and no vote of
	// its own.
	carol := join(t, ctx, ts.URL, "Carol")
	if tl := carol.tally(); counts(tl) != [3]int{0, 1, 1} || tl.Question != DefaultQuestion {
		t.Fatalf("Carol's snapshot: %+v, want [0 1 1] and the question", tl)
	}
	if look, err := client.Request[msg.Ballot](ctx, carol.c, msg.Look{}); err != nil || look.Mine != "" {
		t.Fatalf("Carol's look: %+v %v, want no vote", look, err)
	}
	if look, err := client.Request[msg.Ballot](ctx, alice.c, msg.Look{}); err != nil || look.Mine != "Zig" {
		t.Fatalf("Alice's look: %+v %v, want Zig", look, err)
	}

	_, err := client.Request[msg.Ballot](ctx, carol.c, msg.Vote{Option: "Cobol"})
	var se *shared.Error
	if !errors.As(err, &se) || se.Code != shared.CodeBadData {
		t.Fatalf("a vote for Cobol: %v, want bad_data", err)
	}
	// The map is the server's: a page's write is refused.
	if _, err := carol.poll.Set(ctx, msg.TallyKey, msg.Tally{}); !errors.As(err, &se) || se.Code != shared.CodeForbidden {
		t.Fatalf("a page writes the tally: %v, want forbidden", err)
	}

	// The admin reset: refused without the key, then everyone sees zeros.
	for _, key := range []string{"", "wrong"} {
		if code := reset(t, ts.URL, key); code != http.StatusUnauthorized {
			t.Fatalf("reset with key %q: %d, want 401", key, code)
		}
	}
	if code := reset(t, ts.URL, adminKey); code != http.StatusOK {
		t.Fatalf("reset: %d, want 200", code)
	}
	bob.waitCounts(t, ctx, [3]int{}, 1)
	carol.waitCounts(t, ctx, [3]int{}, 1)
	if look, err := client.Request[msg.Ballot](ctx, alice.c, msg.Look{}); err != nil || look.Mine != "" || look.Round != 1 {
		t.Fatalf("Alice's vote after the reset: %+v %v, want none in round 1", look, err)
	}
	// A vote after the reset counts once, in the new round.
	alice.vote(t, ctx, "Zig")
	bob.waitCounts(t, ctx, [3]int{0, 0, 1}, 1)
}

// TestConcurrentVotes: many voters at once, every vote counted once (the
// compare-and-set retries on conflict).
func TestConcurrentVotes(t *testing.T) {
	ts := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 8
	voters := make([]*voter, n)
	for i := range voters {
		voters[i] = join(t, ctx, ts.URL, fmt.Sprintf("V%d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, v := range voters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opt := []string{"Go", "Rust", "Zig"}[i%3]
			if _, err := client.Request[msg.Ballot](ctx, v.c, msg.Vote{Option: opt}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("vote: %v", err)
	}
	voters[0].waitCounts(t, ctx, [3]int{3, 3, 2}, 0)
}

func reset(t *testing.T, base, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/admin/reset", nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		var tl msg.Tally
		if err := json.NewDecoder(resp.Body).Decode(&tl); err != nil || tl.Total() != 0 {
			t.Fatalf("reset answered %+v %v, want the empty tally", tl, err)
		}
	}
	return resp.StatusCode
}

// TestAdminOff: without an admin key the reset endpoint is off.
func TestAdminOff(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), Config{WebDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/admin/reset", nil))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("reset without an admin key configured: %d, want 403", rec.Code)
	}
}

// TestConfigRefused: options must be distinct and non-empty.
func TestConfigRefused(t *testing.T) {
	for _, opts := range [][]string{{"Go", "Go"}, {"Go", " "}} {
		if _, err := New(context.Background(), Config{Options: opts, WebDir: t.TempDir()}); err == nil {
			t.Errorf("New with options %q: no error", opts)
		}
	}
}
