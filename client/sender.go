package client

import (
	"time"

	"github.com/tetherkit/tether/shared"
)

// sender writes the outbox on one connection: up to window messages ahead
// of their answers, as ordered sends (docs/protocol.md §3). The server runs
// a connection's messages one at a time in the order they arrive and
// answers them in that order, so the sender waits for the answer of the
// oldest message on the wire (the head of the outbox) while it writes the
// next ones. When the head is not run (rate_limited, unavailable), the
// server also refuses the ones written after it in the same round; the
// sender waits sendAgainPause and writes the head and what follows again,
// with the same keys, in the next round. So the server applies the outbox
// in order, each message once (the keys), at the speed of the link.
//
// A sender lives on the goroutine of flushOutbox; it is not shared.
type sender struct {
	c      *Client
	cn     *conn
	round  uint64 // of the messages written now; a refused one starts the next
	window int    // messages on the wire at most; 1 after a rate_limited
	flying []flight
}

// flight is an outbox message written on the connection, not yet answered.
type flight struct {
	o        *outgoing
	call     *call
	deadline time.Time       // when it is given up for lost: RequestTimeout after its write
	joined   <-chan struct{} // the client's joined signal when it was written
}

// run sends until the connection ends.
func (s *sender) run() {
	for {
		s.fill()
		if len(s.flying) == 0 {
			select {
			case <-s.c.outboxWake:
				continue
			case <-s.c.claimTick():
				// What a page that died without pagehide left is free
				// once its lease ran out (outboxstore.go).
				s.c.adoptOutbox(s.cn.ctx, s.cn.user)
				continue
			case <-s.cn.done:
				return
			}
		}
		var wake <-chan struct{}
		if len(s.flying) < s.window {
			wake = s.c.outboxWake
		}
		head := s.flying[0]
		timer := time.NewTimer(time.Until(head.deadline))
		select {
		case env := <-head.call.reply:
			timer.Stop()
			if !s.answered(env) && !sleepCtx(s.cn.ctx, sendAgainPause) {
				s.drop()
				return
			}
		case <-wake:
			timer.Stop()
		case <-s.cn.done:
			timer.Stop()
			// What is unanswered goes again, with its key, on the next
			// connection.
			s.drop()
			return
		case <-timer.C:
			// No answer in time on a live connection: ask again (the server
			// answers a key once); the pause keeps an unexpected immediate
			// failure from spinning.
			s.c.log.Debug("tether client: no answer to a send in time; sending again", "key", head.o.key, "timeout", s.c.opts.RequestTimeout)
			s.restart()
			if !sleepCtx(s.cn.ctx, sendAgainPause) {
				return
			}
		}
	}
}

// fill writes the messages queued after the ones on the wire, up to the
// window.
func (s *sender) fill() {
	renewed := false
	for len(s.flying) < s.window {
		var prev *outgoing
		if n := len(s.flying); n > 0 {
			prev = s.flying[n-1].o
		}
		o, ok := s.c.outboxAfter(prev)
		if !ok {
			s.restart() // the outbox was dropped: start again from its head
			continue
		}
		if o == nil {
			return
		}
		if n := len(s.flying); n > 0 && (!o.adoptedAt.IsZero() || !s.flying[n-1].o.adoptedAt.IsZero()) {
			// A send taken over from an earlier page goes alone: the page
			// may connect before the app joins its rooms again, and what
			// meets not_joined then goes again with a fresh key
			// (adoptedNotJoined), which a send written behind it would
			// not get.
			return
		}
		if s.c.opts.OutboxStore != nil && !renewed {
			// Renew the lease on the stored outbox, and make sure what is
			// queued is still this client's to send: another page of the
			// user may have taken it over while this one was frozen
			// (outboxstore.go). Then look again.
			renewed = true
			s.c.storeOutbox()
			continue
		}
		s.c.mu.Lock()
		joined := s.c.joinedCh
		s.c.mu.Unlock()
		env := shared.Envelope{ID: s.c.nextID.Add(1), Key: o.key, Round: s.round}
		// An adopted send's error answer is not the handlers' news: the
		// page that made it is gone (see adoptedNotJoined).
		cl, err := s.cn.sendEnv(s.cn.ctx, env, o.msg, o.adoptedAt.IsZero())
		if err != nil {
			return // the connection ended (run sees it) or the write failed, which ends it
		}
		s.flying = append(s.flying, flight{o: o, call: cl, deadline: time.Now().Add(s.c.opts.RequestTimeout), joined: joined})
	}
}

// answered handles the answer env to the head. It reports false when the
// head was not run and goes again, with what follows it, in the next round
// after a pause.
func (s *sender) answered(env shared.Envelope) bool {
	head := s.flying[0]
	if sendAgain(env) {
		if errorCodeOf(env) == shared.CodeRateLimited && s.window > 1 {
			// Over the server's rate: writing ahead only earns refusals,
			// which count towards its 1008 abuse rule.
			s.window = 1
			s.c.log.Info("tether client: rate limited; sending one message at a time until the next connection")
		}
		s.restart()
		return false
	}
	if s.c.adoptedNotJoined(s.cn, head.o, env, head.joined) {
		// A send taken over from an earlier page, refused because the
		// rooms were not joined yet: it goes again, with a fresh key,
		// now that they are.
		s.restart()
		return true
	}
	s.flying = s.flying[1:]
	if !s.c.outboxDone(head.o) {
		s.restart() // the outbox was dropped meanwhile
	}
	return true
}

// restart forgets the messages on the wire, whose answers no longer
// matter, so that the next fill writes them again from the head of the
// outbox, in a new round.
func (s *sender) restart() {
	s.drop()
	s.round++
}

// drop forgets the messages on the wire.
func (s *sender) drop() {
	for _, f := range s.flying {
		s.cn.unregister(f.call.id)
	}
	clear(s.flying)
	s.flying = s.flying[:0]
}
