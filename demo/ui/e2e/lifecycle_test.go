//go:build !js

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server/api"
)

// leaveWithin is how soon a page that goes away must be gone from
// presence, everywhere (issue 14).
const leaveWithin = 2 * time.Second

// otherSite serves a page on another origin: leaving the app for it puts
// the app's page in Chromium's back/forward cache.
func otherSite(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>elsewhere</title><p id="elsewhere">another site</p>`)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// watchLifecycle records, in the page's own memory (which the
// back/forward cache keeps), every text the status pill shows and whether
// the page came back from the cache.
func (p *page) watchLifecycle() {
	p.t.Helper()
	eval[bool](p, `(() => {
		window.__statuses = [];
		window.__restored = false;
		const pill = () => (document.querySelector("#status .status-text")||{textContent:""}).textContent;
		new MutationObserver(() => {
			const s = pill();
			if (window.__statuses[window.__statuses.length-1] !== s) window.__statuses.push(s);
		}).observe(document.body, {subtree: true, childList: true, characterData: true});
		addEventListener("pageshow", e => { if (e.persisted) window.__restored = true; });
		return true;
	})()`)
}

// presence returns the members of room as the HTTP API reports them.
func presence(t *testing.T, base, room string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	members, err := (&api.Client{BaseURL: base}).Presence(ctx, room)
	if err != nil {
		t.Fatalf("presence of %s: %v", room, err)
	}
	var names []string
	for _, m := range members {
		names = append(names, m.Name)
	}
	return names
}

// memberJS is true while nick is in the page's members list.
func memberJS(nick string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#members .member")].some(e => e.textContent.includes(%q))`, nick)
}

// TestE2ELeaveSiteAndBack: a user who leaves the app for another site is
// gone from the other user's members list and from /api/presence within
// 2 s, although Chromium keeps the page, frozen, in its back/forward cache;
// Back brings the page back connected (through "reconnecting", never a
// stale "connected"), the member back, and the line said meanwhile.
func TestE2ELeaveSiteAndBack(t *testing.T) {
	srv := startTether(t)
	elsewhere := otherSite(t)
	browser := newBrowser(t)
	alice, bob := newPage(t, browser, "alice"), newPage(t, browser, "bob")
	alice.login(srv.URL(), "Alice")
	bob.login(srv.URL(), "Bob")
	alice.waitMember("Bob")
	bob.waitMember("Alice")
	bob.watchLifecycle()

	start := time.Now()
	bob.do("leave for another site", stepTimeout, chromedp.Navigate(elsewhere+"/"), chromedp.WaitVisible(chromedp.CSS("#elsewhere")))
	alice.waitJS("Bob gone from Alice's members", leaveWithin, "!"+memberJS("Bob"))
	pageGone := time.Since(start)
	for !slices.Equal(presence(t, srv.URL(), "lobby"), []string{"Alice"}) {
		if time.Since(start) > leaveWithin {
			t.Fatalf("/api/presence still lists %v %v after Bob left the site", presence(t, srv.URL(), "lobby"), leaveWithin)
		}
		time.Sleep(20 * time.Millisecond) // polling an HTTP API: there is no event to wait on
	}
	t.Logf("time to leave: Bob gone from Alice's page after %v, from /api/presence after %v",
		pageGone.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	waitConns(t, srv.URL(), "Bob", 0)

	alice.say("said while Bob was away")
	alice.waitChat("said while Bob was away", stepTimeout)

	back := time.Now()
	// Through history.back(): a page restored from the cache fires no load
	// event, which chromedp.NavigateBack waits for.
	bob.do("go back", stepTimeout, chromedp.Evaluate[chromedp.Void](`history.back()`))
	bob.waitJS("connected", stepTimeout, `(document.querySelector("#status .status-text")||{textContent:""}).textContent === "connected"`)
	bob.waitJS("the line said while away", stepTimeout, `[...document.querySelectorAll(".chat-msg:not(.pending)")].some(e => e.textContent.includes("said while Bob was away"))`)
	alice.waitMember("Bob")
	t.Logf("Back: connected with the line said while away after %v", time.Since(back).Round(time.Millisecond))
	waitConns(t, srv.URL(), "Bob", 1)
	if n := eval[int](bob, `[...document.querySelectorAll(".chat-msg")].filter(e => e.textContent.includes("said while Bob was away")).length`); n != 1 {
		t.Errorf("Bob's page shows the line said while away %d times, want once", n)
	}
	if eval[bool](bob, `window.__restored === true`) {
		statuses := eval[[]string](bob, `window.__statuses`)
		t.Logf("restored from the back/forward cache; the status pill said %q", statuses)
		i := slices.IndexFunc(statuses, func(s string) bool { return len(s) >= 12 && s[:12] == "reconnecting" })
		if i < 0 {
			t.Errorf("the restored page never said reconnecting (it said %q): a stale connected", statuses)
		}
	} else {
		t.Logf("Chromium did not restore the page from its back/forward cache: it loaded it again")
	}
}

// TestE2ENavigationsOneConnection: 20 full page loads inside the app leave
// the user with one connection (the live page's), not one per page kept
// in the back/forward cache.
func TestE2ENavigationsOneConnection(t *testing.T) {
	srv := startTether(t)
	browser := newBrowser(t)
	alice := newPage(t, browser, "alice")
	alice.login(srv.URL(), "Alice")
	paths := []string{"/notifications", "/ticker", "/", "/danmaku"}
	const loads = 20
	for i := range loads {
		alice.do(fmt.Sprint("full navigation ", i+1), loadTimeout,
			chromedp.Navigate(srv.URL()+paths[i%len(paths)]), chromedp.WaitVisible(chromedp.CSS("#status")))
		alice.waitStatus("connected", stepTimeout)
	}
	start := time.Now()
	n := 0
	for {
		n = conns(t, srv.URL(), "Alice")
		if n == 1 || time.Since(start) > leaveWithin {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling an HTTP API: there is no event to wait on
	}
	t.Logf("connections after %d full navigations: %d (after %v)", loads, n, time.Since(start).Round(time.Millisecond))
	if n != 1 {
		t.Fatalf("after %d full navigations the user holds %d connections %v later, want 1", loads, n, leaveWithin)
	}
}

// conns counts the server's connections named nick.
func conns(t *testing.T, base, nick string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := (&api.Client{BaseURL: base}).Connections(ctx, 0, 1000)
	if err != nil {
		t.Fatalf("connections: %v", err)
	}
	n := 0
	for _, c := range res.Connections {
		if c.Name == nick {
			n++
		}
	}
	return n
}

// countLine is how many chat lines on the page contain text.
func (p *page) countLine(text string) int {
	p.t.Helper()
	return eval[int](p, fmt.Sprintf(`[...document.querySelectorAll(".chat-msg")].filter(e => e.textContent.includes(%q)).length`, text))
}

// TestE2EOutboxSurvivesThePage: a line typed while the connection is cut
// is kept by the browser: after a reload with the connection back, and
// after the tab is closed and the app opened again in a new tab, it is sent
// once and shown once on both users' pages.
func TestE2EOutboxSurvivesThePage(t *testing.T) {
	for _, how := range []string{"reload", "reopen"} {
		t.Run(how, func(t *testing.T) {
			srv := startTether(t)
			proxy := tethertest.NewCutProxy(t, srv.addr)
			browser := newBrowser(t)
			// The user's browser context: a blank tab that stays, so that
			// the app's tab can be closed and another opened in it.
			home := newPage(t, browser, "alice-home")
			alice := home.newTab("alice")
			bob := newPage(t, browser, "bob")
			alice.login(proxy.BaseURL(), "Alice")
			bob.login(srv.URL(), "Bob")
			alice.waitMember("Bob")

			line := "typed offline, then " + how
			proxy.Shut()
			alice.waitStatus("reconnecting", stepTimeout)
			alice.say(line)
			alice.waitJS("the pending line", stepTimeout, fmt.Sprintf(
				`[...document.querySelectorAll(".chat-msg.pending")].some(e => e.textContent.includes(%q))`, line))
			proxy.Open()

			switch how {
			case "reload":
				alice.do("reload", loadTimeout, chromedp.Reload())
			case "reopen":
				alice.close()
				alice = home.newTab("alice-again")
				alice.do("open the app again", loadTimeout, chromedp.Navigate(proxy.BaseURL()+"/"))
			}
			alice.waitStatus("connected", loadTimeout)
			bob.waitChat(line, stepTimeout)
			alice.waitChat(line, stepTimeout)

			// A line after it: once both pages show it, a second copy of
			// the first would have arrived too.
			bob.say("and after it")
			alice.waitChat("and after it", stepTimeout)
			bob.waitChat("and after it", stepTimeout)
			if n := alice.countLine(line); n != 1 {
				t.Errorf("Alice's page shows the line %d times, want once", n)
			}
			if n := bob.countLine(line); n != 1 {
				t.Errorf("Bob's page shows the line %d times, want once", n)
			}
		})
	}
}

// close closes the page's tab, as the user does.
func (p *page) close() {
	p.t.Helper()
	if err := chromedp.Cancel(p.ctx); err != nil {
		p.t.Fatalf("%s: close the tab: %v", p.name, err)
	}
}
