package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNewParams(t *testing.T) {
	kit, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	notKit := t.TempDir()
	if err := os.WriteFile(filepath.Join(notKit, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, mod, kit string
		wantName       string
		wantErr        string
	}{
		{name: "module and kit", mod: "example.com/board", kit: kit, wantName: "board"},
		{name: "a dotted last element", mod: "github.com/me/live.poll", kit: kit, wantName: "livepoll"},
		{name: "one element", mod: "poll", kit: kit, wantName: "poll"},
		{name: "no module", kit: kit, wantErr: "-module is required"},
		{name: "spaces", mod: "example.com/my board", kit: kit, wantErr: "not a module path"},
		{name: "double slash", mod: "example.com//board", kit: kit, wantErr: "not a module path"},
		{name: "trailing slash", mod: "example.com/board/", kit: kit, wantErr: "not a module path"},
		{name: "dot-dot", mod: "example.com/../board", kit: kit, wantErr: "not a module path"},
		{name: "kit without go.mod", mod: "example.com/board", kit: t.TempDir(), wantErr: "not a checkout of the kit"},
		{name: "another module", mod: "example.com/board", kit: notKit, wantErr: "is not module github.com/tetherkit/tether"},
		{name: "no kit, built from a checkout", mod: "example.com/board", wantErr: "give that checkout with -kit DIR"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newParamsFor(tt.mod, tt.kit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("newParamsFor(%q, %q) = %v, want an error with %q", tt.mod, tt.kit, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("newParamsFor(%q, %q): %v", tt.mod, tt.kit, err)
			}
			if p.Name != tt.wantName || p.Module != tt.mod || p.KitDir != filepath.ToSlash(kit) {
				t.Fatalf("newParamsFor(%q, %q) = %+v, want name %q and the kit's directory", tt.mod, tt.kit, p, tt.wantName)
			}
		})
	}
}

// TestScaffoldVersions: the scaffold requires the Go, go-app and chromedp
// versions the kit itself is built and tested with.
func TestScaffoldVersions(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\ngo " + scaffoldGoVersion + "\n",
		"github.com/maxence-charriere/go-app/v10 " + scaffoldGoApp + "\n",
		"github.com/chromedp/chromedp " + scaffoldChromedp + "\n",
	} {
		if !bytes.Contains(gomod, []byte(want)) {
			t.Errorf("the kit's go.mod has no %q: update the scaffold's versions in new.go", strings.TrimSpace(want))
		}
	}
}

// TestNewRefusesAFullDir: tether new never writes over a directory that
// has files.
func TestNewRefusesAFullDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err := runNew([]string{dir, "-module", "example.com/board", "-kit", filepath.Join("..", "..")}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("tether new into a directory with files: %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "main.go")); string(b) != "package main\n" {
		t.Fatal("tether new changed a file that was there")
	}
}

// TestNewScaffold writes an app with `tether new -kit` (this checkout),
// checks that it builds for both sides and that its templates produced
// gofmt'ed Go, without downloading anything.
func TestNewScaffold(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "board")
	var out, stderr bytes.Buffer
	if err := runNew([]string{dir, "-module", "example.com/board", "-kit", filepath.Join("..", ".."), "-tidy=false"}, &out, &stderr); err != nil {
		t.Fatalf("tether new: %v\n%s", err, stderr.String())
	}
	for _, f := range []string{"go.mod", "Makefile", "README.md", ".gitignore", "msg/msg.go", "backend/backend.go", "cmd/server/main.go", "cmd/web/main.go", "ui/page.go", "e2e/e2e_test.go", "web/app.css"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the app has no %s: %v", f, err)
		}
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^module example\.com/board$`).Match(gomod) || !regexp.MustCompile(`(?m)^replace github\.com/tetherkit/tether => /`).Match(gomod) {
		t.Errorf("go.mod has no module line or no replace to the kit:\n%s", gomod)
	}
	if out, err := exec.Command("gofmt", "-l", dir).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("gofmt -l: %s %v", out, err)
	}
}

// TestNewAppMakeTest is the path of a new user: tether new with -kit
// pointing at this checkout, then the app's own make test (its unit tests
// and its page in headless Chromium), then its server, which must serve the
// page's bundle brotli-compressed and shut down cleanly on SIGTERM. It
// builds a wasm bundle and runs a browser: minutes, so not under -short.
func TestNewAppMakeTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a whole app: minutes")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	kit, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "board")
	// The app's dependencies are the kit's: the module cache has them. No
	// download, so this holds offline. Nor a checksum lookup: the new
	// module has no go.sum yet, and with GOPROXY=off the go command would
	// ask sum.golang.org directly, which a machine that reaches only the
	// module proxy cannot. The cache's copies were checked against the
	// kit's go.sum when they were downloaded.
	environ := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
	step := func(name string, d time.Duration, dir string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir, cmd.Env = dir, environ
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	start := time.Now()
	step("go run ./cmd/tether new", 5*time.Minute, kit, "go", "run", "./cmd/tether", "new", dir, "-module", "example.com/board", "-kit", kit)
	t.Logf("tether new: %v", time.Since(start).Round(time.Second))
	start = time.Now()
	out := step("the app's make test", 15*time.Minute, dir, "make", "test")
	t.Logf("the app's make test: %v\n%s", time.Since(start).Round(time.Second), out)
	if !strings.Contains(out, "ok  \texample.com/board/e2e") {
		t.Fatalf("the app's make test ran no browser test:\n%s", out)
	}
	step("build the app's server", 5*time.Minute, dir, "go", "build", "-o", "bin/server", "./cmd/server")

	// Its server serves the page's bundle precompressed.
	srv := exec.Command(filepath.Join(dir, "bin", "server"), "-addr", "127.0.0.1:0", "-web", filepath.Join(dir, "web"))
	srv.Dir = dir
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- u
			}
		}
		exited <- srv.Wait()
	}()
	ended := false // the process was waited for
	defer func() {
		if !ended {
			_ = srv.Process.Kill()
			<-exited
		}
	}()
	var base string
	select {
	case base = <-addr:
	case err := <-exited:
		ended = true
		t.Fatalf("the app's server ended before listening: %v\n%s", err, logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("the app's server did not say where it listens within a minute\n%s", logs.String())
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, base+"/web/app.wasm", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "br, gzip")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	br, err := os.ReadFile(filepath.Join(dir, "web", "app.wasm.br"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "br" || resp.Header.Get("Content-Type") != "application/wasm" || !bytes.Equal(body, br) {
		t.Fatalf("GET /web/app.wasm (Accept-Encoding: br): %s, Content-Encoding %q, Content-Type %q, %d bytes; want 200, br, application/wasm and web/app.wasm.br (%d bytes)",
			resp.Status, resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Type"), len(body), len(br))
	}
	t.Logf("the app's bundle goes out brotli: %d bytes", len(body))
	if resp, err := hc.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// SIGTERM: a graceful shutdown, exit status 0.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		ended = true
		if err != nil {
			t.Fatalf("the app's server after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the app's server did not end within 30 s of SIGTERM\n%s", logs.String())
	}
}
