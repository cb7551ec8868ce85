package natsbroker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/natstest"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/natsbroker"
	"github.com/tetherkit/tether/shared"
)

// TestStreamServerKilledMidStream is issue 17's first fault: on a 3-server
// NATS cluster with one copy of everything, the server holding the rooms
// stream is killed while a user sends keyed chat lines, and started again.
// No answer is rejected or carries NATS's text; every line answered ok is
// in the room once; every line that failed (unavailable) succeeds when sent
// again with its key, once.
func TestStreamServerKilledMidStream(t *testing.T) {
	nc := natstest.StartCluster(t, 3)
	n := startNodeVia(t, nc.URLs(), "a", natsbroker.Config{}, server.Config{})
	c := dialRaw(t, n, "alice")
	if env := c.request(1, "", shared.Join{Room: "faults"}); env.Type != shared.TypeOf[shared.Joined]() {
		t.Fatalf("join: %s", answer(env))
	}
	holder := nc.StreamLeader(natsbroker.StreamName)
	if holder < 0 {
		t.Fatal("no server holds the rooms stream")
	}

	const total = 150
	id := uint64(1)
	acked := make(map[int]bool)
	var failed []int
	send := func(k int) shared.Envelope {
		id++
		return c.request(id, fmt.Sprintf("k-%d", k), shared.ChatSend{Room: "faults", Text: fmt.Sprintf("line %d", k)})
	}
	check := func(k int, env shared.Envelope) bool {
		if env.Type == shared.TypeOf[shared.Reply]() {
			return true
		}
		e, err := shared.Unmarshal[shared.Error](env)
		if err != nil || e.Code != shared.CodeUnavailable {
			t.Fatalf("line %d answered %s, want reply ok or unavailable (never rejected: the handler did not refuse it)", k, answer(env))
		}
		if low := strings.ToLower(e.Message); strings.Contains(low, "nats") || strings.Contains(low, "stream") && strings.Contains(low, "response") {
			t.Fatalf("line %d: the answer carries the dependency's text: %q", k, e.Message)
		}
		return false
	}
	restarted := false
	var downSince time.Time
	for k := 1; k <= total; k++ {
		if k == 50 {
			nc.Kill(holder)
			downSince = time.Now()
		}
		if ok := check(k, send(k)); ok {
			acked[k] = true
		} else {
			failed = append(failed, k)
		}
		if !restarted && k > 50 && (len(failed) >= 10 || time.Since(downSince) > 5*time.Second) {
			nc.Restart(holder)
			restarted = true
		}
	}
	if !restarted {
		nc.Restart(holder)
	}
	if len(failed) == 0 {
		t.Fatal("no send failed while the stream's server was down: the fault was not exercised")
	}
	t.Logf("stream on server n%d, killed at line 50: %d lines acknowledged, %d answered unavailable", holder+1, len(acked), len(failed))

	// Every failed line, sent again with its key, succeeds.
	for _, k := range failed {
		tethertest.Poll(t, fmt.Sprintf("line %d sent again with its key", k), func() error {
			if env := send(k); !check(k, env) {
				return fmt.Errorf("answered %s", answer(env))
			}
			return nil
		})
	}

	// The room has every line once.
	late := newClient(t, n, "late")
	rec := newRecorder(late)
	tethertest.Run(t, late)
	join(t, late, "faults", total+10)
	rec.wait(t, "the room's history", func(r *recorder) bool { return len(r.texts) >= total })
	texts, _, _ := rec.snapshot()
	count := make(map[string]int)
	for _, s := range texts {
		count[s]++
	}
	for k := 1; k <= total; k++ {
		if got := count[fmt.Sprintf("line %d", k)]; got != 1 {
			t.Errorf("line %d (acknowledged the first time: %v) is in the room %d times, want once", k, acked[k], got)
		}
	}
	if len(texts) != total {
		t.Errorf("the room has %d lines, want %d", len(texts), total)
	}
}
