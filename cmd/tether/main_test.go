package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/shared"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(o options) bool
		wantErr string
	}{
		{name: "defaults", check: func(o options) bool {
			return o.addr == "127.0.0.1:8080" && o.heartbeat == 25*time.Second && o.history == 1000 && o.historyTTL == 2*time.Minute &&
				o.readLimit == 64<<10 && o.msgRate == 50 && !o.compression && guestOn(o) && len(o.apiKeys) == 0
		}},
		{name: "env fallback", env: map[string]string{"TETHER_ADDR": "127.0.0.1:9999", "TETHER_HEARTBEAT": "5s", "TETHER_HEARTBEAT_TIMEOUT": "10s"},
			check: func(o options) bool {
				return o.addr == "127.0.0.1:9999" && o.heartbeat == 5*time.Second && o.heartbeatTimeout == 10*time.Second
			}},
		{name: "flag beats env", args: []string{"-addr", "127.0.0.1:1"}, env: map[string]string{"TETHER_ADDR": "127.0.0.1:2"},
			check: func(o options) bool { return o.addr == "127.0.0.1:1" }},
		{name: "history 0 means none", args: []string{"-history", "0"}, check: func(o options) bool { return o.history == -1 }},
		{name: "secret turns guest login off", args: []string{"-secret", strings.Repeat("s", 32)},
			check: func(o options) bool { return !guestOn(o) }},
		{name: "guest forced on with secret", args: []string{"-secret", strings.Repeat("s", 32), "-guest", "true"},
			check: func(o options) bool { return guestOn(o) }},
		{name: "lists", args: []string{"-api-keys", " k1 ,k2,", "-origins", "https://App.Example,http://x.example:8080"},
			check: func(o options) bool {
				return len(o.apiKeys) == 2 && o.apiKeys[0] == "k1" && len(o.origins) == 2 && o.origins[0] == "https://app.example"
			}},
		{name: "short secret", args: []string{"-secret", "short"}, wantErr: "at least 32 bytes"},
		{name: "bad duration", args: []string{"-heartbeat", "soon"}, wantErr: "-heartbeat"},
		{name: "bad origin", args: []string{"-origins", "app.example"}, wantErr: "not an origin"},
		{name: "bad bool", env: map[string]string{"TETHER_COMPRESSION": "maybe"}, wantErr: "-compression"},
		{name: "token ttl", args: []string{"-token-ttl", "30m"}, check: func(o options) bool { return o.tokenTTL == 30*time.Minute }},
		{name: "token ttl too short", args: []string{"-token-ttl", "5s"}, wantErr: "at least 1m"},
		{name: "trusted proxies", args: []string{"-trusted-proxies", "10.0.0.0/8, 127.0.0.1"}, check: func(o options) bool { return len(o.proxies) == 2 }},
		{name: "bad proxy", args: []string{"-trusted-proxies", "lb.local"}, wantErr: "-trusted-proxies"},
		{name: "tiny read limit", args: []string{"-read-limit", "10"}, wantErr: "at least 1024"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
		{name: "history memory defaults", check: func(o options) bool {
			return o.historyBytes == 1<<20 && o.historyMemory == 256<<20 && o.maxRoomsConn == 100
		}},
		{name: "history memory flags", args: []string{"-history-bytes", "512KiB", "-history-memory", "2GiB", "-max-rooms-conn", "20"},
			check: func(o options) bool {
				return o.historyBytes == 512<<10 && o.historyMemory == 2<<30 && o.maxRoomsConn == 20
			}},
		{name: "history memory env, plain bytes", env: map[string]string{"TETHER_HISTORY_MEMORY": "65536", "TETHER_MAX_ROOMS_CONN": "0"},
			check: func(o options) bool { return o.historyMemory == 65536 && o.maxRoomsConn == -1 }},
		{name: "history bytes 0 means no bound", args: []string{"-history-bytes", "0"}, check: func(o options) bool { return o.historyBytes == -1 }},
		{name: "bad size", args: []string{"-history-memory", "lots"}, wantErr: "-history-memory"},
		{name: "negative size", args: []string{"-history-bytes", "-1MiB"}, wantErr: "-history-bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, env(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseOptions(%q) error = %v, want it to mention %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseOptions(%q): %v", tt.args, err)
			}
			if !tt.check(o) {
				t.Fatalf("parseOptions(%q) = %+v", tt.args, o)
			}
		})
	}
}

// TestServeLoginPushShutdown runs the binary's run(): a guest logs in, opens
// a WebSocket with the cookie, receives a push made by the CLI, and gets
// 1001 "going away" when the server stops. The health, readiness and
// metrics endpoints answer meanwhile.
func TestServeLoginPushShutdown(t *testing.T) {
	srv := startRun(t)
	base, stop := srv.base, srv.cancel

	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", path, res.StatusCode, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), "tether_connections") {
			t.Fatalf("/metrics lacks tether_connections:\n%.500s", body)
		}
	}

	res, err := http.Post(base+"/auth/guest", "application/json", strings.NewReader(`{"name":"Alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ User string }
	_ = json.NewDecoder(res.Body).Decode(&sess)
	res.Body.Close()
	if res.StatusCode != 200 || len(res.Cookies()) == 0 || sess.User == "" {
		t.Fatalf("guest login: %d, cookies %v, user %q", res.StatusCode, res.Cookies(), sess.User)
	}
	h := http.Header{"Cookie": {res.Cookies()[0].String()}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", h)
	if err != nil {
		t.Fatalf("dial with the login cookie: %v", err)
	}
	defer ws.Close()
	tethertest.ReadType(t, ws, "welcome")

	var out bytes.Buffer
	err = runCommand(context.Background(), "push", []string{"--user", sess.User, "--type", "notification", "--data", `{"title":"from the CLI"}`},
		env(map[string]string{"TETHER_URL": base}), &out, io.Discard)
	if err != nil || !strings.Contains(out.String(), `"delivered": 1`) {
		t.Fatalf("tether push = %v, output %s", err, out.String())
	}
	env := tethertest.ReadType(t, ws, "notification")
	if !strings.Contains(string(env.Data), "from the CLI") {
		t.Fatalf("notification data %s", env.Data)
	}

	stop()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, shared.CloseGoingAway) {
				t.Fatalf("on shutdown the client got %v, want close 1001", err)
			}
			break
		}
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"push", []string{"--type", "notification"}, "exactly one target"},
		{"push", []string{"--all", "--user", "a", "--type", "notification"}, "exactly one target"},
		{"push", []string{"--all"}, "--type is required"},
		{"push", []string{"--all", "--type", "notification", "--data", "{"}, "not valid JSON"},
		{"kick", nil, "--user is required"},
		{"kick", []string{"--user", "a", "--ban", "-1m"}, "--ban must not be negative"},
		{"kick", []string{"--user", "a", "--ban", "soon"}, "invalid value"},
		{"unban", nil, "--user is required"},
		{"bans", []string{"extra"}, "unexpected arguments"},
		{"presence", nil, "--room is required"},
		{"stats", []string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			err := runCommand(context.Background(), tt.name, tt.args, env(map[string]string{"TETHER_URL": "http://127.0.0.1:1"}), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

var listening = regexp.MustCompile(`Tether listening on (http://\S+)`)

// guestLogin logs in as a guest named name and returns the handshake
// header that carries the login cookie.
func guestLogin(t *testing.T, base, name string) http.Header {
	t.Helper()
	body, err := json.Marshal(map[string]string{"name": name})
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(base+"/auth/guest", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("guest login: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(res.Cookies()) == 0 {
		t.Fatalf("guest login as %s: HTTP %d, cookies %v", name, res.StatusCode, res.Cookies())
	}
	return http.Header{"Cookie": {res.Cookies()[0].String()}}
}

// runningServer is the binary's run() going in this process.
type runningServer struct {
	base   string             // http://127.0.0.1:port
	stdout *tethertest.Buffer // what run wrote to stdout
	cancel func()             // begins the shutdown, returns at once
	stop   func()             // shuts down and waits for run, checking its error
}

// startRun runs the binary with -addr 127.0.0.1:0 -ticker -1s and then
// args, waits until it listens, and stops it when the test ends.
func startRun(t *testing.T, args ...string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr tethertest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-ticker", "-1s"}, args...), env(nil), &stdout, &stderr)
	}()
	var once sync.Once
	stop := func() {
		cancel()
		once.Do(func() {
			if err := <-done; err != nil {
				t.Errorf("run: %v\n%s", err, stderr.String())
			}
		})
	}
	t.Cleanup(stop)
	return &runningServer{base: waitListening(t, &stdout, &stderr), stdout: &stdout, cancel: cancel, stop: stop}
}

// waitListening waits for the server's "listening" line and returns its
// base URL.
func waitListening(t *testing.T, stdout, stderr *tethertest.Buffer) string {
	t.Helper()
	var base string
	tethertest.Poll(t, "the server listens", func() error {
		m := listening.FindStringSubmatch(stdout.String())
		if m == nil {
			return fmt.Errorf("no %q line; stderr:\n%s", listening, stderr.String())
		}
		base = m[1]
		return nil
	})
	return base
}

var debugListening = regexp.MustCompile(`Tether debug \(pprof\) on (http://\S+)/debug/pprof/`)

// TestDebugAddr: -debug-addr serves pprof on its own loopback listener and
// never on the public one, and a non-loopback address is refused.
func TestDebugAddr(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "192.0.2.1:6060", "example.com:6060", "nonsense"} {
		_, err := parseOptions([]string{"-debug-addr", addr}, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-debug-addr") {
			t.Errorf("-debug-addr %s: error = %v, want it refused", addr, err)
		}
	}
	if _, err := parseOptions(nil, env(map[string]string{"TETHER_DEBUG_ADDR": "0.0.0.0:6060"}), io.Discard); err == nil {
		t.Error("TETHER_DEBUG_ADDR=0.0.0.0:6060 accepted, want it refused")
	}
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060"} {
		if _, err := parseOptions([]string{"-debug-addr", addr}, env(nil), io.Discard); err != nil {
			t.Errorf("-debug-addr %s: %v", addr, err)
		}
	}

	srv := startRun(t, "-debug-addr", "127.0.0.1:0")
	base := srv.base
	m := debugListening.FindStringSubmatch(srv.stdout.String())
	if m == nil {
		t.Fatalf("no debug listener announced:\n%s", srv.stdout.String())
	}
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if code, body := get(m[1] + "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("debug listener: GET goroutine profile = %d %.200s", code, body)
	}
	if code, body := get(base + "/debug/pprof/"); code == 200 && strings.Contains(body, "profile") {
		t.Errorf("the public listener serves pprof: %d %.200s", code, body)
	}
}

// TestBansSurviveRestart: on one node with a data dir, a ban taken with
// tether kick --ban is kept in the data dir: the restarted server lists it
// (tether bans) and refuses the user's handshake; tether unban lifts it.
func TestBansSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	first := startRun(t, "-data-dir", dir, "-guest", "true")
	res, err := http.Post(first.base+"/auth/guest", "application/json", strings.NewReader(`{"name":"Mallory"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ User string }
	_ = json.NewDecoder(res.Body).Decode(&sess)
	res.Body.Close()
	if res.StatusCode != 200 || len(res.Cookies()) == 0 {
		t.Fatalf("guest login: %d", res.StatusCode)
	}
	cookie := http.Header{"Cookie": {res.Cookies()[0].String()}}
	cli := func(base, name string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runCommand(context.Background(), name, args, env(map[string]string{"TETHER_URL": base}), &out, io.Discard); err != nil {
			t.Fatalf("tether %s: %v", name, err)
		}
		return out.String()
	}
	cli(first.base, "kick", "--user", sess.User, "--reason", "spam", "--ban", "10m")
	first.stop()

	again := startRun(t, "-data-dir", dir, "-guest", "true")
	if out := cli(again.base, "bans"); !strings.Contains(out, sess.User) || !strings.Contains(out, "spam") {
		t.Fatalf("tether bans after the restart:\n%s\nwant %s's ban", out, sess.User)
	}
	ws := "ws" + strings.TrimPrefix(again.base, "http") + "/ws"
	if c, res, err := websocket.DefaultDialer.Dial(ws, cookie); err == nil {
		c.Close()
		t.Fatal("the restarted server lets the banned user in")
	} else if res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("the banned user's handshake after the restart: %v, want 403", err)
	}
	if out := cli(again.base, "unban", "--user", sess.User); !strings.Contains(out, `"lifted": true`) {
		t.Fatalf("tether unban:\n%s\nwant lifted", out)
	}
	c, _, err := websocket.DefaultDialer.Dial(ws, cookie)
	if err != nil {
		t.Fatalf("after tether unban the user's handshake fails: %v", err)
	}
	c.Close()
	if out := cli(again.base, "bans"); strings.Contains(out, sess.User) {
		t.Fatalf("tether bans after the unban:\n%s", out)
	}
}
