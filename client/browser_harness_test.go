//go:build !js

package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
)

// TestBrowserTransportInNode runs the js/wasm tests of this package
// (transport_js_test.go: BrowserTransport and the client on it) under
// Node.js, whose WebSocket is the WHATWG one browsers have, against a real
// server started here. It needs node on PATH and builds the package for
// js/wasm, so -short skips it.
func TestBrowserTransportInNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds for js/wasm and runs Node.js")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	// Node 22 has a global WebSocket; Node 20 needs the flag (and accepts it
	// in NODE_OPTIONS).
	const nodeOptions = "--experimental-websocket"
	probe := exec.Command(node, nodeOptions, "-e", "if (typeof WebSocket !== 'function') process.exit(3)")
	if err := probe.Run(); err != nil {
		t.Skipf("this Node.js has no WebSocket: %v", err)
	}

	srv, err := server.New(server.Config{
		Registry:     testmsg.NewRegistry(),
		Authenticate: server.InsecureQueryIdentity,
		OnConnect: func(_ context.Context, e server.ConnectEvent) error {
			c := e.Conn
			if c.User() == "rejected" {
				return errors.New("no entry")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tethertest.InstallChat(srv)
	ts := httptest.NewServer(srv)
	defer func() {
		cancel()
		ts.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}()

	// go test puts its own Go first in PATH; its GOROOT has the wasm runner.
	env, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(env))
	cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), "test", "-count=1", "-v",
		"-run", "^TestBrowser", "-exec", filepath.Join(goroot, "lib", "wasm", "go_js_wasm_exec"), ".")
	cmd.Env = append(withoutGoflags(os.Environ()),
		"GOOS=js", "GOARCH=wasm",
		"TETHER_WS_URL=ws://"+strings.TrimPrefix(ts.URL, "http://")+"/ws",
		"NODE_OPTIONS="+nodeOptions,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("js/wasm tests failed: %v\n%s", err, out)
	}
	for _, name := range []string{"TestBrowserTransportRoundTrip", "TestBrowserTransportServerClose", "TestBrowserTransportDialErrors", "TestBrowserClient", "TestBrowserWatch"} {
		if !strings.Contains(string(out), "--- PASS: "+name) {
			t.Errorf("%s did not pass under Node.js:\n%s", name, out)
		}
	}
}

// withoutGoflags drops GOFLAGS (e.g. -race, which js/wasm lacks).
func withoutGoflags(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOFLAGS=") {
			out = append(out, kv)
		}
	}
	return out
}
