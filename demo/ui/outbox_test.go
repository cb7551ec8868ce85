package ui

import (
	"testing"
	"time"
)

func TestTypingText(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"Bob"}, "Bob is typing…"},
		{[]string{"Bob", "Carol"}, "Bob and Carol are typing…"},
		{[]string{"A", "B", "C"}, "3 people are typing…"},
	}
	for _, tt := range tests {
		if got := typingText(tt.names); got != tt.want {
			t.Errorf("typingText(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}

// TestPendingStore: a pending line goes when the server's copy arrives
// (the oldest of equal texts first), an error marks the oldest, and typing
// shows for typingShown and is sent at most every typingEvery per room.
func TestPendingStore(t *testing.T) {
	p := newPendingStore(newRoomStore(), &toastStore{})
	p.add("lobby", ChatLine{Text: "hi", Time: 1, Pending: true})
	p.add("lobby", ChatLine{Text: "hi", Time: 2, Pending: true})
	p.add("go", ChatLine{Text: "yo", Time: 3, Pending: true})
	p.confirm("lobby", "hi")
	if ls := p.pending("lobby"); len(ls) != 1 || ls[0].Time != 2 {
		t.Fatalf("after one echo lobby's pending = %+v, want the second hi", ls)
	}
	if !p.fail("rate limited") {
		t.Fatal("fail found no pending line")
	}
	if ls := p.pending("lobby"); ls[0].Failed != "rate limited" {
		t.Errorf("the oldest pending line is %+v, want it failed", ls[0])
	}
	if ls := p.pending("go"); ls[0].Failed != "" {
		t.Errorf("a newer line was failed: %+v", ls[0])
	}

	now := time.Unix(1000, 0)
	p.typing("lobby", "bob", "Bob", now)
	if got := p.typingNames("lobby", now.Add(typingShown-time.Millisecond)); len(got) != 1 || got[0] != "Bob" {
		t.Errorf("typing names = %q, want Bob", got)
	}
	if got := p.typingNames("lobby", now.Add(typingShown)); len(got) != 0 {
		t.Errorf("typing names after %v = %q, want none", typingShown, got)
	}
	p.typing("lobby", "bob", "Bob", now)
	p.stopped("lobby", "bob")
	if got := p.typingNames("lobby", now); len(got) != 0 {
		t.Errorf("typing names after bob's message = %q, want none", got)
	}
	steps := []struct {
		room string
		at   time.Duration
		want bool
	}{
		{"lobby", 0, true},
		{"lobby", time.Second, false},
		{"go", time.Second, true},
		{"lobby", typingEvery, true},
		{"lobby", typingEvery + time.Second, false},
	}
	for _, st := range steps {
		if got := p.typingDue(st.room, now.Add(st.at)); got != st.want {
			t.Errorf("typingDue(%s, +%v) = %v, want %v", st.room, st.at, got, st.want)
		}
	}
}
