package raw

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestAnswerPings: a connection that AnswerPings set up answers each of the
// server's pings with a pong carrying the ping's payload, while it is read.
func TestAnswerPings(t *testing.T) {
	pongs := make(chan string, 4)
	done := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer ws.Close()
		ws.SetPongHandler(func(s string) error { pongs <- s; return nil })
		go func() { // the server's reader: pongs arrive through it
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
		for _, p := range []string{"one", "two"} {
			if err := ws.WriteControl(websocket.PingMessage, []byte(p), time.Now().Add(5*time.Second)); err != nil {
				t.Errorf("ping %q: %v", p, err)
				return
			}
		}
		<-done
	}))
	defer hs.Close()
	defer close(done)

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	AnswerPings(ws)
	go func() { // the client's reader answers the pings
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for _, want := range []string{"one", "two"} {
		select {
		case got := <-pongs:
			if got != want {
				t.Errorf("pong %q, want %q (the ping's payload)", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no pong answered the ping %q within 5s", want)
		}
	}
}
