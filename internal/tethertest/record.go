package tethertest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/shared"
)

// ChatRecorder records, for a resume test, the chat messages a client is
// pushed (their texts, in arrival order) and its joins.
type ChatRecorder struct {
	want int
	all  chan struct{} // closed when want texts arrived

	mu               sync.Mutex
	texts            []string
	joins, recovered int
}

// RecordChat registers a ChatRecorder on c, which Wait lets a test wait on
// until want texts have arrived. Call it before c runs.
func RecordChat(c *client.Client, want int) *ChatRecorder {
	r := &ChatRecorder{want: want, all: make(chan struct{})}
	client.On(c, func(m testmsg.ChatMessage) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.texts = append(r.texts, m.Text)
		if len(r.texts) == r.want {
			close(r.all)
		}
	})
	c.OnJoined(func(j shared.Joined) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.joins++
		if j.Recovered {
			r.recovered++
		}
	})
	return r
}

// Wait waits up to within for all the texts and reports whether they came.
func (r *ChatRecorder) Wait(within time.Duration) bool {
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-r.all:
		return true
	case <-timer.C:
		return false
	}
}

// Texts returns the texts received so far, in order.
func (r *ChatRecorder) Texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.texts...)
}

// Joins returns how many joined the client got, and how many of them said
// recovered.
func (r *ChatRecorder) Joins() (joins, recovered int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.joins, r.recovered
}

// CheckSequence fails the test unless texts are exactly fmt.Sprintf(format,
// i) for i = 1 … want, in order: nothing lost, repeated or reordered. what
// prefixes the failure (a seed, say).
func CheckSequence(t testing.TB, what string, texts []string, format string, want int) {
	t.Helper()
	if len(texts) != want {
		t.Fatalf("%s: %d of %d messages", what, len(texts), want)
	}
	for i, text := range texts {
		if w := fmt.Sprintf(format, i+1); text != w {
			t.Fatalf("%s: message %d is %q, want %q (lost, duplicated or out of order)", what, i, text, w)
		}
	}
}
