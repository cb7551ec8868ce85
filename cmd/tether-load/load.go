package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/internal/tethertest/raw"
	"github.com/tetherkit/tether/shared"
)

const (
	// minSize is the smallest -size: room for the stamp.
	minSize = 40
	// handshakeTimeout bounds one connection's handshake, welcome and join.
	handshakeTimeout = 10 * time.Second
	// writeTimeout bounds one write.
	writeTimeout = 5 * time.Second
	// drainTime is how long the tool waits, after sending, for the messages
	// still on their way.
	drainTime = 3 * time.Second
	// closeTime bounds the closing handshake of all the clients.
	closeTime = 2 * time.Second
	// senders is how many goroutines write the paced messages.
	senders = 16
)

// load is one run of the tool.
type load struct {
	o      options
	bases  []*url.URL // client i connects to bases[i % len(bases)]
	id     string     // the run's id, in user ids and stamps
	marker []byte     // precedes the send time in every text of this run
}

func newLoad(o options, id string) (*load, error) {
	var bases []*url.URL
	for _, raw := range urlList(o.url) {
		base, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("-url: %w", err)
		}
		bases = append(bases, base)
	}
	return &load{o: o, bases: bases, id: id, marker: []byte("tether-load:" + id + ":")}, nil
}

// member is one connected client.
type member struct {
	ws   *websocket.Conn
	room int
	rank int        // its place among its room's members: client i is i / rooms
	wmu  sync.Mutex // one writer at a time, as gorilla requires

	received atomic.Int64 // chat.message of this run
	closing  atomic.Bool  // set before the tool closes the connection
	done     chan struct{}

	// Owned by the reader goroutine until done is closed.
	hist histogram
	errs map[string]int // error messages from the server, by code
	lost error          // why the connection ended, when the tool did not end it
}

// report is what a run measured.
type report struct {
	clients, connected int
	rooms              int
	connectTook        time.Duration
	refused            map[string]int // failed connections, by reason

	sent, skipped int64 // skipped: sends the tool itself could not keep up with
	sendTook      time.Duration
	writeErrs     map[string]int

	received, expected int64
	hist               histogram
	serverErrs         map[string]int // error messages, by code
	lost               map[string]int // connections lost, by reason
}

// run connects, sends for the duration, waits for the stragglers and closes.
func (l *load) run(ctx context.Context) *report {
	rep := &report{clients: l.o.clients, rooms: l.o.rooms, writeErrs: map[string]int{},
		serverErrs: map[string]int{}, lost: map[string]int{}}
	start := time.Now()
	members, refused := l.connect(ctx)
	rep.connectTook, rep.refused, rep.connected = time.Since(start), refused, len(members)
	if len(members) == 0 {
		return rep
	}
	for _, m := range members {
		go l.read(m)
	}

	start = time.Now()
	rep.sent, rep.expected, rep.skipped = l.send(ctx, members, rep.writeErrs)
	rep.sendTook = time.Since(start)

	received := func() int64 {
		var n int64
		for _, m := range members {
			n += m.received.Load()
		}
		return n
	}
	drain := time.NewTimer(drainTime)
	defer drain.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
wait:
	for received() < rep.expected {
		select {
		case <-ctx.Done():
			break wait
		case <-drain.C:
			break wait
		case <-poll.C:
		}
	}

	l.close(members)
	for _, m := range members {
		rep.received += m.received.Load()
		rep.hist.merge(&m.hist)
		for code, n := range m.errs {
			rep.serverErrs[code] += n
		}
		if m.lost != nil {
			rep.lost[m.lost.Error()]++
		}
	}
	return rep
}

// connect opens the clients, -dialers at a time, giving up after -duration.
// It returns the connected ones and why the others failed.
func (l *load) connect(ctx context.Context) ([]*member, map[string]int) {
	ctx, cancel := context.WithTimeout(ctx, l.o.duration)
	defer cancel()
	members := make([]*member, l.o.clients)
	var (
		next    atomic.Int64
		mu      sync.Mutex
		refused = map[string]int{}
		wg      sync.WaitGroup
	)
	for range min(l.o.dialers, l.o.clients) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= l.o.clients {
					return
				}
				if ctx.Err() != nil {
					mu.Lock()
					refused["not tried: -duration passed while connecting"]++
					mu.Unlock()
					continue
				}
				m, err := l.dial(ctx, i)
				if err != nil {
					mu.Lock()
					refused[err.Error()]++
					mu.Unlock()
					continue
				}
				members[i] = m
			}
		})
	}
	wg.Wait()
	connected := members[:0]
	for _, m := range members {
		if m != nil {
			connected = append(connected, m)
		}
	}
	return connected, refused
}

// dial connects client i, reads welcome and joins its room.
func (l *load) dial(ctx context.Context, i int) (*member, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	d := websocket.Dialer{HandshakeTimeout: handshakeTimeout}
	if len(l.o.sources) > 0 {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: l.o.sources[i%len(l.o.sources)]}}
		d.NetDialContext = nd.DialContext
	}
	var h http.Header
	if l.o.token != "" {
		h = http.Header{"Authorization": {"Bearer " + l.o.token}}
	}
	ws, _, err := raw.DialJoin(ctx, &d, clientURL(l.bases[i%len(l.bases)], l.id, i), h, roomName(i%l.o.rooms))
	if err != nil {
		return nil, err
	}
	return &member{ws: ws, room: i % l.o.rooms, rank: i / l.o.rooms, errs: map[string]int{}, done: make(chan struct{})}, nil
}

var (
	chatMessageType = []byte(`"type":"chat.message"`)
	errorType       = []byte(`"type":"error"`)
)

// read is a member's reader goroutine: it times the chat messages of this
// run and counts the server's errors, until the connection ends.
func (l *load) read(m *member) {
	defer close(m.done)
	for {
		_, frame, err := m.ws.ReadMessage()
		if err != nil {
			if !m.closing.Load() {
				m.lost = err
			}
			return
		}
		now := time.Now()
		head := frame[:min(len(frame), 40)]
		switch {
		case bytes.Contains(head, chatMessageType):
			if sent, ok := l.stamp(frame); ok {
				m.hist.record(now.Sub(sent))
				m.received.Add(1)
			}
		case bytes.Contains(head, errorType):
			code := "undecodable"
			if env, err := shared.DecodeEnvelope(frame); err == nil {
				if e, err := shared.Unmarshal[shared.Error](env); err == nil {
					code = e.Code
				}
			}
			m.errs[code]++
		}
	}
}

// text is a chat text of the run's size carrying the time t.
func (l *load) text(t time.Time) string {
	s := string(l.marker) + strconv.FormatInt(t.UnixNano(), 10) + ";"
	return s + strings.Repeat("x", max(l.o.size-len(s), 0))
}

// stamp reads the send time out of a chat message of this run; false for
// any other message.
func (l *load) stamp(frame []byte) (time.Time, bool) {
	i := bytes.Index(frame, l.marker)
	if i < 0 {
		return time.Time{}, false
	}
	rest := frame[i+len(l.marker):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	ns, err := strconv.ParseInt(string(rest[:n]), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// send paces -rate chat.send messages a second over the members, round
// robin, for -duration. It returns how many were sent, how many chat
// messages they should produce (one per member of the sender's room) and how
// many sends were skipped because the senders fell behind.
func (l *load) send(ctx context.Context, members []*member, writeErrs map[string]int) (sent, expected, skipped int64) {
	roomSize := make([]int64, l.o.rooms)
	for _, m := range members {
		roomSize[m.room]++
	}
	var (
		mu               sync.Mutex // guards writeErrs
		jobs             = make(chan *member, 1024)
		wg               sync.WaitGroup
		sentN, expectedN atomic.Int64
	)
	for range senders {
		wg.Go(func() {
			for m := range jobs {
				if err := l.write(m); err != nil {
					mu.Lock()
					writeErrs[err.Error()]++
					mu.Unlock()
					continue
				}
				sentN.Add(1)
				expectedN.Add(roomSize[m.room])
			}
		})
	}

	from := members // the members that send, in turn
	if l.o.pubs > 0 {
		from = nil
		for _, m := range members {
			if m.rank < l.o.pubs {
				from = append(from, m)
			}
		}
		if len(from) == 0 {
			return 0, 0, 0
		}
	}
	ctx, cancel := context.WithTimeout(ctx, l.o.duration)
	defer cancel()
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var due, next int64
pace:
	for {
		select {
		case <-ctx.Done():
			break pace
		case <-tick.C:
		}
		for target := int64(time.Since(start).Seconds() * l.o.rate); due < target; due++ {
			select {
			case jobs <- from[next%int64(len(from))]:
				next++
			default:
				skipped++
			}
		}
	}
	close(jobs)
	wg.Wait()
	return sentN.Load(), expectedN.Load(), skipped
}

// write sends one stamped chat.send from m.
func (l *load) write(m *member) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	frame, err := shared.Encode(shared.Envelope{}, msg.ChatSend{Room: roomName(m.room), Text: l.text(time.Now())})
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := m.ws.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := m.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		if errors.Is(err, websocket.ErrCloseSent) {
			return errors.New("write: connection closing")
		}
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// close ends every connection with 1000, waiting at most closeTime for the
// server's answers, and then for the readers.
func (l *load) close(members []*member) {
	deadline := time.Now().Add(closeTime)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "load done")
	for _, m := range members {
		m.closing.Store(true)
		_ = m.ws.WriteControl(websocket.CloseMessage, msg, deadline)
	}
	// Done at the deadline and after: with thousands of clients some close
	// frames are not even written by then, and their answers never come.
	wait, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for _, m := range members {
		select {
		case <-m.done:
		case <-wait.Done():
		}
		_ = m.ws.Close()
		<-m.done
	}
}

// printConnect writes the report's connection lines.
func (r *report) printConnect(w io.Writer) {
	fmt.Fprintf(w, "connected %d of %d clients in %v (%d rooms of about %d)\n",
		r.connected, r.clients, r.connectTook.Round(time.Millisecond), r.rooms, max(r.connected/r.rooms, 1))
	if len(r.refused) > 0 {
		fmt.Fprintf(w, "refused   %s\n", summarise(r.refused, 3))
	}
}

// print writes the report.
func (r *report) print(w io.Writer) {
	r.printConnect(w)
	if r.connected == 0 {
		return
	}
	secs := r.sendTook.Seconds()
	fmt.Fprintf(w, "sent      %d chat.send in %v: %.1f/s\n", r.sent, r.sendTook.Round(time.Millisecond), float64(r.sent)/secs)
	if r.skipped > 0 {
		fmt.Fprintf(w, "skipped   %d sends: this tool's writers fell behind -rate\n", r.skipped)
	}
	if len(r.writeErrs) > 0 {
		fmt.Fprintf(w, "failed    %s\n", summarise(r.writeErrs, 3))
	}
	pct := 100.0
	if r.expected > 0 {
		pct = 100 * float64(r.received) / float64(r.expected)
	}
	fmt.Fprintf(w, "received  %d of %d chat.message expected (%.2f%%): %.0f/s\n", r.received, r.expected, pct, float64(r.received)/secs)
	fmt.Fprintf(w, "latency   p50 %v  p90 %v  p99 %v  max %v\n", round(r.hist.percentile(50)), round(r.hist.percentile(90)),
		round(r.hist.percentile(99)), round(r.hist.max))
	if len(r.serverErrs) > 0 {
		fmt.Fprintf(w, "errors    %s\n", summarise(r.serverErrs, 5))
	}
	if len(r.lost) > 0 {
		fmt.Fprintf(w, "lost      %s\n", summarise(r.lost, 3))
	}
}

// round keeps three significant digits or so.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
