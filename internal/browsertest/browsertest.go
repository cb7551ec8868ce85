//go:build !js

// Package browsertest drives a Tether app's real page in headless Chromium
// (chromedp) for end-to-end tests: it finds and starts the browser, opens
// pages that record their console, runs steps with deadlines, waits for a
// condition on the page, and keeps screenshots and logs as artifacts.
//
// The browser runs with chromedp's defaults plus --headless --no-sandbox
// --disable-gpu and a profile of the test's own; the back/forward cache is
// left on, as a user's browser has it, so tests see what users see.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// EnvChromium names the environment variable that overrides the browser
// Chromium finds.
const EnvChromium = "TETHER_CHROMIUM"

// pollInterval is how often WaitJS evaluates its expression.
const pollInterval = 50 * time.Millisecond

// Chromium returns the browser to drive: $TETHER_CHROMIUM when set, else
// Debian's /usr/bin/chromium, else the first of chromium, chromium-browser
// and google-chrome on PATH. The error says how to install one.
func Chromium() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("browsertest: %s=%s: %w", EnvChromium, p, err)
		}
		return path, nil
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("browsertest: no Chromium: install it (apt-get install -y chromium) or set " + EnvChromium)
}

// NewBrowser starts a headless Chromium (see Chromium) with its profile in
// profileDir (t.TempDir() for a fresh one) and opts after the package's
// own, and returns its chromedp context. The browser is closed when the
// test ends. A browser that dies while it starts (Chromium 148 crashed at
// launch once in about 150 starts on a busy 2-core machine, before any
// page) is started once more; the test fails if that one does not start
// either.
func NewBrowser(t testing.TB, profileDir string, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := Chromium()
	if err != nil {
		t.Fatal(err)
	}
	all := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profileDir),
	)
	all = append(all, opts...)
	const starts = 2
	for attempt := 1; ; attempt++ {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), all...)
		browser, cancelBrowser := chromedp.NewContext(alloc)
		err := chromedp.Do(browser)
		if err == nil {
			t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
			return browser
		}
		cancelBrowser()
		cancelAlloc()
		if attempt == starts {
			t.Fatalf("start chromium (%d attempts): %v", starts, err)
		}
		t.Logf("start chromium, attempt %d of %d: %v", attempt, starts, err)
	}
}

// Page is one page (a tab) of a browser started by NewBrowser, with the
// console messages and uncaught exceptions it logged. Its steps fail the
// test with the page's name and what was being attempted.
type Page struct {
	// Name names the page in failures and in its artifacts' file names.
	Name string
	// Ctx is the page's chromedp context, for actions of the test's own.
	Ctx context.Context

	t         testing.TB
	artifacts string // KeepArtifacts's dir; "": none

	mu   sync.Mutex
	logs []string
}

// OpenPage opens a page under parent: a browser from NewBrowser, with
// chromedp.WithNewBrowserContext() for a browser context of its own (its
// own cookies and storage), or another page's Ctx for a tab beside it in
// the same browser context. The page is closed when the test ends.
func OpenPage(t testing.TB, parent context.Context, name string, opts ...chromedp.ContextOption) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	p := &Page{Name: name, Ctx: ctx, t: t}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open page %s: %v", name, err)
	}
	console := chromedp.Events(ctx, cdpruntime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, cdpruntime.ExceptionThrown)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			var args []string
			for _, a := range ev.Args {
				if a.Value != nil {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			p.addLog(fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	})
	wg.Go(func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			p.addLog("exception: " + (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return p
}

func (p *Page) addLog(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logs = append(p.logs, time.Now().Format("15:04:05.000 ")+line)
}

// Log returns what the page logged so far, a line a message, each with its
// time.
func (p *Page) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

// KeepArtifacts saves the page's full screenshot, HTML and console log in
// dir (as <name>.png, <name>.html, <name>.console.log) if the test has
// failed when it ends, and makes dir the home of Screenshot's pictures.
// Call it right after OpenPage: the page is then still open when they are
// saved. Without it, a failed step's message carries the page's HTML and
// console log instead.
func (p *Page) KeepArtifacts(dir string) {
	p.artifacts = dir
	p.t.Cleanup(func() {
		if p.t.Failed() {
			p.saveArtifacts()
		}
	})
}

func (p *Page) saveArtifacts() {
	ctx, cancel := context.WithTimeout(p.Ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		SaveArtifact(p.t, p.artifacts, p.Name+".png", png)
	} else {
		p.addLog("screenshot failed: " + err.Error())
	}
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
		SaveArtifact(p.t, p.artifacts, p.Name+".html", []byte(html))
	}
	SaveArtifact(p.t, p.artifacts, p.Name+".console.log", []byte(p.Log()+"\n"))
}

// Screenshot saves what the page's viewport shows now as
// <page>-<name>.png in the KeepArtifacts dir, whether the test passes or
// not: steps that change what a page looks like are checked by looking at
// them too. A screenshot that fails is logged, not a failure.
func (p *Page) Screenshot(name string) {
	p.t.Helper()
	if p.artifacts == "" {
		p.t.Logf("%s: screenshot %s: no artifacts dir (KeepArtifacts)", p.Name, name)
		return
	}
	ctx, cancel := context.WithTimeout(p.Ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("%s: screenshot %s: %v", p.Name, name, err)
		return
	}
	SaveArtifact(p.t, p.artifacts, p.Name+"-"+name+".png", png)
}

// Fatalf ends the test with the page's name and the message; for a page
// without KeepArtifacts it adds the page's HTML and console log.
func (p *Page) Fatalf(format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if p.artifacts != "" {
		p.t.Fatalf("%s: %s", p.Name, msg)
	}
	ctx, cancel := context.WithTimeout(p.Ctx, 5*time.Second)
	defer cancel()
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.outerHTML`))
	if err != nil {
		html = err.Error()
	}
	p.t.Fatalf("%s: %s\npage: %s\nconsole:\n%s", p.Name, msg, html, p.Log())
}

// Do runs actions on the page within timeout, failing the test with what
// was being attempted.
func (p *Page) Do(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.Fatalf("%s: %v", what, err)
	}
}

// WaitJS waits up to timeout until the JavaScript expression is true. It
// evaluates the expression from the test, every 50 ms, rather than with
// chromedp.Poll: Poll runs its loop on the page's own timers, which
// Chromium throttles in a tab that is not in front and which never fire
// again in a page restored from the back/forward cache, so on a loaded
// machine a true condition could go unseen until the deadline.
func (p *Page) WaitJS(what string, timeout time.Duration, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if err != nil && ctx.Err() == nil {
			last = err // a page still loading answers nothing yet: try again
		}
		select {
		case <-ctx.Done():
			if last != nil {
				p.Fatalf("waiting for %s: %v (last evaluation: %v)", what, ctx.Err(), last)
			}
			p.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// ArtifactDir is the directory of the test's artifacts under root:
// root/test-artifacts/<test name, '/' as '_'>.
func ArtifactDir(root string, t testing.TB) string {
	return filepath.Join(root, "test-artifacts", strings.ReplaceAll(t.Name(), "/", "_"))
}

// SaveArtifact writes data as dir/name, making dir, and logs the path; a
// failure to write is logged, not a test failure.
func SaveArtifact(t testing.TB, dir, name string, data []byte) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("artifact %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Logf("artifact %s: %v", name, err)
		return
	}
	t.Logf("saved %s", path)
}
