//go:build !js

// Package e2e drives the real web app in headless Chromium against the real
// server binary: the bundle that build.sh makes and the bin/tether that
// cmd/tether builds, talking over 127.0.0.1.
//
//	make e2e            # or: go test -race -run E2E ./demo/ui/e2e/
//
// Chromium is Debian's (/usr/bin/chromium; override with TETHER_CHROMIUM).
// On failure each page's screenshot and console log are saved under
// test-artifacts/<test>/ at the repository root; steps that check what a
// page looks like also save named screenshots there when they pass.
package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tetherkit/tether/internal/browsertest"
	"github.com/tetherkit/tether/internal/tethertest"
)

// Paths shared by every test, set by TestMain.
var (
	repoRoot  string // the repository
	serverBin string // the tether binary built for this run
)

// testSecret signs tokens in every server this package starts, so a page's
// cookie stays valid across a server restart.
const testSecret = "e2e-secret-0123456789abcdef-0123456789"

func TestMain(m *testing.M) {
	os.Exit(func() int {
		root, err := filepath.Abs("../../..")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		repoRoot = root
		if _, err := browsertest.Chromium(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		// build.sh is incremental: go build is cached and compression is
		// skipped when the bundle did not change.
		build := exec.Command("bash", "build.sh", "wasm")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: build.sh wasm: %v\n%s", err, out)
			return 1
		}
		dir, err := os.MkdirTemp("", "tether-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		serverBin = filepath.Join(dir, "tether")
		gobuild := exec.Command("go", "build", "-o", serverBin, "./cmd/tether")
		gobuild.Dir = repoRoot
		if out, err := gobuild.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/tether: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}())
}

// tetherProc is a running server binary.
type tetherProc struct {
	t    *testing.T
	addr string
	args []string
	data string // the -data-dir: the test's own, kept across restarts
	cmd  *exec.Cmd
	log  *tethertest.Buffer
	done chan struct{}
}

// startTether runs the server binary on a free 127.0.0.1 port, with a data
// dir of the test's own (bans and the like would otherwise land in the
// user's ~/.local/state/tether and outlive the test); args may name
// another -data-dir, which wins.
func startTether(t *testing.T, args ...string) *tetherProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &tetherProc{t: t, addr: addr, args: args, data: t.TempDir(), log: &tethertest.Buffer{}}
	p.start()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			saveArtifact(t, "server.log", []byte(p.log.String()))
		}
	})
	return p
}

// URL is the server's base address.
func (p *tetherProc) URL() string { return "http://" + p.addr }

func (p *tetherProc) start() {
	p.t.Helper()
	args := append([]string{"-addr", p.addr, "-web-dir", filepath.Join(repoRoot, "web"),
		"-secret", testSecret, "-guest", "true", "-log-level", "debug", "-data-dir", p.data}, p.args...)
	p.cmd = exec.Command(serverBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start tether: %v", err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.done)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(p.URL() + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("tether exited at start:\n%s", p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("tether not ready after 15s:\n%s", p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server gracefully (SIGTERM: clients get 1001) and waits.
func (p *tetherProc) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// newBrowser starts a headless Chromium for the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	return newBrowserIn(t, t.TempDir())
}

// newBrowserIn starts a headless Chromium with its profile in dir and the
// extra options.
func newBrowserIn(t *testing.T, dir string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	}, extra...)
	return browsertest.NewBrowser(t, dir, opts...)
}

// page is one isolated browser context (its own cookies and storage) with
// its console log (browsertest.Page), and the fields the tests read.
type page struct {
	*browsertest.Page
	t    *testing.T
	name string
	ctx  context.Context
}

// newPage opens an isolated page; on failure its screenshot and console log
// are saved as artifacts.
func newPage(t *testing.T, browser context.Context, name string) *page {
	t.Helper()
	return openPage(t, browser, name, chromedp.WithNewBrowserContext())
}

// newTab opens another tab of the same browser context as p: the same
// cookies and storage, as when a user opens the app twice.
func (p *page) newTab(name string) *page {
	p.t.Helper()
	return openPage(p.t, p.ctx, name)
}

// openPage opens a page under parent with opts; on failure its screenshot,
// HTML and console log are saved under test-artifacts/<test>/.
func openPage(t *testing.T, parent context.Context, name string, opts ...chromedp.ContextOption) *page {
	t.Helper()
	bp := browsertest.OpenPage(t, parent, name, opts...)
	bp.KeepArtifacts(artifactDir(t))
	return &page{Page: bp, t: t, name: name, ctx: bp.Ctx}
}

// artifactDir is test-artifacts/<test> at the repository root.
func artifactDir(t *testing.T) string { return browsertest.ArtifactDir(repoRoot, t) }

// saveArtifact writes test-artifacts/<test>/<name> at the repository root.
func saveArtifact(t *testing.T, name string, data []byte) {
	browsertest.SaveArtifact(t, artifactDir(t), name, data)
}

// do runs actions on the page within timeout, failing the test with what
// was being attempted.
func (p *page) do(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	p.Do(what, timeout, actions...)
}

// waitJS waits until the JavaScript expression is true, evaluating it from
// the test every 50 ms (browsertest.Page.WaitJS says why not chromedp.Poll).
func (p *page) waitJS(what string, timeout time.Duration, expr string) {
	p.t.Helper()
	p.WaitJS(what, timeout, expr)
}

// text returns the text content of the first element matching sel, or "".
func (p *page) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel)))
	if err != nil {
		p.t.Fatalf("%s: text of %s: %v", p.name, sel, err)
	}
	return s
}

// TestE2EWasmCodeCache: the loader hands the fetched bundle to
// WebAssembly.instantiateStreaming, so Chromium can keep the compiled module
// in its wasm code cache (a response rebuilt from a stream, as go-app's own
// loader makes, has no URL and is never cached). V8 writes that cache at
// once past a megabyte of optimised code, or 2 s after the first optimised
// code if nothing more was optimised meanwhile; when something was, the V8
// in Chromium 148 re-arms its timer with the milliseconds left as seconds,
// so the write comes minutes later (README, "Bundle size"). The demo's page
// optimises far less than a megabyte and keeps optimising through its first
// seconds: with default flags no entry appears within a test. This browser
// optimises a function after little work (--wasm-tiering-budget), so the
// megabyte comes within seconds and the test sees whether the bundle is
// cacheable at all. (With go-app's loader no entry appeared, under flags
// that wrote the cache sooner still: checked when the loader was replaced.)
func TestE2EWasmCodeCache(t *testing.T) {
	srv := startTether(t)
	dir := t.TempDir()
	p := openPage(t, newBrowserIn(t, dir, chromedp.Flag("js-flags", "--wasm-tiering-budget=1000")), "cache")
	p.login(srv.URL(), "Cache")
	cache := filepath.Join(dir, "Default", "Code Cache", "wasm")
	deadline := time.Now().Add(loadTimeout)
	for {
		entries, _ := os.ReadDir(cache) // absent until Chromium makes it
		var files []string
		for _, e := range entries {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), "index") {
				files = append(files, e.Name())
			}
		}
		if len(files) > 0 {
			t.Logf("compiled wasm in the code cache: %v", files)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no compiled wasm in %s after %v: the browser cannot cache the bundle's compiled code", cache, loadTimeout)
		}
		time.Sleep(200 * time.Millisecond) // polling a directory: there is no event
	}
}

// screenshot saves what the page's viewport shows now as
// test-artifacts/<test>/<page>-<name>.png, whether the test passes or not:
// the visual steps are checked by looking at them too.
func (p *page) screenshot(name string) {
	p.t.Helper()
	p.Screenshot(name)
}

// eval evaluates a JavaScript expression on the page and returns its value.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: evaluate %s: %v", p.name, expr, err)
	}
	return v
}
