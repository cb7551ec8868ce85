//go:build !js

// Package e2e tests the poll's page in headless Chromium on the real wasm
// bundle, which the test builds (about a minute on a slow machine).
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tetherkit/tether/internal/browsertest"
	"github.com/tetherkit/tether/internal/tethertest"

	"github.com/tetherkit/tether/examples/poll/backend"
)

const adminKey = "e2e-admin-key"

// TestE2EPoll: Alice votes; Bob, who opens the page later, sees her vote
// at once and votes; Alice changes her vote and both pages follow. Alice's
// network goes away while Bob changes his vote: when it is back her page
// resumes and shows his change. The admin reset empties both pages.
func TestE2EPoll(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm bundle and runs Chromium")
	}
	web := buildPage(t)
	a, err := backend.New(context.Background(), backend.Config{WebDir: web, AdminKey: adminKey, Options: []string{"Go", "Rust", "Zig"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(a.Handler())
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
		ts.Close()
	}()
	gate := tethertest.NewCutProxy(t, strings.TrimPrefix(ts.URL, "http://")) // Alice's network

	browser := newBrowser(t)
	alice := open(t, browser, "alice")
	alice.signIn(gate.BaseURL(), "Alice")
	alice.vote("Go")
	alice.waitCounts(1, 0, 0)
	alice.waitMine("Go")

	bob := open(t, browser, "bob")
	bob.signIn(ts.URL, "Bob")
	bob.waitCounts(1, 0, 0) // a late joiner sees the counts at once
	bob.waitMine("")
	bob.vote("Rust")
	alice.waitCounts(1, 1, 0)

	alice.vote("Rust") // a changed vote
	alice.waitCounts(0, 2, 0)
	bob.waitCounts(0, 2, 0)

	gate.Shut()
	alice.waitState("reconnecting")
	bob.vote("Zig")
	bob.waitCounts(0, 1, 1)
	gate.Open()
	alice.waitState("open")
	alice.waitCounts(0, 1, 1) // resumed: the tally she missed
	alice.waitMine("Rust")

	req, err := http.NewRequest(http.MethodPost, ts.URL+"/admin/reset", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin reset: %s", resp.Status)
	}
	alice.waitCounts(0, 0, 0)
	bob.waitCounts(0, 0, 0)
	alice.waitMine("")
	bob.waitMine("")
}

// buildPage builds the page's wasm bundle into a temporary web directory
// with the app's stylesheet. (The server serves it uncompressed; make
// build's precompression is the deployment's business.)
func buildPage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "app.wasm"), "../cmd/poll-web")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the page: %v\n%s", err, out)
	}
	css, err := os.ReadFile(filepath.Join("..", "web", "app.css"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.css"), css, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.NewBrowser(t, t.TempDir())
}

// page is one browser context of its own (its own cookies) with its
// console log, which a failed step prints (browsertest.Page.Fatalf).
type page struct {
	*browsertest.Page
	t *testing.T
}

func open(t *testing.T, browser context.Context, name string) *page {
	t.Helper()
	return &page{Page: browsertest.OpenPage(t, browser, name, chromedp.WithNewBrowserContext()), t: t}
}

// waitJS waits up to a minute until the JavaScript expression is true,
// evaluating it from the test every 50 ms: an in-page polling loop runs on
// the page's timers, which the browser throttles in a background tab.
func (p *page) waitJS(what, expr string) {
	p.t.Helper()
	p.WaitJS(what, time.Minute, expr)
}

func (p *page) signIn(url, name string) {
	p.t.Helper()
	// The first load compiles the wasm bundle: give it time on a slow machine.
	p.Do("open the page and sign in", 90*time.Second,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#name:not([disabled])")), // the login cookie was checked
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.Click(chromedp.CSS("#go")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="open"]`)),
	)
}

func (p *page) vote(option string) {
	p.t.Helper()
	p.Do("vote "+option, time.Minute, chromedp.Click(chromedp.CSS(`.option[data-option=`+strconv.Quote(option)+`] .vote`)))
}

// waitCounts waits until the page shows go, rust and zig votes.
func (p *page) waitCounts(goVotes, rust, zig int) {
	p.t.Helper()
	want := fmt.Sprintf("Go=%d Rust=%d Zig=%d", goVotes, rust, zig)
	p.waitJS("the counts "+want, `[...document.querySelectorAll("#options .option")].map(e => e.dataset.option + "=" + e.dataset.votes).join(" ") === `+strconv.Quote(want))
}

// waitMine waits until the page shows option as its own vote ("": none).
func (p *page) waitMine(option string) {
	p.t.Helper()
	expr := `[...document.querySelectorAll(".vote[aria-pressed=true]")].map(e => e.textContent).join() === ` + strconv.Quote(option)
	p.waitJS("my vote "+strconv.Quote(option), expr)
}

func (p *page) waitState(state string) {
	p.t.Helper()
	p.waitJS("the state "+state, `document.querySelector("#status")?.dataset.state === `+strconv.Quote(state))
}
