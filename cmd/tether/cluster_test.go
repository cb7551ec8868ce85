package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/shared"
)

// TestEmbeddedNATSRestartKeepsRoomsAndIdentity: a node with -nats embedded
// is restarted on the same data dir; its client reconnects with the same
// token (the generated secret was kept) and resumes with recovered true.
func TestEmbeddedNATSRestartKeepsRoomsAndIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // created by the server
	args := []string{"-nats", "embedded", "-data-dir", dir}

	srv := startRun(t, args...)
	base, stop := srv.base, srv.stop
	cookie := guestLogin(t, base, "Alice")
	ws := dialWS(t, base, cookie)
	user := welcomeUser(t, ws)
	send(t, ws, 1, shared.Join{Room: "lobby"})
	var joined shared.Joined
	decodeData(t, tethertest.ReadType(t, ws, "joined"), &joined)
	for i := range 3 {
		send(t, ws, uint64(2+i), msg.ChatSend{Room: "lobby", Text: "before the restart"})
	}
	var last shared.Envelope
	for range 3 {
		last = tethertest.ReadType(t, ws, "chat.message")
	}
	if last.Seq != 3 {
		t.Fatalf("third message has seq %d, want 3", last.Seq)
	}
	ws.Close()
	stop()

	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700}, {filepath.Join(dir, secretFile), 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.mode {
			t.Errorf("%s has mode %v, want %v", c.path, fi.Mode().Perm(), c.mode)
		}
	}

	srv = startRun(t, args...)
	base, stop = srv.base, srv.stop
	defer stop()
	ws = dialWS(t, base, cookie) // the old token still works: the secret was kept
	defer ws.Close()
	if again := welcomeUser(t, ws); again != user {
		t.Errorf("after the restart the token says user %q, want %q", again, user)
	}
	since := last.Seq
	send(t, ws, 1, shared.Join{Room: "lobby", Since: &since, Epoch: joined.Epoch})
	var rejoined shared.Joined
	decodeData(t, tethertest.ReadType(t, ws, "joined"), &rejoined)
	if !rejoined.Recovered || rejoined.Epoch != joined.Epoch || rejoined.Seq != 3 {
		t.Errorf("resume after the restart = %+v, want recovered at seq 3 in epoch %q", rejoined, joined.Epoch)
	}
	send(t, ws, 2, msg.ChatSend{Room: "lobby", Text: "after the restart"})
	if env := tethertest.ReadType(t, ws, "chat.message"); env.Seq != 4 {
		t.Errorf("first message after the restart has seq %d, want 4", env.Seq)
	}
}

func dialWS(t *testing.T, base string, h http.Header) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", h)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return ws
}

func welcomeUser(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	var w shared.Welcome
	decodeData(t, tethertest.ReadType(t, ws, "welcome"), &w)
	return w.User
}

func send(t *testing.T, ws *websocket.Conn, id uint64, m shared.Message) {
	t.Helper()
	b, err := shared.Encode(shared.Envelope{ID: id}, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
}

func decodeData(t *testing.T, env shared.Envelope, v any) {
	t.Helper()
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("%s data %s: %v", env.Type, env.Data, err)
	}
}

// TestMemoryModeKeepsTheSecret: without -secret and without NATS, a restart
// on the same data dir still accepts the tokens it issued.
func TestMemoryModeKeepsTheSecret(t *testing.T) {
	args := []string{"-data-dir", filepath.Join(t.TempDir(), "state")}
	srv := startRun(t, args...)
	base, stop := srv.base, srv.stop
	cookie := guestLogin(t, base, "Bob")
	ws := dialWS(t, base, cookie)
	user := welcomeUser(t, ws)
	ws.Close()
	stop()

	srv = startRun(t, args...)
	base, stop = srv.base, srv.stop
	defer stop()
	ws = dialWS(t, base, cookie)
	defer ws.Close()
	if again := welcomeUser(t, ws); again != user {
		t.Errorf("after the restart the token says user %q, want %q", again, user)
	}
}

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"}, "/s/tether"},
		{map[string]string{"HOME": "/h"}, "/h/.local/state/tether"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := defaultDataDir(env(tt.env)); got != tt.want {
			t.Errorf("defaultDataDir(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
	o, err := parseOptions(nil, env(map[string]string{"HOME": "/h", "TETHER_NATS": "nats://n:4222", "TETHER_NODE": "n1"}), nil)
	if err != nil || o.dataDir != "/h/.local/state/tether" || o.nats != "nats://n:4222" || o.node != "n1" {
		t.Errorf("parseOptions from the environment = %+v, %v", o, err)
	}
}

// TestUnwritableDataDirStillServes: a data dir that cannot be created costs
// only the kept secret: the server starts, with a random one.
func TestUnwritableDataDirStillServes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startRun(t, "-data-dir", filepath.Join(file, "state"))
	res, err := http.Get(srv.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("readyz = %d with an unusable data dir, want 200", res.StatusCode)
	}
}
