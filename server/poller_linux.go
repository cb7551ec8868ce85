//go:build linux

package server

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller tells a node's parked connections (see Conn.park) that their
// sockets have something to read: one epoll instance and one goroutine
// (run) while the node has such connections. Each socket is registered
// one-shot: an event disarms it, a reader run starts, and the run arms it
// again when it parks. The runtime's own poller still does every read; this
// one only says when to start reading, so that an idle connection needs no
// goroutine blocked in a read.
type poller struct {
	srv *Server

	mu    sync.Mutex
	epfd  int // valid while running
	evfd  int // eventfd that stops run
	on    bool
	conns map[uint64]*Conn // by token
	next  uint64           // the last token given; 0 is run's stop event
}

// pollEvents arm a socket: readable, or the peer closed or failed it.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// socketFD returns the file descriptor under nc, when nc is a socket the
// poller can watch (a plain TCP or Unix socket, not TLS or a wrapper).
func socketFD(nc net.Conn) (int, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil || fd < 0 {
		return 0, false
	}
	return fd, true
}

func event(events uint32, token uint64) *unix.EpollEvent {
	return &unix.EpollEvent{Events: events, Fd: int32(uint32(token)), Pad: int32(uint32(token >> 32))}
}

// watch registers c's socket fd, armed, and returns its token.
func (p *poller) watch(c *Conn, fd int) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on {
		if err := p.start(); err != nil {
			return 0, err
		}
	}
	p.next++
	token := p.next
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, event(pollEvents, token)); err != nil {
		p.stopIfIdle()
		return 0, fmt.Errorf("epoll add: %w", err)
	}
	p.conns[token] = c
	return token, nil
}

// arm has the poller report fd (token) once more when it is readable.
func (p *poller) arm(token uint64, fd int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on {
		return errors.New("poller stopped")
	}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, event(pollEvents, token)); err != nil {
		return fmt.Errorf("epoll mod: %w", err)
	}
	return nil
}

// unwatch forgets fd (token), before its socket is closed; the poller stops
// when it watches nothing.
func (p *poller) unwatch(token uint64, fd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.conns[token]; !ok {
		return
	}
	delete(p.conns, token)
	if p.on {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	p.stopIfIdle()
}

// start opens the epoll instance and starts run. Called with mu held.
func (p *poller) start() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll create: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, event(unix.EPOLLIN, 0)); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(evfd)
		return fmt.Errorf("epoll add eventfd: %w", err)
	}
	p.epfd, p.evfd, p.on = epfd, evfd, true
	if p.conns == nil {
		p.conns = make(map[uint64]*Conn)
	}
	p.srv.wg.Add(1) // within a connection's own count: Shutdown is not past its Wait
	go p.run(epfd, evfd)
	return nil
}

// stopIfIdle stops run when nothing is watched. Called with mu held.
func (p *poller) stopIfIdle() {
	if !p.on || len(p.conns) > 0 {
		return
	}
	p.on = false
	var one [8]byte
	one[0] = 1 // native-endian 1 on little-endian machines; any non-zero value wakes it
	_, _ = unix.Write(p.evfd, one[:])
}

// run waits for events and starts the reader runs, until stopped; it then
// closes its epoll instance.
func (p *poller) run(epfd, evfd int) {
	defer p.srv.wg.Done()
	defer unix.Close(evfd)
	defer unix.Close(epfd)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			p.srv.log.Error("poller stopped", "err", err)
			p.failAll()
			return
		}
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if token == 0 {
				return
			}
			p.mu.Lock()
			c := p.conns[token]
			p.mu.Unlock()
			if c != nil {
				c.readable()
			}
		}
	}
}

// failAll wakes every parked connection, whose reader then reads (and
// blocks, as a reader goroutine does) instead of parking again.
func (p *poller) failAll() {
	p.mu.Lock()
	conns := make([]*Conn, 0, len(p.conns))
	for _, c := range p.conns {
		conns = append(conns, c)
	}
	p.on = false
	p.mu.Unlock()
	for _, c := range conns {
		c.readable()
	}
}
