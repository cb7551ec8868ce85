package natsbroker_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/tetherkit/tether/client"
)

// probeTransport is a client Transport that counts the bytes its sockets
// read and, when cut is set, fails its connection once right after the
// first map.snapshot page that has more to come, calling cut then: a node
// dying (or a network cut) in the middle of a snapshot, as its client sees
// it. The map tests and benchmarks (maps_*_test.go) share it.
type probeTransport struct {
	read  atomic.Int64
	cut   func()
	done  atomic.Bool
	cutAt time.Time // set before done
	atCut int64     // read bytes at the cut; set before done
}

func (p *probeTransport) Dial(ctx context.Context, url string) (client.Socket, error) {
	s, err := client.NativeTransport{}.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	return &probeSocket{Socket: s, p: p}, nil
}

type probeSocket struct {
	client.Socket
	p    *probeTransport
	dead bool
}

func (s *probeSocket) Read(ctx context.Context) ([]byte, error) {
	if s.dead {
		return nil, errors.New("test: the connection was cut")
	}
	f, err := s.Socket.Read(ctx)
	n := s.p.read.Add(int64(len(f)))
	if err == nil && s.p.cut != nil && !s.p.done.Load() &&
		bytes.Contains(f, []byte(`"type":"map.snapshot"`)) && bytes.Contains(f, []byte(`"more":true`)) {
		s.dead = true
		s.p.cutAt, s.p.atCut = time.Now(), n
		s.p.done.Store(true)
		s.p.cut()
	}
	return f, err
}
