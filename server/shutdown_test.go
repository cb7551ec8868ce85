package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
	"go.uber.org/goleak"
)

func TestShutdownSendsGoingAwayAndStopsEverything(t *testing.T) {
	before := goleak.IgnoreCurrent()
	e := newEnv(t, server.Config{})
	clients := []*testClient{e.dial("alice"), e.dial("bob"), e.dial("bob")}
	clients[0].join("lobby", 10)
	if _, _, err := e.srv.Publish(context.Background(), "lobby", testmsg.Notification{Title: "bye soon"}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Queued messages are delivered before the close.
	if got := waitFor[testmsg.Notification](clients[0], nil); got.msg.Title != "bye soon" {
		t.Errorf("alice got %q, want the message queued before the shutdown", got.msg.Title)
	}
	for _, c := range clients {
		if ce := c.waitClose(); ce.Code != shared.CloseGoingAway || ce.Text != "going away" {
			t.Errorf("%s: close %d %q, want %d going away", c.name, ce.Code, ce.Text, shared.CloseGoingAway)
		}
		if d := e.waitDisconnect(c.welcome.Conn); d.code != shared.CloseGoingAway {
			t.Errorf("%s: OnDisconnect code %d, want %d", c.name, d.code, shared.CloseGoingAway)
		}
	}
	if code, body := httpStatus(t, e.wsURL("carol"), nil); code != http.StatusServiceUnavailable {
		t.Errorf("handshake after Shutdown: status %d %s, want 503", code, body)
	}
	if st := tethertest.Stats(t, e.srv); st.Connections != 0 {
		t.Errorf("Stats().Connections = %d after Shutdown, want 0", st.Connections)
	}
	for _, c := range clients {
		c.close()
	}
	e.hs.Close()
	goleak.VerifyNone(t, before)
}

func TestShutdownGivesUpWhenContextEnds(t *testing.T) {
	e := newEnv(t, server.Config{})
	blocked := make(chan struct{})
	release := make(chan struct{})
	server.Handle(e.srv, func(ctx context.Context, _ *server.Conn, _ testmsg.ChatSend) error {
		close(blocked)
		<-release // a handler that ignores its context
		return nil
	})
	c := e.dial("alice")
	c.send(0, testmsg.ChatSend{Room: "r", Text: "block"})
	<-blocked
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.srv.Shutdown(ctx); err == nil {
		t.Error("Shutdown with a done context and a stuck handler returned nil")
	}
	close(release)
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	c.close()
	e.hs.Close()
}
