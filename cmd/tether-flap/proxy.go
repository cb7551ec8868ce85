package main

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// flapProxy forwards TCP connections to one backend with a latency added
// each way, and cuts them all at random intervals while flapping.
type flapProxy struct {
	ln      net.Listener
	backend string
	delay   time.Duration
	wg      sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	accepted int
	cuts     int
	stopCuts chan struct{} // nil unless flapping
}

// newFlapProxy listens on 127.0.0.1 and forwards to backend (host:port).
func newFlapProxy(backend string, delay time.Duration) (*flapProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &flapProxy{ln: ln, backend: backend, delay: delay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the host:port the proxy listens on.
func (p *flapProxy) Addr() string { return p.ln.Addr().String() }

// flap cuts every connection at intervals drawn from [lo, hi] until
// stopFlapping.
func (p *flapProxy) flap(lo, hi time.Duration, rng *rand.Rand) {
	stop := make(chan struct{})
	p.mu.Lock()
	p.stopCuts = stop
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			t := time.NewTimer(lo + time.Duration(rng.Int64N(int64(hi-lo)+1)))
			select {
			case <-stop:
				t.Stop()
				return
			case <-t.C:
				p.cut()
			}
		}
	}()
}

// stopFlapping ends the cuts and reports how many there were.
func (p *flapProxy) stopFlapping() (cuts, accepted int) {
	p.mu.Lock()
	if p.stopCuts != nil {
		close(p.stopCuts)
		p.stopCuts = nil
	}
	defer p.mu.Unlock()
	return p.cuts, p.accepted
}

// cut resets every forwarded connection, as a lost link does.
func (p *flapProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN
		}
		_ = c.Close()
	}
	clear(p.conns)
	p.cuts++
}

// Close stops the proxy and its connections and waits for its goroutines.
func (p *flapProxy) Close() {
	_ = p.ln.Close()
	p.stopFlapping()
	p.cut()
	p.wg.Wait()
}

func (p *flapProxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.backend)
		if err != nil {
			_ = down.Close()
			continue
		}
		p.mu.Lock()
		p.accepted++
		p.conns[down], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.pipe(up, down) }()
		go func() { defer p.wg.Done(); p.pipe(down, up) }()
	}
}

// chunk is bytes read from one side, due on the other at due.
type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst, each chunk delay after it was read, until either
// side fails; then it closes both.
func (p *flapProxy) pipe(dst, src net.Conn) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	ch := make(chan chunk, 4096)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{b: buf[:n], due: time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d) // the link's latency, not a synchronisation
		}
		if _, err := dst.Write(c.b); err != nil {
			_ = src.Close() // ends the reader
			for range ch {
			}
			return
		}
	}
}
