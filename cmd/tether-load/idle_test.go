package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestProbeReadsTheServer: -idle's figures come from cmd/tether's pprof
// endpoint (heap and stacks of a heap profile in text form, the goroutine
// total) and from /proc.
func TestProbeReadsTheServer(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/heap", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") != "1" || r.URL.Query().Get("debug") != "1" {
			t.Errorf("heap profile asked as %q, want debug=1&gc=1", r.URL.RawQuery)
		}
		w.Write([]byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 100\n# HeapIdle = 5000\n# HeapInuse = 2048000\n# HeapReleased = 1000\n" +
			"# Stack = 65536 / 65536\n# MSpan = 10 / 100\n# MCache = 1 / 20\n# BuckHashSys = 300\n# GCSys = 4000\n# OtherSys = 50000\n# NextGC = 4194304\n"))
	})
	mux.HandleFunc("/debug/pprof/goroutine", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("goroutine profile: total 42\n1 @ 0x1\n"))
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	s, err := probe{pid: os.Getpid(), debug: hs.URL}.read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.heap != 2048000 || s.stacks != 65536 || s.goroutines != 42 {
		t.Errorf("read heap %d, stacks %d, goroutines %d; want 2048000, 65536, 42", s.heap, s.stacks, s.goroutines)
	}
	// Free heap kept: HeapIdle - HeapReleased; metadata: the system
	// figures of MSpan, MCache and the other runtime classes.
	if s.heapFree != 4000 || s.meta != 100+20+300+4000+50000 || s.goal != 4194304 {
		t.Errorf("read heap free %d, metadata %d, goal %d; want 4000, 54420, 4194304", s.heapFree, s.meta, s.goal)
	}
	if s.rss <= 0 {
		t.Errorf("RSS of this process read as %d", s.rss)
	}
	if _, err := (probe{debug: hs.URL + "/nothing"}).read(context.Background()); err == nil {
		t.Error("a pprof endpoint answering 404 was read without an error")
	}
}

func TestIdleReportPerConnection(t *testing.T) {
	r := &idleReport{
		before: sample{rss: 10 << 20, goroutines: 10, heap: 1 << 20, stacks: 64 << 10, heapFree: 0, meta: 1 << 20, goal: 4 << 20},
		storm:  sample{rss: 30 << 20},
		after:  sample{rss: 20 << 20, goroutines: 1010, heap: 6 << 20, stacks: -1, heapFree: 2 << 20, meta: 2 << 20, goal: 14 << 20},
	}
	var b bytes.Buffer
	r.print(&b, 1000)
	for _, want := range []string{"20.5 KiB after the storm", "10.2 KiB after", "goroutines 1.00", "heap in use 5.1 KiB", "stacks ?",
		"heap free kept by the runtime 2.0 KiB", "runtime metadata 1.0 KiB", "rest ?", "heap goal 10.2 KiB"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
