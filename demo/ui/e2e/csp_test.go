//go:build !js

package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	cdplog "github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server/api"
	"github.com/tetherkit/tether/server/webapp"
)

// recordViolations is evaluated in every new document before its own
// scripts (DevTools runs it whatever the page's policy): it keeps each
// Content-Security-Policy violation the page reports.
const recordViolations = `window.__csp = [];
document.addEventListener("securitypolicyviolation", e =>
	window.__csp.push(e.effectiveDirective + " refused " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber));`

// TestE2ECSP (Content-Security-Policy) loads every page of the demo under the
// server's policy (webapp.DefaultContentSecurityPolicy), signed in and
// used (chat lines with avatars, a pushed notification, ticker quotes, a
// danmaku comment in a preset colour, the Admin page's tables), and once
// more by a full reload of each URL (the prerendered page), and fails on
// any violation the pages report, to their securitypolicyviolation event or
// to the DevTools console: the app runs with nothing inline.
func TestE2ECSP(t *testing.T) {
	srv := startTether(t)
	paths := []string{"/", "/notifications", "/ticker", "/danmaku", "/admin"}
	for _, path := range paths {
		resp, err := http.Get(srv.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Security-Policy"); got != webapp.DefaultContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q, want the default policy", path, got)
		}
		if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q, want DENY", path, got)
		}
	}

	p := newPage(t, newBrowser(t), "csp")
	if _, err := chromedp.Call(p.ctx, cdppage.AddScriptToEvaluateOnNewDocument,
		cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: recordViolations}); err != nil {
		t.Fatalf("record CSP violations: %v", err)
	}
	// The console: Chromium logs each refusal ("Refused to ... because it
	// violates the following Content Security Policy directive"). Listen
	// sees an event before the command after it returns, so check reads
	// every message logged before its own evaluation.
	var mu sync.Mutex
	var console []string
	if err := chromedp.Listen(p.ctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry != nil && strings.Contains(e.Entry.Text, "Content Security Policy") {
			mu.Lock()
			console = append(console, e.Entry.Text+" ("+e.Entry.URL+")")
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("listen to the console: %v", err)
	}
	check := func(where string) {
		t.Helper()
		if v := eval[[]string](p, `window.__csp || ["the recorder did not run"]`); len(v) > 0 {
			t.Errorf("%s: %d CSP violation(s):\n%s", where, len(v), strings.Join(v, "\n"))
		}
		mu.Lock()
		defer mu.Unlock()
		if len(console) > 0 {
			t.Errorf("%s: the console has %d CSP message(s):\n%s", where, len(console), strings.Join(console, "\n"))
			console = nil
		}
	}

	p.do("open the sign-in page", loadTimeout,
		chromedp.Navigate(srv.URL()+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
	)
	check("sign-in")
	p.login(srv.URL(), "Carol")
	p.say("hello under a strict policy")
	p.waitChat("hello under a strict policy", stepTimeout)
	p.waitJS("an avatar", stepTimeout, `!!document.querySelector(".avatar[class*='hue-']")`)
	check("chat")

	apiPush(t, srv.URL(), api.Target{Kind: "all"}, msg.Notification{Title: "Policy check", Level: "success"})
	p.goTo("/notifications")
	p.waitJS("the notification in the log", stepTimeout, `(document.querySelector("#notification-log")||{textContent:""}).textContent.includes("Policy check")`)
	check("notifications")

	p.goTo("/ticker")
	p.waitJS("ticker quotes", loadTimeout, `!!document.querySelector("#ticker .sym-badge[class*='hue-']")`)
	check("ticker")

	p.goTo("/danmaku")
	p.do("wait for the stage", stepTimeout, chromedp.WaitVisible(chromedp.CSS("#danmaku-stage")))
	waitPresence(t, srv.URL(), "stage", 1)
	p.do("fire a pink comment", stepTimeout,
		chromedp.Click(chromedp.CSS(`.swatch[data-color="#ef476f"]`)),
		chromedp.SendKeys(chromedp.CSS("#danmaku-input"), "policy comment"),
		chromedp.Click(chromedp.CSS("#danmaku-send")),
	)
	p.waitJS("the comment flying in its colour", stepTimeout,
		`[...document.querySelectorAll("#danmaku-stage .danmaku-item")].some(e => e.textContent === "policy comment" && getComputedStyle(e).color === "rgb(239, 71, 111)")`)
	if bg := eval[string](p, `getComputedStyle(document.querySelector('.swatch[data-color="#ef476f"]')).backgroundColor`); bg != "rgb(239, 71, 111)" {
		t.Errorf("the pink swatch's background is %q: the stylesheet does not colour the presets", bg)
	}
	check("danmaku")

	p.goTo("/admin")
	p.waitJS("the admin tables", stepTimeout, `!!document.querySelector("#admin-stats") && !!document.querySelector("#admin-online")`)
	check("admin")

	for _, path := range paths {
		p.do("reload "+path, loadTimeout, chromedp.Navigate(srv.URL()+path))
		p.waitStatus("connected", loadTimeout)
		check("reload of " + path)
	}

	// The control: an inline style is refused, and both recorders see it,
	// so the silence above is the policy holding, not deaf recorders.
	eval[bool](p, `document.body.insertAdjacentHTML("beforeend", '<span id="csp-canary" style="color: red">x</span>'), true`)
	p.waitJS("the refused inline style recorded", stepTimeout, `window.__csp.some(v => v.startsWith("style-src"))`)
	// Chromium logs the refusal before it queues the event, and Listen has
	// seen every message that came before waitJS's last answer.
	mu.Lock()
	defer mu.Unlock()
	if len(console) == 0 {
		t.Error("an inline style was refused but the console recorder saw no CSP message")
	}
}
