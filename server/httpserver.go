package server

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ConfigureHTTPServer prepares the http.Server that serves s (and the other
// endpoints of the same process) for hostile clients. Call it before
// hs.Serve, after setting hs.Handler. It sets, when zero:
//
//   - hs.ReadHeaderTimeout to Config.HandshakeTimeout: a client that opens a
//     TCP connection and sends half a request is dropped after that long (a
//     handler cannot do it: it runs only once the headers have arrived);
//   - hs.IdleTimeout to Config.HTTPIdleTimeout: idle keep-alive
//     connections are closed.
//
// It wraps hs.Handler so that every request must be read whole, body
// included, within Config.HTTPReadTimeout of its headers, or
// Config.HandshakeTimeout for a WebSocket upgrade (once upgraded, a
// connection's reads are bounded by the heartbeat instead, so long-lived
// WebSockets are unaffected), and chains hs.ConnState to hold each peer
// address to Config.MaxHTTPConnsPerIP connections that are not upgraded
// WebSockets.
func (s *Server) ConfigureHTTPServer(hs *http.Server) {
	if hs.ReadHeaderTimeout == 0 {
		hs.ReadHeaderTimeout = s.cfg.HandshakeTimeout
	}
	if hs.IdleTimeout == 0 {
		hs.IdleTimeout = s.cfg.HTTPIdleTimeout
	}
	next := hs.Handler
	if next == nil {
		next = http.DefaultServeMux
	}
	readTimeout, upgradeTimeout := s.cfg.HTTPReadTimeout, s.cfg.HandshakeTimeout
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := readTimeout
		if isUpgrade(r) {
			// Until the upgrade; the connection's read loop then moves the
			// deadline with every message (the heartbeat timeout).
			d = upgradeTimeout
		}
		// An error means the connection cannot take deadlines (HTTP/2, a
		// test recorder): nothing to bound there.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		next.ServeHTTP(w, r)
	})
	if s.cfg.MaxHTTPConnsPerIP > 0 {
		l := &peerLimit{max: s.cfg.MaxHTTPConnsPerIP, trusted: s.cfg.TrustedPeer,
			count: make(map[string]int), conns: make(map[net.Conn]string), srv: s}
		prev := hs.ConnState
		hs.ConnState = func(c net.Conn, state http.ConnState) {
			l.track(c, state)
			if prev != nil {
				prev(c, state)
			}
		}
	}
}

// isUpgrade reports whether r asks for a WebSocket upgrade.
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}

// peerLimit counts the open, not hijacked connections of each peer address.
type peerLimit struct {
	max     int
	trusted func(ip string) bool
	srv     *Server

	mu    sync.Mutex
	count map[string]int
	conns map[net.Conn]string // counted connections → their peer
}

// track is an http.Server.ConnState hook.
func (l *peerLimit) track(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		ip := peerHost(c.RemoteAddr())
		if l.trusted != nil && l.trusted(ip) {
			return
		}
		l.mu.Lock()
		over := l.count[ip] >= l.max
		if !over {
			l.count[ip]++
			l.conns[c] = ip
		}
		l.mu.Unlock()
		if over {
			l.srv.log.Debug("http connection refused: too many from this address", "remote", ip, "max", l.max)
			_ = c.Close()
		}
	case http.StateHijacked, http.StateClosed:
		l.mu.Lock()
		if ip, ok := l.conns[c]; ok {
			delete(l.conns, c)
			if l.count[ip]--; l.count[ip] <= 0 {
				delete(l.count, ip)
			}
		}
		l.mu.Unlock()
	}
}

// peerHost is the host part of a connection's remote address.
func peerHost(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
