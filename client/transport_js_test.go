//go:build js && wasm

package client

// These tests run BrowserTransport on a JavaScript WebSocket. They need a
// Tether server: TestBrowserTransportInNode (browser_harness_test.go) starts
// one, builds this package for js/wasm and runs these tests under Node.js
// with TETHER_WS_URL set. Without it they skip.

import (
	"context"
	"errors"
	"os"
	"syscall/js"
	"testing"
	"time"

	"github.com/tetherkit/tether/shared"

	"github.com/tetherkit/tether/internal/testmsg"
)

// browserServer returns the test server's WebSocket URL for user.
func browserServer(t *testing.T, user string) string {
	t.Helper()
	base := os.Getenv("TETHER_WS_URL")
	if base == "" {
		t.Skip("TETHER_WS_URL not set (see TestBrowserTransportInNode)")
	}
	if js.Global().Get("WebSocket").Type() != js.TypeFunction {
		t.Skip("no WebSocket in this JavaScript runtime")
	}
	return base + "?user=" + user
}

func readType(t *testing.T, s Socket) shared.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	frame, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	env, err := shared.DecodeEnvelope(frame)
	if err != nil {
		t.Fatalf("frame %s: %v", frame, err)
	}
	return env
}

func TestBrowserTransportRoundTrip(t *testing.T) {
	url := browserServer(t, "ann")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := BrowserTransport{}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if env := readType(t, s); env.Type != "welcome" {
		t.Fatalf("first frame is %q, want welcome", env.Type)
	}
	if err := s.Write(ctx, []byte(`{"type":"join","id":7,"data":{"room":"js"}}`)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if env := readType(t, s); env.Type != "joined" || env.ID != 7 {
		t.Fatalf("reply = %s #%d, want joined #7", env.Type, env.ID)
	}

	// 1001 is not a code scripts may send; it goes out as 1000 instead of
	// throwing.
	if err := s.Close(shared.CloseGoingAway, "reconnecting"); err != nil {
		t.Fatalf("Close(1001): %v", err)
	}
	if _, err := s.Read(ctx); !errors.Is(err, errLocalClose) {
		t.Errorf("Read after Close = %v, want errLocalClose", err)
	}
	if err := s.Write(ctx, []byte(`{"type":"ping"}`)); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func TestBrowserTransportServerClose(t *testing.T) {
	url := browserServer(t, "rejected") // the harness's OnConnect refuses this user
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := BrowserTransport{}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer s.Close(shared.CloseNormal, "")
	var ce *CloseError
	for {
		_, err := s.Read(ctx)
		if err == nil {
			continue // welcome
		}
		if !errors.As(err, &ce) {
			t.Fatalf("Read = %v, want a *CloseError", err)
		}
		break
	}
	if ce.Code != shared.CloseRejected || ce.Reason != "no entry" {
		t.Errorf("close = %d %q, want %d \"no entry\"", ce.Code, ce.Reason, shared.CloseRejected)
	}
}

func TestBrowserTransportDialErrors(t *testing.T) {
	url := browserServer(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if _, err := (BrowserTransport{}).Dial(ctx, "not a url"); err == nil {
		t.Error("Dial(\"not a url\") succeeded")
	}

	var ce *CloseError
	if _, err := (BrowserTransport{}).Dial(ctx, "ws://127.0.0.1:1/ws"); !errors.As(err, &ce) || ce.Code != 1006 {
		t.Errorf("Dial to a closed port = %v, want a *CloseError with code 1006", err)
	}

	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if _, err := (BrowserTransport{}).Dial(done, url); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a cancelled context = %v, want context.Canceled", err)
	}

	s, err := BrowserTransport{}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer s.Close(shared.CloseNormal, "")
	readType(t, s) // welcome
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := s.Read(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read on a quiet socket = %v, want context.DeadlineExceeded", err)
	}
}

// TestBrowserClient runs the whole client core on the browser transport.
func TestBrowserClient(t *testing.T) {
	url := browserServer(t, "carl")
	c := newClient(t, Config{URL: url}) // the default transport is BrowserTransport here
	got := make(chan testmsg.ChatMessage, 1)
	On(c, func(m testmsg.ChatMessage) { got <- m })
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(context.Background()) }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Join(ctx, "js-chat", 0); err != nil {
		t.Fatalf("Join: %v", err)
	}
	if _, err := Request[shared.Reply](ctx, c, testmsg.ChatSend{Room: "js-chat", Text: "from wasm"}); err != nil {
		t.Fatalf("chat.send: %v", err)
	}
	select {
	case m := <-got:
		if m.Text != "from wasm" || m.User != "carl" {
			t.Errorf("got %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("no chat.message within 5 s")
	}
	c.Close()
	select {
	case err := <-runDone:
		if err != nil {
			t.Errorf("Run = %v, want nil after Close", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after Close")
	}
}

// TestBrowserWatch fires fake document and window events at WatchBrowser.
func TestBrowserWatch(t *testing.T) {
	g := js.Global()
	if g.Get("EventTarget").Type() != js.TypeFunction {
		t.Skip("no EventTarget in this JavaScript runtime")
	}
	if g.Get("document").Truthy() {
		t.Skip("a real browser: not replacing its document")
	}
	// A fake document and window event target on the global object.
	doc := g.Get("EventTarget").New()
	doc.Set("visibilityState", "visible")
	win := g.Get("EventTarget").New()
	g.Set("document", doc)
	g.Set("addEventListener", win.Get("addEventListener").Call("bind", win))
	g.Set("removeEventListener", win.Get("removeEventListener").Call("bind", win))
	defer func() {
		g.Delete("document")
		g.Delete("addEventListener")
		g.Delete("removeEventListener")
	}()
	fire := func(target js.Value, name string) {
		target.Call("dispatchEvent", g.Get("Event").New(name))
	}
	c := newClient(t, Config{URL: "ws://127.0.0.1:1/ws"})
	woken := func() bool {
		select {
		case <-c.wake:
			return true
		default:
			return false
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	WatchBrowser(ctx, c)

	fire(win, "online")
	if !woken() {
		t.Error(`"online" did not call Reconnect`)
	}
	fire(win, "offline") // not open: nothing to check
	if woken() {
		t.Error(`"offline" while not connected called Reconnect`)
	}
	doc.Set("visibilityState", "hidden")
	fire(doc, "visibilitychange")
	doc.Set("visibilityState", "visible")
	fire(doc, "visibilitychange") // hidden for far less than 5 s
	if woken() {
		t.Error("a brief hide called Reconnect")
	}

	cancel() // removes the listeners (asynchronously: context.AfterFunc)
	deadline := time.Now().Add(2 * time.Second)
	for {
		fire(win, "online")
		if !woken() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(`"online" still calls Reconnect after ctx ended`)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
