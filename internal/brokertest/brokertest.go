// Package brokertest is the conformance tests every server.Broker must
// pass, written once and run by each broker's own tests (the memory broker
// in package server, the NATS broker in broker/nats). It does not
// import server, so that package server's internal tests can use it: a
// test hands it the broker's methods and a reader of its answers.
package brokertest

import (
	"context"
	"slices"
	"testing"
)

// Pages is how HistoryPages reads a broker's history of type H (a
// server.History).
type Pages[H any] struct {
	// Since and Before are the broker's HistorySince and HistoryBefore.
	Since, Before func(ctx context.Context, room string, seq uint64, limit int) (H, error)
	// Read returns an answer's publications' seqs, oldest first, and the
	// room's head and epoch at the read.
	Read func(H) (seqs []uint64, head uint64, epoch string)
}

// HistoryPages pages room "lobby" forwards (Since) and backwards (Before)
// and fails the test unless every page is the right run of seqs. The
// broker must keep 20 publications and "lobby" must have had 25 (seqs
// 1..25, of which 6..25 are kept).
func HistoryPages[H any](t *testing.T, ctx context.Context, p Pages[H]) {
	t.Helper()
	tests := []struct {
		name          string
		since, before uint64
		backwards     bool
		limit         int
		want          []uint64
	}{
		{"newest 5", 0, 0, true, 5, Seqs(21, 25)},
		{"5 before 21", 0, 21, true, 5, Seqs(16, 20)},
		{"10 before 9: only 6..8 kept", 0, 9, true, 10, Seqs(6, 8)},
		{"before the oldest kept", 0, 6, true, 10, nil},
		{"before beyond the head", 0, 100, true, 3, Seqs(23, 25)},
		{"no limit", 0, 0, true, 0, nil},
		{"3 since 10", 10, 0, false, 3, Seqs(11, 13)},
		{"since 2: from the oldest kept", 2, 0, false, 3, Seqs(6, 8)},
		{"since the head", 25, 0, false, 3, nil},
		{"since 20, limit over the rest", 20, 0, false, 50, Seqs(21, 25)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h H
			var err error
			if tt.backwards {
				h, err = p.Before(ctx, "lobby", tt.before, tt.limit)
			} else {
				h, err = p.Since(ctx, "lobby", tt.since, tt.limit)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, head, epoch := p.Read(h)
			if !slices.Equal(got, tt.want) || head != 25 || epoch == "" {
				t.Errorf("got seqs %v at head %d epoch %q, want %v at head 25", got, head, epoch, tt.want)
			}
		})
	}
}

// Seqs returns from, from+1, .., to (nil when to < from).
func Seqs(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}
