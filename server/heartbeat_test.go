package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
)

// TestHeartbeatDueAtOnce: with a heartbeat so short that its timer fires
// while the connection is still being set up, every connection still gets
// its pings and the server does not crash. The timer's first firing raced
// with the assignment of the timer to the connection: the writer could
// reset a nil timer (a panic that took the whole server down), and the race
// detector saw it in TestConcurrentPushBroadcastHeartbeat's 20ms heartbeats
// on a loaded machine. Before the timer was armed only once assigned, this
// test failed on its first run.
func TestHeartbeatDueAtOnce(t *testing.T) {
	const (
		conns = 50
		pings = 3 // each connection waits for this many
	)
	s := tethertest.NewServer(t, server.Config{
		Heartbeat:        time.Microsecond,
		HeartbeatTimeout: time.Minute,
		MaxConnsPerUser:  -1,
		MaxConnsPerIP:    -1,
	})
	var wg sync.WaitGroup
	missing := make(chan int, conns)
	for range conns {
		ws, _ := s.Dial(t, "beat")
		wg.Go(func() {
			var (
				mu   sync.Mutex
				n    int
				done = make(chan struct{})
			)
			ws.SetPingHandler(func(string) error {
				mu.Lock()
				defer mu.Unlock()
				if n++; n == pings {
					close(done)
				}
				return nil
			})
			read := make(chan struct{})
			go func() { // control frames are handled while reading
				defer close(read)
				for {
					if _, _, err := ws.NextReader(); err != nil {
						return
					}
				}
			}()
			select {
			case <-done:
			case <-read:
			case <-time.After(tethertest.Wait):
			}
			_ = ws.Close()
			<-read
			mu.Lock()
			defer mu.Unlock()
			if n < pings {
				missing <- n
			}
		})
	}
	wg.Wait()
	close(missing)
	for n := range missing {
		t.Errorf("a connection got %d pings within %v, want %d", n, tethertest.Wait, pings)
	}
}
