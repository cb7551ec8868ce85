//go:build !linux

package server

import (
	"errors"
	"net"
)

// poller is Linux's epoll poller (poller_linux.go); elsewhere no socket is
// watched, and every connection has a reader goroutine.
type poller struct {
	srv *Server
}

func socketFD(net.Conn) (int, bool) { return 0, false }

func (p *poller) watch(*Conn, int) (uint64, error) {
	return 0, errors.New("no poller on this system")
}

func (p *poller) arm(uint64, int) error { return errors.New("no poller on this system") }

func (p *poller) unwatch(uint64, int) {}
