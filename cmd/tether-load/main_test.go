package main

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tetherkit/tether/demo/backend"
	"github.com/tetherkit/tether/demo/demotest"
	"github.com/tetherkit/tether/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHistogramBucketsKeepThreePercent(t *testing.T) {
	for v := uint64(0); v < 1<<24; v = v*9/8 + 1 {
		got := bucketValue(bucketOf(v))
		if diff := math.Abs(float64(got) - float64(v)); diff > 0.032*float64(v)+0.5 {
			t.Fatalf("%d µs lands in a bucket worth %d µs: off by %.1f%%, want ≤ 3.2%%", v, got, 100*diff/float64(v))
		}
	}
	if b := bucketOf(math.MaxUint64); b != histBuckets-1 {
		t.Errorf("the longest duration lands in bucket %d, want the last, %d", b, histBuckets-1)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	tests := []struct {
		name    string
		samples func(h *histogram)
		p       float64
		want    time.Duration
	}{
		{"empty", func(*histogram) {}, 99, 0},
		{"one sample", func(h *histogram) { h.record(5 * time.Millisecond) }, 50, 5 * time.Millisecond},
		{"1..1000 ms p50", uniformMS(1000), 50, 500 * time.Millisecond},
		{"1..1000 ms p99", uniformMS(1000), 99, 990 * time.Millisecond},
		{"1..1000 ms p100 is the max", uniformMS(1000), 100, time.Second},
		{"negative counts as 0", func(h *histogram) { h.record(-time.Second) }, 50, 0},
		{"exact below 64µs", func(h *histogram) {
			for i := range 10 {
				h.record(time.Duration(i) * time.Microsecond)
			}
		}, 50, 4 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			tt.samples(&h)
			got := h.percentile(tt.p)
			if diff := math.Abs(float64(got - tt.want)); diff > 0.032*float64(tt.want) {
				t.Errorf("p%v = %v, want %v within 3%%", tt.p, got, tt.want)
			}
		})
	}
}

// uniformMS records 1, 2, …, n milliseconds.
func uniformMS(n int) func(h *histogram) {
	return func(h *histogram) {
		for i := 1; i <= n; i++ {
			h.record(time.Duration(i) * time.Millisecond)
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b histogram
	a.record(time.Millisecond)
	b.record(3 * time.Millisecond)
	b.record(2 * time.Millisecond)
	a.merge(&b)
	if a.n != 3 || a.max != 3*time.Millisecond {
		t.Errorf("merged histogram holds %d samples, max %v; want 3, 3ms", a.n, a.max)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		args    string
		wantErr string // empty: valid
	}{
		{"", ""},
		{"-url ws://example.com:9/ws -clients 1000 -rooms 10 -rate 200 -duration 10s -size 2000", ""},
		{"-url http://127.0.0.1:8080/ws", "want a ws:// or wss:// URL"},
		{"-url ws://127.0.0.1:8081/ws,ws://127.0.0.1:8082/ws", ""},
		{"-url ws://127.0.0.1:8081/ws,http://127.0.0.1:8082/ws", "want a ws:// or wss:// URL"},
		{"-url ws:///ws", "want a ws:// or wss:// URL"},
		{"-clients 0", "-clients 0"},
		{"-clients 5 -rooms 6", "-rooms 6"},
		{"-rooms 0", "-rooms 0"},
		{"-clients 10 -rooms 5 -publishers 3", "-publishers 3"},
		{"-clients 10 -rooms 5 -publishers 2", ""},
		{"-rate 0", "-rate 0"},
		{"-rate NaN", "-rate NaN"},
		{"-duration 0s", "-duration 0s"},
		{"-size 10", "-size 10"},
		{"-size 2001", "-size 2001"},
		{"-dialers 0", "-dialers 0"},
		{"extra", "unexpected arguments"},
		{"-source 127.0.0.1,127.0.0.2", ""},
		{"-source 127.0.0.1,localhost", "-source"},
		{"-idle 30s", "give -server-pid, -debug-url or both"},
		{"-idle 30s -server-pid 1", ""},
		{"-idle 30s -debug-url http://127.0.0.1:6060", ""},
		{"-idle -1s -server-pid 1", "-idle -1s"},
		{"-server-pid -2", "-server-pid -2"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			_, err := parseOptions(strings.Fields(tt.args), new(bytes.Buffer))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("flags %q refused: %v", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("flags %q: error %v, want one mentioning %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

func TestStampRoundTrip(t *testing.T) {
	l, err := newLoad(options{url: "ws://127.0.0.1:1/ws", size: 100}, "abcd")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	text := l.text(now)
	if len(text) != 100 {
		t.Errorf("text is %d bytes, want -size 100", len(text))
	}
	frame := []byte(`{"type":"chat.message","room":"load-0","seq":3,"data":{"text":"` + text + `"}}`)
	if got, ok := l.stamp(frame); !ok || !got.Equal(time.Unix(0, now.UnixNano())) {
		t.Errorf("stamp read back as %v, %v; want %v", got, ok, now)
	}
	other, _ := newLoad(options{url: "ws://127.0.0.1:1/ws", size: 100}, "ef01")
	if _, ok := other.stamp(frame); ok {
		t.Error("a run counted a message stamped by another run")
	}
}

// TestLoadAgainstServer runs the tool for a second against the demo server
// and checks that every message came back.
func TestLoadAgainstServer(t *testing.T) {
	hs := demotest.NewServer(t, server.Config{MessageRate: -1, MaxConnsPerIP: -1},
		backend.Config{TickerInterval: -1, Logger: slog.New(slog.DiscardHandler)}).HTTP

	var out, errOut bytes.Buffer
	args := []string{"-url", "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", "-clients", "20", "-rooms", "4",
		"-rate", "100", "-duration", "1s", "-size", "64"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errOut.String())
	}
	t.Logf("\n%s", out.String())
	if !strings.Contains(out.String(), "connected 20 of 20 clients") {
		t.Errorf("not every client connected:\n%s", out.String())
	}
	m := regexp.MustCompile(`received\s+(\d+) of (\d+) chat.message expected`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no received line in:\n%s", out.String())
	}
	got, _ := strconv.Atoi(m[1])
	want, _ := strconv.Atoi(m[2])
	// 100/s for 1s, each to a room of 5: about 500.
	if got != want || want < 400 {
		t.Errorf("received %d of %d expected chat messages, want all of about 500", got, want)
	}
	if strings.Contains(out.String(), "errors") || strings.Contains(out.String(), "lost") {
		t.Errorf("the run saw errors or lost connections:\n%s", out.String())
	}
}
