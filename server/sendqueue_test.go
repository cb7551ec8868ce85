package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// starts is a sendQueue's start function for tests that drive the writer's
// side by hand: it only reports each start on a channel.
type starts chan struct{}

func (s starts) start() { s <- struct{}{} }

// expect waits for n starts and then checks that no other comes soon.
func (s starts) expect(t *testing.T, n int, what string) {
	t.Helper()
	for i := range n {
		select {
		case <-s:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: %d of %d writer starts within 5s", what, i, n)
		}
	}
	select {
	case <-s:
		t.Fatalf("%s: more than %d writer starts", what, n)
	case <-time.After(20 * time.Millisecond):
	}
}

func newTestQueue(limit int) (*sendQueue, starts) {
	s := make(starts, 16)
	q := &sendQueue{}
	q.init(limit, s.start)
	return q, s
}

func frames(n int) []*outFrame {
	fs := make([]*outFrame, n)
	for i := range fs {
		fs[i] = &outFrame{typ: fmt.Sprint(i)}
	}
	return fs
}

// TestSendQueueHeld: a new queue starts no writer, whatever is pushed, until
// release; release starts exactly one.
func TestSendQueueHeld(t *testing.T) {
	q, s := newTestQueue(8)
	for _, f := range frames(3) {
		if r := q.push(f); r != pushed {
			t.Fatalf("push to a held queue = %v, want pushed", r)
		}
	}
	q.sendPing()
	q.signal()
	s.expect(t, 0, "held")
	q.release()
	s.expect(t, 1, "released")
	if !q.runs() {
		t.Error("runs() = false after release started a writer")
	}
}

// TestSendQueueLimit: at most limit items are unwritten, counting those the
// writer has taken and not yet given back with done.
func TestSendQueueLimit(t *testing.T) {
	q, _ := newTestQueue(3)
	fs := frames(5)
	for i, want := range []pushResult{pushed, pushed, pushed, pushFull} {
		if got := q.push(fs[i]); got != want {
			t.Fatalf("push %d = %v, want %v", i, got, want)
		}
	}
	batch, more := q.take()
	if len(batch) != 3 || more {
		t.Fatalf("take = %d items, more %v; want 3, false", len(batch), more)
	}
	if got := q.push(fs[3]); got != pushFull {
		t.Errorf("push while the batch is being written = %v, want pushFull", got)
	}
	if n := q.len(); n != 3 {
		t.Errorf("len = %d while 3 are being written", n)
	}
	q.done(batch)
	if got := q.push(fs[3]); got != pushed {
		t.Errorf("push once the batch is done = %v, want pushed", got)
	}
	if n := q.len(); n != 1 {
		t.Errorf("len = %d, want 1", n)
	}
}

// TestSendQueueTake: take hands the items over oldest first, at most
// maxBatchFrames at a time.
func TestSendQueueTake(t *testing.T) {
	for _, n := range []int{0, 1, maxBatchFrames, maxBatchFrames + 1, 2*maxBatchFrames + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			q, _ := newTestQueue(3 * maxBatchFrames)
			fs := frames(n)
			for _, f := range fs {
				q.push(f)
			}
			var got []*outFrame
			for {
				batch, more := q.take()
				if len(batch) > maxBatchFrames {
					t.Fatalf("take handed %d items, more than maxBatchFrames", len(batch))
				}
				got = append(got, batch...)
				q.done(batch)
				if !more {
					break
				}
			}
			if len(got) != n {
				t.Fatalf("took %d items of %d", len(got), n)
			}
			for i := range got {
				if got[i] != fs[i] {
					t.Fatalf("item %d is %s, want %s: out of order", i, got[i].typ, fs[i].typ)
				}
			}
			if q.len() != 0 {
				t.Errorf("len = %d after everything is done", q.len())
			}
		})
	}
}

// TestSendQueueSpare: the writer's batch buffer is reused as the queue's
// (two buffers take turns), unless a burst grew it past maxSpare.
func TestSendQueueSpare(t *testing.T) {
	q, _ := newTestQueue(1024)
	for _, f := range frames(4) {
		q.push(f)
	}
	batch, _ := q.take()
	q.done(batch)
	q.push(&outFrame{})
	next, _ := q.take()
	if cap(q.data) == 0 || &q.data[:1][0] != &batch[:1][0] {
		t.Error("the written batch's buffer was not reused as the queue's")
	}
	q.done(next)
	for _, f := range frames(maxSpare + 1) {
		q.push(f)
	}
	big, _ := q.take()
	q.done(big)
	if q.spare != nil && cap(q.spare) > maxSpare {
		t.Errorf("kept a spare buffer of %d slots, more than maxSpare", cap(q.spare))
	}
}

// TestSendQueueControl: a ping and the pongs are taken once, apart from the
// data; past maxPongs, the latest ping's pong replaces the last one due.
func TestSendQueueControl(t *testing.T) {
	q, _ := newTestQueue(8)
	if ctl := q.control(); ctl.any() {
		t.Fatalf("control of a new queue = %+v, want nothing due", ctl)
	}
	q.push(&outFrame{})
	for i := range maxPongs + 3 {
		q.sendPong([]byte(fmt.Sprint(i)))
	}
	q.sendPing()
	ctl := q.control()
	var got []string
	for _, p := range ctl.pongs {
		got = append(got, string(p))
	}
	want := []string{"0", "1", "2", "3", "4", "5", "6", fmt.Sprint(maxPongs + 2)}
	if !ctl.ping || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("control = ping %v, pongs %q; want a ping and pongs %q", ctl.ping, got, want)
	}
	if ctl := q.control(); ctl.any() {
		t.Errorf("control taken twice: %+v", ctl)
	}
	if batch, _ := q.take(); len(batch) != 1 {
		t.Errorf("take = %d items after control, want the 1 data frame", len(batch))
	}
	q.sendPong(nil) // a ping without payload still gets its pong
	if ctl := q.control(); len(ctl.pongs) != 1 {
		t.Error("an empty ping's pong was lost")
	}
}

// TestSendQueuePark: the writer parks only when nothing is due and nothing
// came since its last try (a signal counts once); once parked, the next
// push, ping, pong or signal starts a new writer.
func TestSendQueuePark(t *testing.T) {
	due := map[string]func(q *sendQueue){
		"data":   func(q *sendQueue) { q.push(&outFrame{}) },
		"ping":   func(q *sendQueue) { q.sendPing() },
		"pong":   func(q *sendQueue) { q.sendPong([]byte("x")) },
		"signal": func(q *sendQueue) { q.signal() },
	}
	for name, bring := range due {
		t.Run(name, func(t *testing.T) {
			q, s := newTestQueue(8)
			q.release()
			s.expect(t, 1, "release")
			bring(q)
			s.expect(t, 0, name+" while the writer runs")
			if q.park() {
				t.Fatalf("parked with %s due", name)
			}
			// The writer does its work: takes what is due.
			batch, _ := q.take()
			q.done(batch)
			q.control()
			if !q.park() {
				t.Fatal("did not park with nothing due")
			}
			if q.runs() {
				t.Error("runs() = true after park")
			}
			bring(q)
			s.expect(t, 1, name+" after park")
		})
	}
}

// TestSendQueueEnd: once the writer has ended, pushes are refused, nothing
// starts a writer, and the frames left queued no longer count.
func TestSendQueueEnd(t *testing.T) {
	q, s := newTestQueue(8)
	q.release()
	s.expect(t, 1, "release")
	q.push(&outFrame{})
	batch, _ := q.take() // in flight when the writer ends
	q.push(&outFrame{})  // left queued
	q.end()
	q.done(batch)
	if got := q.push(&outFrame{}); got != pushClosed {
		t.Errorf("push after end = %v, want pushClosed", got)
	}
	q.signal()
	q.sendPing()
	s.expect(t, 0, "after end")
	if n := q.len(); n != 0 {
		t.Errorf("len = %d after end, want 0", n)
	}
}

// TestSendQueueOneWriter: under concurrent pushes, pings and signals, with
// a writer that parks whenever it can, exactly one writer runs at a time,
// every frame is written once and in each pusher's order, and nothing is
// left queued without a writer.
func TestSendQueueOneWriter(t *testing.T) {
	const pushers, perPusher = 8, 2000
	var (
		q              sendQueue
		running, peak  atomic.Int32
		startsN        atomic.Int32
		mu             sync.Mutex
		written        = map[string][]int{}
		writtenN       atomic.Int64
		allWritten     = make(chan struct{})
		allWrittenOnce sync.Once
	)
	writer := func() {
		startsN.Add(1)
		enter := func() {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
		}
		enter()
		for {
			q.control()
			batch, more := q.take()
			mu.Lock()
			for _, f := range batch {
				var p, i int
				fmt.Sscanf(f.typ, "%d/%d", &p, &i)
				written[fmt.Sprint(p)] = append(written[fmt.Sprint(p)], i)
			}
			mu.Unlock()
			if writtenN.Add(int64(len(batch))) == pushers*perPusher {
				allWrittenOnce.Do(func() { close(allWritten) })
			}
			q.done(batch)
			if more {
				continue
			}
			// Park on every idle wake-up: as often as possible, to race it
			// against the pushers.
			if len(batch) == 0 {
				running.Add(-1) // once parked, another may start at once
				if q.park() {
					return
				}
				enter()
			}
		}
	}
	q.init(pushers*perPusher, writer)
	q.release()
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPusher {
				if r := q.push(&outFrame{typ: fmt.Sprintf("%d/%d", p, i)}); r != pushed {
					t.Errorf("push = %v", r)
					return
				}
				if i%100 == 0 {
					q.sendPing()
					q.signal()
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-allWritten:
	case <-time.After(20 * time.Second):
		t.Fatalf("%d of %d frames written: some were left without a writer", writtenN.Load(), pushers*perPusher)
	}
	if p := peak.Load(); p > 1 {
		t.Errorf("%d writers ran at once, want at most 1", p)
	}
	mu.Lock()
	defer mu.Unlock()
	for p, is := range written {
		for k, i := range is {
			if i != k {
				t.Fatalf("pusher %s: frame %d written as the %dth: out of order or twice", p, i, k)
			}
		}
	}
	t.Logf("%d writer starts for %d frames", startsN.Load(), pushers*perPusher)
}
