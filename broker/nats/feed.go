package natsbroker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tetherkit/tether/broker"
)

// feed is this node's live feed of one room: the republished messages,
// checked for gaps and delivered to the handler one at a time, in seq order.
type feed struct {
	b    *Broker
	room string
	subj string // the room's stream subject

	refs   int           // Subscribe calls not yet unsubscribed; guarded by b.mu
	active atomic.Bool   // traffic since the last position check
	ready  chan struct{} // closed once the feed knows its start
	err    error         // why it failed to start; set before ready is closed

	mu      sync.Mutex // orders delivery
	stopped bool
	live    *nats.Subscription
	eph     *nats.Subscription
	epoch   string // the position delivered up to
	seq     uint64
	sseq    uint64 // stream sequence of seq
}

// Subscribe implements broker.Broker: it subscribes to the room's
// republished messages, then reads the room's head, which is where the feed
// starts; what arrived meanwhile waits for it.
func (b *Broker) Subscribe(ctx context.Context, room string) error {
	b.mu.Lock()
	if f := b.feeds[room]; f != nil {
		f.refs++
		b.mu.Unlock()
		select {
		case <-f.ready:
			return f.err
		case <-ctx.Done():
			return fmt.Errorf("subscribe %q: %w", room, ctx.Err())
		}
	}
	f := &feed{b: b, room: room, subj: roomPrefix + token(room), refs: 1, ready: make(chan struct{})}
	b.feeds[room] = f
	f.mu.Lock()
	b.mu.Unlock()

	err := f.start(ctx)
	f.mu.Unlock()
	if err != nil {
		f.err = err
		b.mu.Lock()
		if b.feeds[room] == f {
			delete(b.feeds, room)
		}
		b.mu.Unlock()
		f.stop()
	}
	close(f.ready)
	return err
}

// start subscribes and reads the head. Called with f.mu held.
func (f *feed) start(ctx context.Context) error {
	b := f.b
	var err error
	tok := token(f.room)
	if f.live, err = b.nc.Subscribe(livePrefix+tok, f.onLive); err != nil {
		return fmt.Errorf("subscribe %q: %w", f.room, err)
	}
	if f.eph, err = b.nc.Subscribe(ephPrefix+tok, f.onEphemeral); err != nil {
		return fmt.Errorf("subscribe %q: %w", f.room, err)
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("subscribe %q: %w", f.room, err)
	}
	h, err := b.readHead(ctx, f.room)
	if err != nil {
		return fmt.Errorf("subscribe %q: %w", f.room, err)
	}
	f.epoch, f.seq, f.sseq = h.epoch, h.seq, h.sseq
	f.active.Store(true) // checked once after the start
	return nil
}

// Unsubscribe implements broker.Broker.
func (b *Broker) Unsubscribe(_ context.Context, room string) error {
	b.mu.Lock()
	f := b.feeds[room]
	if f == nil {
		b.mu.Unlock()
		return nil
	}
	f.refs--
	last := f.refs <= 0
	if last {
		delete(b.feeds, room)
	}
	b.mu.Unlock()
	if last {
		<-f.ready
		f.stop()
	}
	return nil
}

// stop ends the feed's subscriptions.
func (f *feed) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	if f.live != nil {
		_ = f.live.Unsubscribe()
	}
	if f.eph != nil {
		_ = f.eph.Unsubscribe()
	}
}

// onLive handles one republished message.
func (f *feed) onLive(m *nats.Msg) {
	if drop := f.b.cfg.dropLive; drop != nil && drop() {
		return
	}
	sseq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		f.b.log.Warn("republished message without sequence", "room", f.room)
		return
	}
	p, err := decode(m.Header, m.Data, time.Now())
	if err != nil {
		f.b.log.Warn("republished message not ours", "room", f.room, "err", err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.accept(f.b.ctx, p, sseq)
}

// accept delivers p after filling any gap before it. Called with f.mu held.
func (f *feed) accept(ctx context.Context, p broker.Publication, sseq uint64) {
	if p.Epoch != f.epoch {
		// The room started a new epoch: the members' positions mean nothing
		// in it, they must resume.
		f.reset(p, sseq)
		return
	}
	if p.Seq <= f.seq {
		return // delivered already (filled from the stream)
	}
	if p.Seq > f.seq+1 && !f.fill(ctx, p.Seq-1) {
		f.reset(p, sseq)
		return
	}
	f.deliver(p, sseq)
}

// deliver hands p, the next seq, to the handler.
func (f *feed) deliver(p broker.Publication, sseq uint64) {
	f.active.Store(true)
	f.epoch, f.seq, f.sseq = p.Epoch, p.Seq, sseq
	f.b.noteHead(f.room, head{epoch: p.Epoch, seq: p.Seq, sseq: sseq})
	if h := f.b.handler(); h != nil {
		h.HandlePublication(f.room, p)
	}
}

// reset moves the feed to p without delivering what is missing, and tells
// the handler the room's members must resume.
func (f *feed) reset(p broker.Publication, sseq uint64) {
	f.b.stats.resets.Add(1)
	f.b.log.Warn("room feed reset", "room", f.room, "from_epoch", f.epoch, "from_seq", f.seq, "to_epoch", p.Epoch, "to_seq", p.Seq)
	f.epoch, f.seq, f.sseq = p.Epoch, p.Seq, sseq
	f.b.noteHead(f.room, head{epoch: p.Epoch, seq: p.Seq, sseq: sseq})
	if h := f.b.handler(); h != nil {
		h.HandleReset(f.room)
	}
}

// fill delivers, from the stream, the room's messages after the feed's
// position up to seq upTo. It reports false when the stream no longer has
// them all. Called with f.mu held.
func (f *feed) fill(ctx context.Context, upTo uint64) bool {
	for f.seq < upTo {
		want := int(min(upTo-f.seq, 256))
		msgs, err := f.b.batchGet(ctx, f.subj, f.sseq+1, want)
		if err != nil || len(msgs) == 0 {
			f.b.log.Warn("gap fill failed", "room", f.room, "from", f.seq, "to", upTo, "err", err)
			return false
		}
		for _, m := range msgs {
			if m.p.Epoch != f.epoch || m.p.Seq > f.seq+1 {
				return false // gone from the stream, or the room restarted
			}
			if m.p.Seq == f.seq+1 {
				f.b.stats.filled.Add(1)
				f.deliver(m.p, m.sseq)
			}
			if f.seq >= upTo {
				break
			}
		}
	}
	return true
}

// check compares the feed with the stream's head and delivers a lost tail.
func (f *feed) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := f.b.stream.GetLastMsgForSubject(ctx, f.subj)
	if err != nil {
		return // no message yet, or NATS is away: the next check tries again
	}
	p, err := decode(m.Header, m.Data, m.Time)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped || (p.Epoch == f.epoch && p.Seq <= f.seq) {
		return
	}
	f.b.log.Info("room feed behind the stream: filling", "room", f.room, "at", f.seq, "head", p.Seq)
	f.accept(ctx, p, m.Sequence)
}

// onEphemeral delivers an ephemeral message.
func (f *feed) onEphemeral(m *nats.Msg) {
	f.mu.Lock()
	stopped := f.stopped
	f.mu.Unlock()
	if stopped {
		return
	}
	if h := f.b.handler(); h != nil {
		h.HandleEphemeral(f.room, m.Data)
	}
}
