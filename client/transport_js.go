//go:build js && wasm

package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"unicode/utf8"

	"github.com/tetherkit/tether/internal/jsexc"
	"github.com/tetherkit/tether/shared"
)

// defaultTransport is the browser's own WebSocket under js/wasm.
func defaultTransport() Transport { return BrowserTransport{} }

// BrowserTransport opens WebSockets with the browser's WebSocket object
// through syscall/js. Browsers answer the server's ping frames themselves and
// hide them from scripts, which is why the client core also runs an
// application-level ping.
type BrowserTransport struct{}

// errLocalClose is returned by Read and Write after Close was called.
var errLocalClose = errors.New("websocket closed by this client")

// Dial opens a WebSocket to url and waits until it is open, the browser gives
// up, or ctx is done. When the handshake failed it asks the server why with
// a plain GET: a refusal (401, 403, banned, 429, 503) is returned as a
// *HandshakeError, as NativeTransport does; anything else as the browser's
// *CloseError (usually code 1006).
func (BrowserTransport) Dial(ctx context.Context, url string) (Socket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &browserSocket{signal: make(chan struct{}, 1), opened: make(chan struct{}), done: make(chan struct{})}
	if err := jsexc.Catch(func() {
		ctor := js.Global().Get("WebSocket")
		if ctor.IsUndefined() {
			panic("this browser has no WebSocket")
		}
		s.ws = ctor.New(url) // throws SyntaxError on a bad URL
	}); err != nil {
		return nil, fmt.Errorf("websocket %s: %w", url, err)
	}
	s.attach()
	select {
	case <-s.opened:
		return s, nil
	case <-s.done:
		if he := probeRefusal(ctx, url); he != nil { // handshake_js.go
			return nil, fmt.Errorf("websocket %s: %w", url, he)
		}
		return nil, fmt.Errorf("websocket %s: handshake failed: %w", url, s.closeErr)
	case <-ctx.Done():
		s.Close(shared.CloseNormal, "dial cancelled")
		return nil, fmt.Errorf("websocket %s: %w", url, ctx.Err())
	}
}

// browserSocket is one browser WebSocket. Its event handlers run on the
// JavaScript event loop and must never block, so incoming frames go to an
// unbounded queue that Read drains.
type browserSocket struct {
	ws     js.Value
	funcs  []js.Func
	opened chan struct{} // closed by the open event
	done   chan struct{} // closed once the socket is finished (closed either way)
	signal chan struct{} // capacity 1: a frame arrived or the socket finished

	openOnce sync.Once
	doneOnce sync.Once

	mu       sync.Mutex
	queue    [][]byte
	closeErr error // why the socket finished; set before done is closed
}

// attach installs the event handlers.
func (s *browserSocket) attach() {
	s.ws.Set("binaryType", "arraybuffer")
	on := func(event string, fn func(ev js.Value)) {
		f := js.FuncOf(func(_ js.Value, args []js.Value) any {
			var ev js.Value
			if len(args) > 0 {
				ev = args[0]
			}
			fn(ev)
			return nil
		})
		s.funcs = append(s.funcs, f)
		s.ws.Set("on"+event, f)
	}
	on("open", func(js.Value) { s.openOnce.Do(func() { close(s.opened) }) })
	on("message", func(ev js.Value) {
		data := ev.Get("data")
		var frame []byte
		if data.Type() == js.TypeString {
			frame = []byte(data.String())
		} else { // ArrayBuffer: Tether sends text frames only, the core will say so
			u8 := js.Global().Get("Uint8Array").New(data)
			frame = make([]byte, u8.Length())
			js.CopyBytesToGo(frame, u8)
		}
		s.mu.Lock()
		s.queue = append(s.queue, frame)
		s.mu.Unlock()
		s.wake()
	})
	// The error event carries no detail. Browsers follow it with close,
	// which has the code; some runtimes (Node.js 20) never close a socket
	// whose handshake failed, so a failure before open ends the dial here.
	on("error", func(js.Value) {
		select {
		case <-s.opened:
		default:
			s.finish(&CloseError{Code: 1006})
			// After finish detached the handlers: close may dispatch events
			// synchronously.
			_ = jsexc.Catch(func() { s.ws.Call("close") })
		}
	})
	on("close", func(ev js.Value) {
		code, reason := 1006, ""
		if ev.Truthy() {
			code, reason = ev.Get("code").Int(), ev.Get("reason").String()
		}
		s.finish(&CloseError{Code: code, Reason: reason})
	})
}

// finish records why the socket ended, detaches and releases the event
// handlers (so the browser never calls a released function) and wakes Read.
func (s *browserSocket) finish(cause error) {
	s.doneOnce.Do(func() {
		s.mu.Lock()
		s.closeErr = cause
		s.mu.Unlock()
		for _, ev := range []string{"onopen", "onmessage", "onerror", "onclose"} {
			s.ws.Set(ev, js.Null())
		}
		for _, f := range s.funcs {
			f.Release() // allowed while f runs: finish may be called from onclose
		}
		s.funcs = nil
		close(s.done)
		s.wake()
	})
}

func (s *browserSocket) wake() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// Read returns the next text frame. Frames that arrived before the close are
// returned first; then Read returns the *CloseError of the close event, or
// an error after Close.
func (s *browserSocket) Read(ctx context.Context) ([]byte, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			frame := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return frame, nil
		}
		err := s.closeErr
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-s.signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Write sends frame as one text frame. The browser queues it (see the
// socket's bufferedAmount) and never blocks, so ctx is only checked first.
func (s *browserSocket) Write(ctx context.Context, frame []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.done:
		s.mu.Lock()
		err := s.closeErr
		s.mu.Unlock()
		return fmt.Errorf("websocket write: %w", err)
	default:
	}
	// A JS string makes a text frame; a Uint8Array would make a binary one.
	if err := jsexc.Catch(func() { s.ws.Call("send", string(frame)) }); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

// Close starts the closing handshake with code and reason and finishes the
// socket at once: Read and Write return errLocalClose from now on. Browsers
// only let scripts send 1000 or 3000–4999 with a reason of at most 123 bytes;
// other codes are sent as 1000.
func (s *browserSocket) Close(code int, reason string) error {
	if code != shared.CloseNormal && (code < 3000 || code > 4999) {
		code = shared.CloseNormal
	}
	reason = truncateUTF8(reason, 123)
	s.finish(errLocalClose) // first: close may dispatch events synchronously
	err := jsexc.Catch(func() { s.ws.Call("close", code, reason) })
	if err != nil {
		return fmt.Errorf("websocket close: %w", err)
	}
	return nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
