package tethertest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// CutProxy forwards TCP connections to its backends, each new connection to
// the next backend in turn, and can cut every live connection at once the
// way a network loss does: no close frame, a reset instead of a FIN. Shut
// keeps the network down (new connections are dropped) until Open.
type CutProxy struct {
	ln       net.Listener
	backends []string
	wg       sync.WaitGroup

	mu       sync.Mutex
	accepted int
	shut     bool
	conns    []net.Conn
}

// NewCutProxy listens on 127.0.0.1 and forwards to backends (host:port),
// until the test ends.
func NewCutProxy(t testing.TB, backends ...string) *CutProxy {
	t.Helper()
	if len(backends) == 0 {
		t.Fatal("tethertest: NewCutProxy without a backend")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("tethertest: proxy listen: %v", err)
	}
	p := &CutProxy{ln: ln, backends: backends}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { _ = ln.Close(); p.Cut(); p.wg.Wait() })
	return p
}

// Addr is the host:port the proxy listens on.
func (p *CutProxy) Addr() string { return p.ln.Addr().String() }

// URL is the WebSocket URL for user through the proxy (the development
// login's ?user=).
func (p *CutProxy) URL(user string) string {
	return "ws://" + p.Addr() + "/ws?user=" + user
}

// Accepted is how many connections the proxy has accepted.
func (p *CutProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Cut drops every forwarded connection abruptly.
func (p *CutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not a graceful FIN
		}
		_ = c.Close()
	}
	p.conns = nil
}

// Shut cuts every forwarded connection and drops new ones until Open, so
// that a client stays away while the test goes on.
func (p *CutProxy) Shut() {
	p.mu.Lock()
	p.shut = true
	p.mu.Unlock()
	p.Cut()
}

// Open lets connections through again after Shut.
func (p *CutProxy) Open() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shut = false
}

// BaseURL is the proxy's http:// address, the one a browser page opens.
func (p *CutProxy) BaseURL() string { return "http://" + p.Addr() }

func (p *CutProxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		shut := p.shut
		backend := p.backends[p.accepted%len(p.backends)]
		if !shut {
			p.accepted++
		}
		p.mu.Unlock()
		if shut {
			_ = down.Close()
			continue
		}
		up, err := net.Dial("tcp", backend)
		if err != nil {
			_ = down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(up, down); _ = up.Close() }()
		go func() { defer p.wg.Done(); _, _ = io.Copy(down, up); _ = down.Close() }()
	}
}
