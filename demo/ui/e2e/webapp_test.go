//go:build !js

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server/api"
)

// rect is an element's bounding box as the page lays it out.
type rect struct{ Left, Top, Right, Bottom float64 }

func (r rect) overlaps(o rect) bool {
	return r.Left < o.Right && o.Left < r.Right && r.Top < o.Bottom && o.Top < r.Bottom
}

// rects returns the boxes of the elements matching sel.
func (p *page) rects(sel string) []rect {
	p.t.Helper()
	return eval[[]rect](p, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => { const r = e.getBoundingClientRect(); return {Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom}; })`, sel))
}

// noEmoji is a JavaScript check that the text of sel has no emoji, which
// need a colour-emoji font that Debian's headless Chromium does not have.
func noEmoji(sel string) string {
	return fmt.Sprintf(`!/\p{Extended_Pictographic}/u.test([...document.querySelectorAll(%q)].map(e => e.textContent).join(""))`, sel)
}

// TestE2ELayout: what a user sees of the frame and the chat page. No status
// pill before signing in; the navigation and the dice are drawn without an
// emoji font; a long name is shown whole in the member list, and two users
// called the same are told apart by their ids; toasts never cover the chat's
// controls; the danmaku hint hides while comments fly.
func TestE2ELayout(t *testing.T) {
	srv := startTether(t)
	browser := newBrowser(t)
	long, sam1, sam2 := newPage(t, browser, "long"), newPage(t, browser, "sam1"), newPage(t, browser, "sam2")

	sam1.do("open the app", loadTimeout,
		chromedp.Navigate(srv.URL()+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
	)
	sam1.waitJS("the live app", stepTimeout, `document.body.dataset.ready === "true"`)
	sam1.screenshot("signin")
	if eval[bool](sam1, `!!document.querySelector("#status")`) {
		t.Errorf("the sign-in screen shows a status pill %q before anyone signed in", sam1.text("#status"))
	}

	const longName = "Rosalind Elsie Franklin-Wilkins"
	long.login(srv.URL(), longName)
	sam1.do("log in as Sam", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#login-name"), "Sam"),
		chromedp.Click(chromedp.CSS("#login-btn")),
	)
	sam1.waitStatus("connected", loadTimeout)
	sam2.login(srv.URL(), "Sam")
	sam1.waitMember(longName)
	sam1.waitJS("both Sams in the member list", stepTimeout,
		`[...document.querySelectorAll("#members .member-name")].filter(e => e.textContent === "Sam").length === 2`)

	// Icons are SVG, never emoji.
	if n := eval[int](sam1, `document.querySelectorAll("nav .nav-link .nav-icon svg").length`); n != 5 {
		t.Errorf("the navigation has %d SVG icons, want one per page (5)", n)
	}
	if !eval[bool](sam1, `!!document.querySelector("#chat-dice svg")`) {
		t.Error("the dice button has no SVG icon")
	}
	for _, sel := range []string{"nav", "#chat-dice", "#notify-all"} {
		if !eval[bool](sam1, noEmoji(sel)) {
			t.Errorf("%s shows an emoji (an empty box without an emoji font): %q", sel, sam1.text(sel))
		}
	}

	// The long name is whole: its element is not cut (no overflow), and no
	// id is squeezed beside it.
	row := fmt.Sprintf(`[...document.querySelectorAll("#members .member")].find(e => e.querySelector(".member-name").textContent === %q)`, longName)
	if !eval[bool](sam1, row+` !== undefined`) {
		t.Fatalf("no member row shows the whole name %q; the list says %q", longName, sam1.text("#members"))
	}
	if cut := eval[bool](sam1, `(e => e.scrollWidth > e.clientWidth + 1 || getComputedStyle(e).textOverflow === "ellipsis" && e.scrollWidth > e.clientWidth)(`+row+`.querySelector(".member-name"))`); cut {
		t.Errorf("the member list cuts %q", longName)
	}
	if eval[bool](sam1, row+`.querySelector(".member-id") !== null`) {
		t.Errorf("the member list shows an id beside %q although no one else is called that", longName)
	}
	// The two Sams: each row shows its own id.
	ids := eval[[]string](sam1, `[...document.querySelectorAll("#members .member")].filter(e => e.querySelector(".member-name").textContent === "Sam").map(e => (e.querySelector(".member-id")||{textContent:""}).textContent)`)
	if len(ids) != 2 || ids[0] == "" || ids[1] == "" || ids[0] == ids[1] {
		t.Errorf("the two members called Sam show ids %q; want two different ids (one is @%s)", ids, userOf(t, srv.URL(), "Sam"))
	}
	sam1.screenshot("members")

	// Toasts: five at once must not cover the composer or the dice.
	sam1ID := eval[string](sam1, `document.querySelector("#me-name").dataset.user`)
	for i := range 5 {
		apiPush(t, srv.URL(), api.Target{Kind: api.TargetUser, ID: sam1ID},
			msg.Notification{Title: fmt.Sprintf("Build %d passed", i+1), Body: "main is green, all checks passed", Level: "success"})
	}
	sam1.waitJS("five toasts", stepTimeout, `document.querySelectorAll(".toast").length === 5`)
	sam1.waitJS("the toasts in place", stepTimeout, `[...document.querySelectorAll(".toast")].every(e => e.getAnimations().length === 0)`)
	sam1.screenshot("chat-toasts")
	toasts := sam1.rects(".toast")
	for _, sel := range []string{"#chat-dice", "#chat-send", "#chat-input"} {
		ctl := sam1.rects(sel)
		if len(ctl) != 1 {
			t.Fatalf("%d elements match %s", len(ctl), sel)
		}
		for i, r := range toasts {
			if r.overlaps(ctl[0]) {
				t.Errorf("toast %d (%v) covers %s (%v)", i+1, r, sel, ctl[0])
			}
		}
	}

	// On a phone-sized screen too.
	sam1.do("a phone-sized viewport", stepTimeout, chromedp.EmulateViewport(390, 844))
	for i := range 3 {
		apiPush(t, srv.URL(), api.Target{Kind: api.TargetUser, ID: sam1ID},
			msg.Notification{Title: fmt.Sprintf("Deploy %d done", i+1), Level: "info"})
	}
	sam1.waitJS("the new toasts", stepTimeout, `[...document.querySelectorAll(".toast")].filter(e => e.textContent.includes("Deploy")).length === 3 && [...document.querySelectorAll(".toast")].every(e => e.getAnimations().length === 0)`)
	sam1.screenshot("phone-toasts")
	toasts = sam1.rects(".toast")
	for _, sel := range []string{"#chat-dice", "#chat-send", "#chat-input"} {
		for i, r := range toasts {
			if ctl := sam1.rects(sel); len(ctl) == 1 && r.overlaps(ctl[0]) {
				t.Errorf("on a phone toast %d (%v) covers %s (%v)", i+1, r, sel, ctl[0])
			}
		}
	}
	sam1.do("back to the desktop viewport", stepTimeout, chromedp.ResetViewport())

	// The dice line is drawn with the SVG die.
	sam1.do("roll the dice", stepTimeout, chromedp.Click(chromedp.CSS("#chat-dice")))
	sam1.waitJS("the roll with its die icon", stepTimeout, `[...document.querySelectorAll(".chat-msg")].some(e => e.textContent.includes("rolled") && e.querySelector(".chat-text svg"))`)
	if !eval[bool](sam1, noEmoji("#chat-messages")) {
		t.Errorf("the chat shows an emoji: %q", sam1.text("#chat-messages"))
	}

	// Danmaku: the hint is visible on an empty stage and hidden while a
	// comment flies.
	sam1.goTo("/danmaku")
	sam1.do("wait for the stage", stepTimeout, chromedp.WaitVisible(chromedp.CSS("#danmaku-stage")))
	if !eval[bool](sam1, `getComputedStyle(document.querySelector(".stage-hint")).visibility === "visible"`) {
		t.Error("the empty stage shows no hint")
	}
	// The toasts, if still there, keep off the composer here too.
	toasts = sam1.rects(".toast")
	toasts = slices.DeleteFunc(toasts, func(r rect) bool { return r.Right == r.Left }) // hidden ones
	for _, sel := range []string{"#danmaku-send", "#danmaku-input"} {
		ctl := sam1.rects(sel)
		for i, r := range toasts {
			if len(ctl) == 1 && r.overlaps(ctl[0]) {
				t.Errorf("on the danmaku page toast %d (%v) covers %s (%v)", i+1, r, sel, ctl[0])
			}
		}
	}
	if len(toasts) > 0 {
		sam1.screenshot("danmaku-toasts")
	}
	waitPresence(t, srv.URL(), "stage", 1)
	sam1.do("send a comment", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#danmaku-input"), "hint goes away"),
		chromedp.Click(chromedp.CSS("#danmaku-send")),
	)
	sam1.waitJS("the comment in flight", stepTimeout, `document.querySelector("#danmaku-stage .danmaku-item") !== null`)
	sam1.waitJS("the hint hidden while it flies", stepTimeout,
		`document.querySelector("#danmaku-stage .danmaku-item") === null || getComputedStyle(document.querySelector(".stage-hint")).visibility === "hidden"`)
	if eval[bool](sam1, `document.querySelector("#danmaku-stage .danmaku-item") !== null`) {
		sam1.screenshot("danmaku-flying")
	}
	if !strings.Contains(sam1.text("#danmaku-stage"), "hint goes away") {
		t.Logf("the comment had landed before the check (stage: %q)", sam1.text("#danmaku-stage"))
	}
}

// openAdmin opens the admin page in p and waits for its kick form.
func (p *page) openAdmin(base string) {
	p.t.Helper()
	p.do("open the admin page", loadTimeout,
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(chromedp.CSS("#admin-kick-user")),
	)
}

// TestE2EKickBan: a kick with a ban from the Admin page. The kicked user's
// Danmaku and Chat pages both show the kicked state with their controls
// disabled (Danmaku used to say "Joining…" with Fire enabled); "Reconnect"
// during the ban shows the server's reason instead of coming back.
func TestE2EKickBan(t *testing.T) {
	srv := startTether(t)
	browser := newBrowser(t)
	admin, mallory := newPage(t, browser, "admin"), newPage(t, browser, "mallory")
	mallory.login(srv.URL(), "Mallory")
	mallory.goTo("/danmaku")
	mallory.waitJS("on stage", stepTimeout, `document.querySelector("#danmaku-status").textContent.includes("on stage")`)
	malloryID := userOf(t, srv.URL(), "Mallory")

	admin.openAdmin(srv.URL())
	admin.waitJS("Mallory in the online list", stepTimeout, `document.body.textContent.includes("Mallory")`)
	admin.do("kick Mallory with a ban", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#admin-kick-user"), malloryID),
		chromedp.SendKeys(chromedp.CSS("#admin-kick-reason"), "spamming the stage"),
		chromedp.SendKeys(chromedp.CSS("#admin-kick-ban"), "10m"),
		chromedp.Click(chromedp.CSS("#admin-kick-btn")),
	)
	admin.waitJS("the kick's result", stepTimeout, `(document.querySelector("#admin-kick-result")||{textContent:""}).textContent.includes("Banned until")`)
	if s := admin.text("#admin-kick-result"); !strings.Contains(s, "closed 1 connection") {
		t.Errorf("the admin page says %q, want it to say it closed Mallory's connection", s)
	}

	mallory.waitStatus("kicked: spamming the stage", stepTimeout)
	mallory.waitJS("the kicked banner", stepTimeout, `(document.querySelector("#ended")||{textContent:""}).textContent.includes("spamming the stage")`)
	mallory.screenshot("kicked-danmaku")
	if s := mallory.text("#danmaku-status"); strings.Contains(s, "Joining") || !strings.Contains(s, "kicked") {
		t.Errorf("the kicked Danmaku page says %q, want the kick", s)
	}
	for _, sel := range []string{"#danmaku-send", "#danmaku-input"} {
		if !eval[bool](mallory, fmt.Sprintf(`document.querySelector(%q).disabled`, sel)) {
			t.Errorf("the kicked Danmaku page's %s is enabled", sel)
		}
	}
	mallory.goTo("/")
	mallory.waitJS("the chat page", stepTimeout, `!!document.querySelector("#chat-input")`)
	if !strings.Contains(mallory.text("#ended"), "kicked") {
		t.Errorf("the kicked Chat page shows no kick banner (it says %q)", mallory.text("#ended"))
	}
	for _, sel := range []string{"#chat-input", "#chat-send", "#chat-dice"} {
		if !eval[bool](mallory, fmt.Sprintf(`document.querySelector(%q).disabled`, sel)) {
			t.Errorf("the kicked Chat page's %s is enabled", sel)
		}
	}

	// Reconnect during the ban: the page says why it cannot.
	mallory.do("click Reconnect", stepTimeout, chromedp.Click(chromedp.CSS("#status-reconnect")))
	mallory.waitStatus("banned", stepTimeout)
	mallory.waitJS("the ban in the banner", stepTimeout, `document.querySelector("#ended").textContent.includes("banned for") && document.querySelector("#ended").textContent.includes("spamming the stage")`)
	mallory.screenshot("banned")
	// A reload during the ban: the page learns it on its own and stops
	// trying, rather than reconnecting in a loop.
	mallory.do("reload", loadTimeout, chromedp.Reload())
	mallory.waitStatus("banned", loadTimeout)
	mallory.waitJS("the ban in the banner after a reload", stepTimeout, `(document.querySelector("#ended")||{textContent:""}).textContent.includes("spamming the stage")`)
	if eval[bool](mallory, `!!document.querySelector("#status-retry")`) {
		t.Error("after a reload during the ban the page is still trying to reconnect")
	}
	mallory.screenshot("banned-reload")
	// And the server holds no connection of Mallory's.
	res, err := (&api.Client{BaseURL: srv.URL()}).Connections(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Connections {
		if c.User == malloryID {
			t.Fatalf("banned Mallory is connected again: %+v", c)
		}
	}

	// The Admin page lists the ban (GET /api/bans) and lifts it (POST
	// /api/unban): Mallory's next attempt gets in.
	row := fmt.Sprintf(`#admin-bans-table tr[data-user=%q]`, malloryID)
	admin.waitJS("Mallory's ban in the bans list", stepTimeout, fmt.Sprintf(`!!document.querySelector(%q)`, row))
	if s := admin.text(row); !strings.Contains(s, "spamming the stage") || !strings.Contains(s, malloryID) {
		t.Errorf("the bans list's row says %q, want Mallory's id and the reason", s)
	}
	admin.screenshot("admin-bans")
	admin.do("lift Mallory's ban", stepTimeout, chromedp.Click(chromedp.CSS(row+" .unban-row")))
	admin.waitJS("the lift's result", stepTimeout, `(document.querySelector("#admin-unban-result")||{textContent:""}).textContent.includes("Lifted the ban")`)
	admin.waitJS("the bans list without Mallory", stepTimeout, fmt.Sprintf(`!document.querySelector(%q)`, row))
	bans, err := (&api.Client{BaseURL: srv.URL()}).Bans(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(bans) != 0 {
		t.Fatalf("GET /api/bans after the lift = %+v, want none", bans)
	}
	mallory.do("reload after the lift", loadTimeout, chromedp.Reload())
	mallory.waitStatus("connected", loadTimeout)
}

// TestE2EAdmin: the Admin page against an open API. Kicking a user who is
// not online says so (it used to say, in green, "closed 0 connections");
// the examples are real-looking ids; a click on a user of the online list
// fills the kick form, and the kick then works.
func TestE2EAdmin(t *testing.T) {
	srv := startTether(t)
	browser := newBrowser(t)
	admin, mallory := newPage(t, browser, "admin"), newPage(t, browser, "mallory")
	mallory.login(srv.URL(), "Mallory")
	malloryID := userOf(t, srv.URL(), "Mallory")

	admin.openAdmin(srv.URL())
	for _, sel := range []string{"#admin-kick-user", "#admin-push-user"} {
		ph := eval[string](admin, fmt.Sprintf(`document.querySelector(%q).placeholder`, sel))
		if !strings.Contains(ph, "alice-v7iidm") {
			t.Errorf("%s's placeholder is %q, want a real-looking id such as alice-v7iidm", sel, ph)
		}
	}
	admin.do("kick a user who is not online", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#admin-kick-user"), "nobody-000000"),
		chromedp.Click(chromedp.CSS("#admin-kick-btn")),
	)
	admin.waitJS("the kick's result", stepTimeout, `!!document.querySelector("#admin-kick-result")`)
	res := admin.text("#admin-kick-result")
	if !strings.Contains(res, "No user nobody-000000 is online") || eval[bool](admin, `document.querySelector("#admin-kick-result").classList.contains("ok")`) {
		t.Errorf("kicking nobody says %q (class %q); want that no such user is online, not a success",
			res, eval[string](admin, `document.querySelector("#admin-kick-result").className`))
	}
	admin.screenshot("kick-nobody")

	eval[string](admin, `document.querySelector("#admin-kick-user").value = ""`)
	admin.waitJS("Mallory in the online list", stepTimeout, fmt.Sprintf(`!!document.querySelector('.pick-user[data-user=%q]')`, malloryID))
	admin.do("pick Mallory from the online list", stepTimeout, chromedp.Click(chromedp.CSS(fmt.Sprintf(`.pick-user[data-user=%q]`, malloryID))))
	if v := eval[string](admin, `document.querySelector("#admin-kick-user").value`); v != malloryID {
		t.Fatalf("after the click the kick form's user is %q, want %q", v, malloryID)
	}
	if v := eval[string](admin, `document.querySelector("#admin-push-user").value`); v != malloryID {
		t.Errorf("after the click the push form's user is %q, want %q", v, malloryID)
	}
	admin.do("kick Mallory", stepTimeout, chromedp.Click(chromedp.CSS("#admin-kick-btn")))
	mallory.waitStatus("kicked", stepTimeout)
	admin.waitJS("the kick's result", stepTimeout, `document.querySelector("#admin-kick-result").textContent.includes("closed 1 connection")`)
}

// TestE2EAdminKey: with API keys (production) the Admin page shows nothing
// of the API until it is given a key, says why, keeps the key in memory
// only (never in the browser's storage) and asks again after a reload.
func TestE2EAdminKey(t *testing.T) {
	const key = "e2e-admin-key-0123456789"
	srv := startTether(t, "-api-keys", key)
	browser := newBrowser(t)
	admin := newPage(t, browser, "admin")
	admin.do("open the admin page", loadTimeout,
		chromedp.Navigate(srv.URL()+"/admin"),
		chromedp.WaitVisible(chromedp.CSS("#admin-key-needed")),
	)
	admin.screenshot("key-needed")
	if s := admin.text("#admin-key-needed"); !strings.Contains(s, "-api-keys") || !strings.Contains(s, "memory") {
		t.Errorf("the key prompt says %q; want it to explain why (API keys) and where the key is kept", s)
	}
	if eval[bool](admin, `!!document.querySelector("#admin-kick-user") || !!document.querySelector("#admin-online")`) {
		t.Error("without a key the admin page still shows the kick form or the online list")
	}
	admin.do("enter a wrong key", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#admin-key"), "not-the-key-0000000000"),
		chromedp.Click(chromedp.CSS("#admin-key-btn")),
	)
	admin.waitJS("the refusal", stepTimeout, `(document.querySelector("#admin-key-error")||{textContent:""}).textContent.includes("refused")`)
	admin.do("enter the key", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#admin-key"), key),
		chromedp.Click(chromedp.CSS("#admin-key-btn")),
	)
	admin.waitJS("the admin page with the key", stepTimeout, `!!document.querySelector("#admin-online") && !!document.querySelector("#admin-kick-user")`)
	admin.waitJS("the statistics", stepTimeout, `document.querySelector("[data-stat=connections] .stat-value").textContent !== "–"`)
	admin.screenshot("with-key")
	if eval[bool](admin, fmt.Sprintf(`(JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie).includes(%q)`, key)) {
		t.Error("the API key was written to the browser's storage")
	}
	admin.do("reload", loadTimeout, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#admin-key-needed")))
}

// TestE2ETabs: two tabs of one browser. Signing out in one signs the other
// out too (it used to stay connected and chatting until reloaded), and
// signing in again in one brings the other back as the same user.
func TestE2ETabs(t *testing.T) {
	srv := startTether(t)
	browser := newBrowser(t)
	tab1 := newPage(t, browser, "tab1")
	tab1.login(srv.URL(), "Alice")
	tab2 := tab1.newTab("tab2")
	tab2.do("open the app in a second tab", loadTimeout, chromedp.Navigate(srv.URL()+"/"))
	tab2.waitStatus("connected", loadTimeout) // signed in by the shared cookie
	waitConns(t, srv.URL(), "Alice", 2)

	tab1.do("sign out", stepTimeout, chromedp.Click(chromedp.CSS("#logout-btn")))
	tab1.waitJS("the sign-in card", stepTimeout, `!!document.querySelector("#login-name")`)
	tab2.waitJS("the sign-in card in the other tab", stepTimeout, `!!document.querySelector("#login-name") && !document.querySelector("#status")`)
	tab2.screenshot("signed-out")
	waitConns(t, srv.URL(), "Alice", 0)

	tab1.do("sign in again", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#login-name"), "Alicia"),
		chromedp.Click(chromedp.CSS("#login-btn")),
	)
	tab1.waitStatus("connected", loadTimeout)
	tab2.waitStatus("connected", loadTimeout)
	tab2.waitJS("the new name in the other tab", stepTimeout, `document.querySelector("#me-name").textContent === "Alicia"`)
	if u1, u2 := eval[string](tab1, `document.querySelector("#me-name").dataset.user`), eval[string](tab2, `document.querySelector("#me-name").dataset.user`); u1 != u2 {
		t.Errorf("after signing in again the tabs are %q and %q, want the same user", u1, u2)
	}
	tab2.screenshot("signed-in")
	waitConns(t, srv.URL(), "Alicia", 2)
}

// waitConns waits until the server holds n connections named nick.
func waitConns(t *testing.T, base, nick string, n int) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := (&api.Client{BaseURL: base}).Connections(ctx, 0, 1000)
		cancel()
		got := 0
		for _, c := range res.Connections {
			if c.Name == nick {
				got++
			}
		}
		if err == nil && got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d connections named %s (%v), want %d", got, nick, err, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLongRetry cuts the network at proxy and waits until the page's next
// reconnect attempt is at least margin away (the backoff grows with each
// failure), and returns when it is due, in the page's clock (Unix ms).
func (p *page) waitLongRetry(proxy *tethertest.CutProxy, margin time.Duration) int64 {
	p.t.Helper()
	proxy.Shut()
	p.waitStatus("reconnecting", stepTimeout)
	p.waitJS(fmt.Sprintf("a retry wait of %v or more", margin), 90*time.Second,
		fmt.Sprintf(`(e => e && +e.dataset.retryAt - Date.now() >= %d)(document.querySelector("#status[data-retry-at]"))`, margin.Milliseconds()))
	return eval[int64](p, `+document.querySelector("#status").dataset.retryAt`)
}

// reconnectedBefore waits for the page to be connected again and fails the
// test unless that happened before retryAt, when the backoff timer alone
// would have retried.
func (p *page) reconnectedBefore(retryAt int64, what string) {
	p.t.Helper()
	p.waitStatus("connected", stepTimeout)
	now := eval[int64](p, `Date.now()`)
	p.t.Logf("%s: connected %d ms before the backoff's retry", what, retryAt-now)
	if now >= retryAt {
		p.t.Errorf("%s: the page waited out its backoff (connected %d ms after the retry was due) instead of retrying at once", what, now-retryAt)
	}
}

// TestE2EVisibility: a page that comes back to the foreground while it waits
// to reconnect retries at once, not when its grown backoff ends (the phone
// lock-screen case). The page's visibility is emulated: headless Chromium
// pages are always visible.
func TestE2EVisibility(t *testing.T) {
	srv := startTether(t)
	proxy := tethertest.NewCutProxy(t, srv.addr)
	browser := newBrowser(t)
	alice := newPage(t, browser, "alice")
	alice.login(proxy.BaseURL(), "Alice")

	retryAt := alice.waitLongRetry(proxy, 4*time.Second)
	alice.screenshot("waiting")
	proxy.Open()
	eval[bool](alice, `(() => {
		let state = "visible";
		Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
		Object.defineProperty(document, "hidden", {configurable: true, get: () => state === "hidden"});
		state = "hidden"; document.dispatchEvent(new Event("visibilitychange"));
		state = "visible"; document.dispatchEvent(new Event("visibilitychange"));
		return true;
	})()`)
	alice.reconnectedBefore(retryAt, "visible again")
}

// TestE2ENetworkBack: the network is cut between the page and the server
// (at a TCP proxy); when it comes back and the browser says "online", the
// page retries at once instead of waiting out its backoff.
func TestE2ENetworkBack(t *testing.T) {
	srv := startTether(t)
	proxy := tethertest.NewCutProxy(t, srv.addr)
	browser := newBrowser(t)
	alice := newPage(t, browser, "alice")
	alice.login(proxy.BaseURL(), "Alice")
	alice.say("before the cut")
	alice.waitChat("before the cut", stepTimeout)

	retryAt := alice.waitLongRetry(proxy, 4*time.Second)
	apiPush(t, srv.URL(), api.Target{Kind: api.TargetRoom, ID: "lobby"},
		msg.ChatMessage{Room: "lobby", User: "bot", Name: "Bot", Text: "sent during the cut", Time: time.Now().UnixMilli()})
	proxy.Open()
	eval[bool](alice, `(() => {
		Object.defineProperty(navigator, "onLine", {configurable: true, get: () => true});
		window.dispatchEvent(new Event("online"));
		return true;
	})()`)
	alice.reconnectedBefore(retryAt, "network back")
	alice.waitChat("sent during the cut", stepTimeout)
}

// TestE2EOutboxAndTyping: while the network is cut the chat says what
// happens to what is typed, a line sent then shows as pending and reaches
// the room once the connection is back; an empty message says so; and
// "… is typing" shows in the other page while someone types, without a
// place in the room's history.
func TestE2EOutboxAndTyping(t *testing.T) {
	srv := startTether(t)
	proxy := tethertest.NewCutProxy(t, srv.addr)
	browser := newBrowser(t)
	alice, bob := newPage(t, browser, "alice"), newPage(t, browser, "bob")
	alice.login(proxy.BaseURL(), "Alice")
	bob.login(srv.URL(), "Bob")
	alice.waitMember("Bob")
	bob.waitMember("Alice")

	// An empty message is answered.
	alice.do("send nothing", stepTimeout, chromedp.Click(chromedp.CSS("#chat-send")))
	alice.waitJS("a word about the empty message", stepTimeout, `(document.querySelector("#chat-error")||{textContent:""}).textContent.includes("Type a message")`)

	// Typing shows in the other page.
	bob.do("type", stepTimeout, chromedp.SendKeys(chromedp.CSS("#chat-input"), "hello ali"))
	alice.waitJS("Bob is typing", stepTimeout, `document.querySelector("#chat-typing").textContent === "Bob is typing…"`)
	alice.screenshot("typing")
	bob.do("send", stepTimeout, chromedp.SendKeys(chromedp.CSS("#chat-input"), "ce"), chromedp.Click(chromedp.CSS("#chat-send")))
	alice.waitChat("hello alice", stepTimeout)
	if s := alice.text("#chat-typing"); s != "" {
		t.Errorf("after Bob's message Alice's page still says %q", s)
	}
	if bob.text("#chat-typing") != "" {
		t.Errorf("Bob's own page says %q: one's own typing is not news", bob.text("#chat-typing"))
	}

	// Offline: the page says what happens to typed text, and a line sent
	// now is pending until the server has it.
	proxy.Shut()
	alice.waitStatus("reconnecting", stepTimeout)
	alice.waitJS("the offline notice", stepTimeout, `(document.querySelector("#chat-offline")||{textContent:""}).textContent.includes("go out when the connection is back")`)
	if ph := eval[string](alice, `document.querySelector("#chat-input").placeholder`); !strings.Contains(ph, "will be sent when back online") {
		t.Errorf("offline, the chat input says %q", ph)
	}
	alice.say("written while offline")
	alice.waitJS("the pending line", stepTimeout, `[...document.querySelectorAll(".chat-msg.pending")].some(e => e.textContent.includes("written while offline") && e.textContent.includes("waiting for the connection"))`)
	alice.screenshot("pending")
	if v := eval[string](alice, `document.querySelector("#chat-input").value`); v != "" {
		t.Errorf("the input still holds %q after a queued send", v)
	}
	proxy.Open()
	// "Retry now" (through JavaScript: the pill redraws four times a second,
	// and the button is gone if the page retried by itself meanwhile).
	eval[bool](alice, `(b => (b && b.click(), true))(document.querySelector("#status-retry"))`)
	alice.waitStatus("connected", stepTimeout)
	bob.waitChat("written while offline", stepTimeout)
	alice.waitJS("the line no longer pending", stepTimeout, `[...document.querySelectorAll(".chat-msg")].some(e => e.textContent.includes("written while offline") && !e.classList.contains("pending"))`)
	if n := eval[int](alice, `[...document.querySelectorAll(".chat-msg")].filter(e => e.textContent.includes("written while offline")).length`); n != 1 {
		t.Errorf("Alice's page shows the offline line %d times, want once", n)
	}
	if n := eval[int](bob, `[...document.querySelectorAll(".chat-msg")].filter(e => e.textContent.includes("written while offline")).length`); n != 1 {
		t.Errorf("Bob's page shows the offline line %d times, want once", n)
	}

	// The typing was never kept: a fresh page gets the two lines only.
	carol := newPage(t, browser, "carol")
	carol.login(srv.URL(), "Carol")
	carol.waitChat("written while offline", stepTimeout)
	if n := eval[int](carol, `document.querySelectorAll(".chat-msg").length`); n != 2 {
		t.Errorf("a new member's history has %d lines, want the 2 chat lines", n)
	}
}
