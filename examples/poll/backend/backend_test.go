package backend

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	a, err := New(Config{WebDir: dir, AdminKey: adminKey, Options: []string{"Go", "Rust", "Zig"}})
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

// voter is a signed-in guest's client, joined to the poll's room, with
// the tallies it received.
type voter struct {
	c       *client.Client
	tallies chan msg.Tally
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
	v := &voter{c: c, tallies: make(chan msg.Tally, 64)}
	client.On(c, func(tl msg.Tally) { v.tallies <- tl })
	go c.Run(ctx)
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Join(ctx, msg.Room, 0); err != nil {
		t.Fatalf("%s joins: %v", name, err)
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

// waitTally waits for a published tally with rev.
func (v *voter) waitTally(t *testing.T, ctx context.Context, rev uint64) msg.Tally {
	t.Helper()
	for {
		select {
		case tl := <-v.tallies:
			if tl.Rev == rev {
				return tl
			}
		case <-ctx.Done():
			t.Fatalf("no tally with rev %d", rev)
		}
	}
}

func counts(tl msg.Tally) [3]int { return [3]int{tl.Votes("Go"), tl.Votes("Rust"), tl.Votes("Zig")} }

// TestPoll: votes count once per user, a changed vote moves, a late joiner
// sees the counts at once, an unknown option is refused, and the admin
// reset empties the poll for everyone.
func TestPoll(t *testing.T) {
	ts := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, bob := join(t, ctx, ts.URL, "Alice"), join(t, ctx, ts.URL, "Bob")

	b := alice.vote(t, ctx, "Go")
	if b.Mine != "Go" || counts(b.Tally) != [3]int{1, 0, 0} {
		t.Fatalf("Alice's ballot %+v, want her vote for Go counted", b)
	}
	if tl := bob.waitTally(t, ctx, b.Tally.Rev); counts(tl) != [3]int{1, 0, 0} {
		t.Fatalf("Bob sees %v, want [1 0 0]", counts(tl))
	}
	bob.vote(t, ctx, "Rust")
	if again := alice.vote(t, ctx, "Go"); again.Tally.Rev != b.Tally.Rev+1 || counts(again.Tally) != [3]int{1, 1, 0} {
		t.Fatalf("Alice votes Go twice: %+v, want one vote, no new rev", again)
	}
	changed := alice.vote(t, ctx, "Zig")
	if counts(changed.Tally) != [3]int{0, 1, 1} {
		t.Fatalf("Alice changes to Zig: %v, want [0 1 1]", counts(changed.Tally))
	}
	if tl := bob.waitTally(t, ctx, changed.Tally.Rev); counts(tl) != [3]int{0, 1, 1} {
		t.Fatalf("Bob sees %v after Alice's change, want [0 1 1]", counts(tl))
	}

	// A late joiner: the counts at once, and no vote of its own.
	carol := join(t, ctx, ts.URL, "Carol")
	look, err := client.Request[msg.Ballot](ctx, carol.c, msg.Look{})
	if err != nil || look.Mine != "" || counts(look.Tally) != [3]int{0, 1, 1} || look.Tally.Question != DefaultQuestion {
		t.Fatalf("Carol's look: %+v %v, want [0 1 1], the question and no vote", look, err)
	}

	_, err = client.Request[msg.Ballot](ctx, carol.c, msg.Vote{Option: "Cobol"})
	var se *shared.Error
	if !errors.As(err, &se) || se.Code != shared.CodeBadData {
		t.Fatalf("a vote for Cobol: %v, want bad_data", err)
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
	tl := bob.waitTally(t, ctx, changed.Tally.Rev+1)
	if counts(tl) != [3]int{} || tl.Round != 1 {
		t.Fatalf("after the reset Bob sees %v round %d, want zeros in round 1", counts(tl), tl.Round)
	}
	if look, err := client.Request[msg.Ballot](ctx, alice.c, msg.Look{}); err != nil || look.Mine != "" {
		t.Fatalf("Alice's vote after the reset: %+v %v, want none", look, err)
	}
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
	a, err := New(Config{WebDir: dir})
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
		if _, err := New(Config{Options: opts, WebDir: t.TempDir()}); err == nil {
			t.Errorf("New with options %q: no error", opts)
		}
	}
}
