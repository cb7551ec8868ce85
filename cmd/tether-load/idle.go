package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// probe reads a server's memory for -idle: its RSS from /proc (-server-pid)
// and, from its pprof endpoint (-debug-url, cmd/tether's -debug-addr), its
// goroutines and, after a GC, its heap and stacks in use.
type probe struct {
	pid   int    // 0: no RSS
	debug string // "": no goroutines, heap or stacks
}

// sample is one reading of a server's memory; a figure not read is -1.
type sample struct {
	rss        int64 // bytes
	goroutines int64
	heap       int64 // bytes of heap in use, after a GC
	stacks     int64 // bytes of goroutine stacks in use
	// Where the rest of the RSS lies, from the runtime.MemStats of the
	// heap profile: heap memory the runtime holds free and has not
	// released to the system (HeapIdle - HeapReleased), the runtime's own
	// metadata (MSpanSys, MCacheSys, BuckHashSys, GCSys, OtherSys: span
	// structures, GC bitmaps, the poll descriptors of the sockets, ...)
	// and the heap goal of the next GC (NextGC), which bounds what the
	// runtime keeps: its scavenger returns only the free memory above
	// about 1.1 times the goal.
	heapFree int64
	meta     int64
	goal     int64
}

// read takes a sample, after having the server collect its garbage.
func (p probe) read(ctx context.Context) (sample, error) {
	return p.readGC(ctx, true)
}

// readGC takes a sample; gc has the server collect first.
func (p probe) readGC(ctx context.Context, gc bool) (sample, error) {
	s := sample{rss: -1, goroutines: -1, heap: -1, stacks: -1, heapFree: -1, meta: -1, goal: -1}
	if p.debug != "" {
		path := "/debug/pprof/heap?debug=1"
		if gc {
			path += "&gc=1"
		}
		body, err := p.get(ctx, path)
		if err != nil {
			return s, err
		}
		s.heap = memStat(body, "HeapInuse")
		s.stacks = memStat(body, "Stack")
		if idle, released := memStat(body, "HeapIdle"), memStat(body, "HeapReleased"); idle >= 0 && released >= 0 {
			s.heapFree = idle - released
		}
		s.meta = 0
		for _, name := range []string{"MSpan", "MCache", "BuckHashSys", "GCSys", "OtherSys"} {
			n := memStatSys(body, name)
			if n < 0 {
				s.meta = -1
				break
			}
			s.meta += n
		}
		s.goal = memStat(body, "NextGC")
		body, err = p.get(ctx, "/debug/pprof/goroutine?debug=1")
		if err != nil {
			return s, err
		}
		line, _, _ := strings.Cut(body, "\n")
		if n, ok := strings.CutPrefix(line, "goroutine profile: total "); ok {
			s.goroutines, _ = strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		}
	}
	if p.pid > 0 {
		rss, err := procRSS(p.pid)
		if err != nil {
			return s, err
		}
		s.rss = rss
	}
	return s, nil
}

// get fetches path from the server's pprof endpoint.
func (p probe) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(p.debug, "/")+path, nil)
	if err != nil {
		return "", fmt.Errorf("-debug-url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("-debug-url: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("-debug-url: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("-debug-url: GET %s: %s", path, resp.Status)
	}
	return string(b), nil
}

// memStat reads "# name = N" (or "# name = N / M") from a heap profile in
// text form; -1 when absent.
func memStat(profile, name string) int64 {
	for line := range strings.Lines(profile) {
		v, ok := strings.CutPrefix(line, "# "+name+" = ")
		if !ok {
			continue
		}
		v, _, _ = strings.Cut(v, " ")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	return -1
}

// memStatSys reads the system figure of "# name = N / M" (M), or N when
// the line has one figure; -1 when absent.
func memStatSys(profile, name string) int64 {
	for line := range strings.Lines(profile) {
		v, ok := strings.CutPrefix(line, "# "+name+" = ")
		if !ok {
			continue
		}
		if _, sys, ok := strings.Cut(v, " / "); ok {
			v = sys
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	return -1
}

// procRSS returns the resident set of process pid, in bytes.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("-server-pid: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("-server-pid: VmRSS %q: %w", v, err)
			}
			return kib << 10, nil
		}
	}
	return 0, errors.New("-server-pid: no VmRSS in /proc status")
}

// idleReport is what an -idle run measured of the server.
type idleReport struct {
	idle                 time.Duration
	before, storm, after sample
	lost                 int // connections that ended while idle
}

// perConn renders the growth from a to b per connection, in KiB (bytes) or
// as a count; "?" when not measured.
func perConn(a, b int64, conns int, kib bool) string {
	if a < 0 || b < 0 || conns == 0 {
		return "?"
	}
	if kib {
		return fmt.Sprintf("%.1f KiB", float64(b-a)/1024/float64(conns))
	}
	return fmt.Sprintf("%.2f", float64(b-a)/float64(conns))
}

// print writes the idle figures, per connection: growth over the server's
// state before the clients connected.
func (r *idleReport) print(w io.Writer, conns int) {
	fmt.Fprintf(w, "idle      %d connections for %v; %d lost meanwhile\n", conns, r.idle, r.lost)
	fmt.Fprintf(w, "server    RSS per connection: %s after the storm, %s after %v idle and a GC\n",
		perConn(r.before.rss, r.storm.rss, conns, true), perConn(r.before.rss, r.after.rss, conns, true), r.idle)
	fmt.Fprintf(w, "server    per connection after %v idle: goroutines %s, heap in use %s, stacks %s\n",
		r.idle, perConn(r.before.goroutines, r.after.goroutines, conns, false),
		perConn(r.before.heap, r.after.heap, conns, true), perConn(r.before.stacks, r.after.stacks, conns, true))
	b, a := r.before, r.after
	rest := func(s sample) int64 {
		if s.rss < 0 || s.heap < 0 || s.heapFree < 0 || s.stacks < 0 || s.meta < 0 {
			return -1
		}
		return s.rss - s.heap - s.heapFree - s.stacks - s.meta
	}
	fmt.Fprintf(w, "server    RSS per connection after %v idle by class: heap in use %s, heap free kept by the runtime %s, stacks %s, runtime metadata %s, rest %s; heap goal %s\n",
		r.idle, perConn(b.heap, a.heap, conns, true), perConn(b.heapFree, a.heapFree, conns, true),
		perConn(b.stacks, a.stacks, conns, true), perConn(b.meta, a.meta, conns, true),
		perConn(rest(b), rest(a), conns, true), perConn(b.goal, a.goal, conns, true))
}

// runIdle connects the clients, holds them idle for -idle, measures the
// server before, right after the connection storm and at the end (after a
// GC), prints the figures and closes the clients.
func (l *load) runIdle(ctx context.Context, w io.Writer) error {
	r := &idleReport{idle: l.o.idle}
	var err error
	if r.before, err = l.o.probe.read(ctx); err != nil {
		return err
	}
	start := time.Now()
	members, refused := l.connect(ctx)
	rep := &report{clients: l.o.clients, rooms: l.o.rooms, connectTook: time.Since(start), refused: refused, connected: len(members)}
	rep.printConnect(w)
	if len(members) == 0 {
		return errors.New("no client could connect")
	}
	for _, m := range members {
		go l.read(m) // answers the server's pings
	}
	defer l.close(members)
	if rss, err := procRSS(l.o.probe.pid); err == nil {
		r.storm = sample{rss: rss}
	} else {
		r.storm = sample{rss: -1}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(l.o.idle):
	}
	if r.after, err = l.o.probe.read(ctx); err != nil {
		return err
	}
	// The GC the heap profile asked for may have given memory back: the
	// figures are read again a second later, without another GC (the heap
	// in use, goroutines and stacks stay those read after the GC).
	time.Sleep(time.Second)
	if later, err := l.o.probe.readGC(ctx, false); err == nil {
		r.after.rss, r.after.heapFree, r.after.meta = later.rss, later.heapFree, later.meta
	}
	for _, m := range members {
		select {
		case <-m.done:
			r.lost++
		default:
		}
	}
	r.print(w, len(members))
	return nil
}
