package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tetherkit/tether/broker"
)

// Limits of bans.
const (
	// MaxBan is the longest ban Kick accepts.
	MaxBan = 30 * 24 * time.Hour
	// maxBans bounds the ban table: a ban beyond it pushes out the one
	// that ends first, so an API caller cannot grow the table without bound.
	maxBans = 10000
)

// KickOptions say how Kick disconnects a user.
type KickOptions struct {
	// Reason is shown to the user (in kicked and in the close frame).
	Reason string
	// Ban, when positive, refuses the user's handshakes for that long
	// (at most MaxBan) with HTTP 403 and the reason, even when the user has
	// no connection now. Zero: the user may reconnect at once.
	Ban time.Duration
}

// ban is one entry of the ban table.
type ban struct {
	until  time.Time
	reason string
}

// banTable holds the users whose handshakes are refused until a time. The
// zero value is empty and ready.
type banTable struct {
	mu sync.Mutex
	m  map[string]ban
}

// add bans user until until, replacing an earlier ban; when the table is
// full it first drops the expired bans, then the one that ends first.
func (t *banTable) add(user string, b ban, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]ban)
	}
	if _, ok := t.m[user]; !ok && len(t.m) >= maxBans {
		first := ""
		for u, x := range t.m {
			if !x.until.After(now) {
				delete(t.m, u)
				continue
			}
			if first == "" || x.until.Before(t.m[first].until) {
				first = u
			}
		}
		if len(t.m) >= maxBans {
			delete(t.m, first)
		}
	}
	t.m[user] = b
}

// check returns the ban of user in force at now, forgetting an expired one.
func (t *banTable) check(user string, now time.Time) (ban, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.m[user]
	if ok && !b.until.After(now) {
		delete(t.m, user)
		return ban{}, false
	}
	return b, ok
}

// remove lifts the ban of user; it reports whether there was one in force.
func (t *banTable) remove(user string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.m[user]
	delete(t.m, user)
	return ok && b.until.After(now)
}

// Kick sends kicked{reason} to every connection of user, on every node,
// and then closes them with code 4000 and the reason. With opts.Ban it also
// bans the user, so that every handshake of theirs until the ban ends is
// refused before the upgrade with HTTP 403 (code "banned") and the reason —
// on every node of a cluster, which learn the ban with the kick (a node that
// starts later does not know it). It returns how many connections it
// closed; a ban applies even when that is 0. With the broker's error (the
// other nodes could not all be told) it returns how many it closed all the
// same. A ctx without a deadline is bounded by 5s.
func (s *Server) Kick(ctx context.Context, user string, opts KickOptions) (int, error) {
	if opts.Ban < 0 || opts.Ban > MaxBan {
		return 0, fmt.Errorf("kick %q: ban of %v is not between 0 and %v", user, opts.Ban, MaxBan)
	}
	c := broker.Control{Kind: broker.ControlKick, Target: user, Reason: opts.Reason}
	if opts.Ban > 0 {
		now := s.now()
		c.BanUntil = now.Add(opts.Ban)
		s.bans.add(user, ban{until: c.BanUntil, reason: opts.Reason}, now)
		s.log.Info("banned", "user", user, "for", opts.Ban, "reason", opts.Reason)
	}
	closed := s.kickLocal(user, opts.Reason)
	n, err := s.control(ctx, c, nil)
	if err != nil {
		return closed + n, fmt.Errorf("kick %q on the other nodes: %w", user, err)
	}
	return closed + n, nil
}

// Unban lifts a ban of user early, on every node of a cluster; it reports
// whether one was in force on some node. With the broker's error (the other
// nodes could not all be told) the ban is lifted here all the same. A ctx
// without a deadline is bounded by 5s.
func (s *Server) Unban(ctx context.Context, user string) (bool, error) {
	lifted := s.bans.remove(user, s.now())
	if lifted {
		s.log.Info("unbanned", "user", user)
	}
	n, err := s.control(ctx, broker.Control{Kind: broker.ControlUnban, Target: user}, nil)
	if err != nil {
		return lifted || n > 0, fmt.Errorf("unban %q on the other nodes: %w", user, err)
	}
	return lifted || n > 0, nil
}

// Banned returns when the ban of user ends and its reason, if the user is
// banned now.
func (s *Server) Banned(user string) (until time.Time, reason string, ok bool) {
	b, ok := s.bans.check(user, s.now())
	return b.until, b.reason, ok
}

// codeBanned is the error code of a handshake refused because the user is
// banned (HTTP 403).
const codeBanned = "banned"

// refuseBanned answers the handshake of a banned user: 403, Retry-After with
// the seconds left, and a sentence with the reason and the end of the ban.
// It reports whether it did.
func (s *Server) refuseBanned(w http.ResponseWriter, user string, refuse func(outcome string, status int, code, msg string)) bool {
	b, ok := s.bans.check(user, s.now())
	if !ok {
		return false
	}
	left := b.until.Sub(s.now())
	w.Header().Set("Retry-After", strconv.Itoa(int((left+time.Second-1)/time.Second)))
	msg := "banned for " + left.Round(time.Second).String() + " more (until " + b.until.UTC().Format("15:04:05") + " UTC)"
	if b.reason != "" {
		msg += ": " + b.reason
	}
	refuse("banned", http.StatusForbidden, codeBanned, msg)
	return true
}
