package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/shared"
)

// serve runs run() with args until the test ends and returns its base URL.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	return startRun(t, args...).base
}

// waitClosed waits until the server closes c (a read returns an error,
// after whatever answer it sent) and returns how long that took. It fails
// the test when c is still open after limit.
func waitClosed(c net.Conn, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if err != nil && (errorAs(err, &ne) && ne.Timeout()) {
		return 0, fmt.Errorf("still open after %s", limit)
	}
	return time.Since(start), nil
}

func errorAs(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}

// TestSlowAndIdleHTTPConnectionsAreClosed is issue 8's attack: 100 sockets
// sending a POST /api/push body at 1 byte per 2 s and 100 idle keep-alive
// sockets after one GET /healthz are all closed within the timeouts (1 s
// each here), while a WebSocket stays open past them.
func TestSlowAndIdleHTTPConnectionsAreClosed(t *testing.T) {
	const n = 100
	base := serve(t, "-http-read-timeout", "1s", "-http-idle-timeout", "1s", "-max-http-conns-ip", "-1")
	addr := strings.TrimPrefix(base, "http://")

	// A WebSocket opened before the attack.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", guestLogin(t, base, "Stayer"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	tethertest.ReadType(t, ws, "welcome")

	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	var wg sync.WaitGroup
	defer wg.Wait()
	defer halt()
	took := make(chan time.Duration, 2*n)
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i < n { // slow body
			fmt.Fprintf(c, "POST /api/push HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr)
			wg.Go(func() {
				tick := time.NewTicker(2 * time.Second)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := c.Write([]byte(" ")); err != nil {
							return
						}
					}
				}
			})
		} else { // idle keep-alive after one request
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
			r, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || r.StatusCode != 200 {
				t.Fatalf("GET /healthz: %v %v", r, err)
			}
			r.Body.Close()
		}
		wg.Go(func() {
			d, err := waitClosed(c, 15*time.Second)
			if err != nil {
				errs <- err
				return
			}
			took <- d
		})
	}
	// The WebSocket outlives both timeouts.
	past := time.NewTimer(3 * time.Second)
	<-past.C
	b, _ := shared.Encode(shared.Envelope{ID: 1}, shared.Ping{})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("the WebSocket did not survive the HTTP timeouts: %v", err)
	}
	tethertest.ReadType(t, ws, "pong")

	var longest time.Duration
	for range 2 * n {
		select {
		case err := <-errs:
			t.Fatalf("an attacking socket: %v", err)
		case d := <-took:
			longest = max(longest, d)
		}
	}
	halt()
	wg.Wait()
	t.Logf("%d slow-body and %d idle sockets closed, the last after %s", n, n, longest.Round(time.Millisecond))
}

// TestHTTPConnectionsPerIPCapped: one address holds at most
// -max-http-conns-ip connections that are not WebSockets; one more is closed
// at once. Upgraded WebSockets do not count.
func TestHTTPConnectionsPerIPCapped(t *testing.T) {
	base := serve(t, "-max-http-conns-ip", "5", "-secret", testSecret)
	addr := strings.TrimPrefix(base, "http://")
	// A token from the CLI, not a login: no HTTP connection of the test's
	// own may still count (the server notices closes asynchronously).
	var tok bytes.Buffer
	if err := runToken([]string{"--user", "ws"}, env(map[string]string{"TETHER_SECRET": testSecret}), &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + strings.TrimSpace(tok.String())}}
	for range 5 { // WebSockets: not counted once upgraded
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", bearer)
		if err != nil {
			t.Fatalf("WebSocket: %v", err)
		}
		defer ws.Close()
		tethertest.ReadType(t, ws, "welcome")
	}
	var held []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Counted once the server accepted them: a request on each proves it.
	for _, c := range held {
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("GET /healthz on a held connection: %v %v", r, err)
		}
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	fmt.Fprintf(extra, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	if _, err := waitClosed(extra, 5*time.Second); err != nil {
		t.Fatalf("a sixth connection from the same address: %v, want it closed at once", err)
	}
	held[0].Close()
	// Closing one frees a slot (the server notices the close asynchronously).
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing a held connection GET /healthz still fails: %v", err)
		}
	}
}

// TestHandshakeDuringShutdownGets503: while the server drains its
// WebSockets (one of them does not answer the close, which holds the drain
// for the close grace), a new handshake gets the documented 503 "closed",
// not "connection refused".
func TestHandshakeDuringShutdownGets503(t *testing.T) {
	srv := startRun(t)
	base, stop := srv.base, srv.cancel
	addr := strings.TrimPrefix(base, "http://")
	cookie := guestLogin(t, base, "Late")
	silent, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", cookie) // never reads: does not answer the close
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	stop()
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 1; ; attempt++ {
		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", cookie)
		switch {
		case err == nil:
			ws.Close() // not shutting down yet
		case resp != nil:
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"code":"closed"`) {
				t.Fatalf("handshake during shutdown: HTTP %d %s, want 503 closed", resp.StatusCode, body)
			}
			t.Logf("attempt %d: HTTP 503 %s", attempt, strings.TrimSpace(string(body)))
			return
		default:
			t.Fatalf("attempt %d: handshake during shutdown failed with %v before any 503 closed", attempt, err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not start shutting down within 10s")
		}
	}
}
