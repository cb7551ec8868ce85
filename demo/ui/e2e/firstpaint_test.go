//go:build !js

package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpnetwork "github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	cdpperf "github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
)

// firstPaintProbe runs in the page before any of its scripts and records,
// in the page's own clock (milliseconds since the navigation started):
// when the sign-in form is there (the wasm app has mounted it: it is not in
// the server-rendered page), when the sign-in button is clicked, and when
// the status pill first says "connected"; and when the bundle's response
// ended. Its times are those of the first frame that shows the change, so
// up to a frame (17 ms) late.
const firstPaintProbe = `(() => {
  const T = window.__firstPaint = {};
  const mark = (k) => { if (!(k in T)) T[k] = performance.now(); };
  document.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('#login-btn')) mark('submit');
  }, true);
  // Checked once a frame (a MutationObserver on the whole document would
  // run on each of the thousands of changes go-app makes as it mounts).
  const check = () => {
    if (document.querySelector('#login-name')) mark('form');
    const s = document.querySelector('#status .status-text');
    if (s && s.textContent.startsWith('connected')) mark('connected');
    if (!('connected' in T)) requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})()`

// firstPaint is what firstPaintProbe saw, in milliseconds since the
// navigation started.
type firstPaint struct {
	Form      float64 `json:"form"`
	Submit    float64 `json:"submit"`
	Connected float64 `json:"connected"`
	Bundle    float64 `json:"bundle"`    // the end of the bundle's response
	Downloads int     `json:"downloads"` // of the bundle: 1, the preload the loader took
}

// readFirstPaint returns what the probe recorded on p, once it has seen
// "connected": the test polls the page's text, so it can see the status
// change before the next frame shows it to the probe.
func readFirstPaint(p *page) firstPaint {
	p.t.Helper()
	p.waitJS("the probe to see the page connected", stepTimeout, `'connected' in (window.__firstPaint || {})`)
	return eval[firstPaint](p, `(() => {
  const b = performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname === '/web/app.wasm');
  return Object.assign({}, window.__firstPaint, {bundle: b.length ? b[0].responseEnd : 0, downloads: b.length});
})()`)
}

// measuredPage opens a page for TestE2EFirstPaint: with the probe and
// Chromium's performance counters, and without DevTools' network
// recording, which keeps a copy of every response body (the 7.5 MB bundle
// included) and makes the download about a third slower than in a browser
// nobody inspects.
func measuredPage(t *testing.T, p *page) *page {
	t.Helper()
	if _, err := chromedp.Call(p.ctx, cdpnetwork.Disable, cdp.Empty{}); err != nil {
		t.Fatalf("%s: network recording off: %v", p.name, err)
	}
	if _, err := chromedp.Call(p.ctx, cdpperf.Enable, cdpperf.EnableParams{}); err != nil {
		t.Fatalf("%s: performance counters on: %v", p.name, err)
	}
	if _, err := chromedp.Call(p.ctx, cdppage.AddScriptToEvaluateOnNewDocument,
		cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: firstPaintProbe}); err != nil {
		t.Fatalf("%s: add the probe: %v", p.name, err)
	}
	return p
}

// mainThreadBusy returns how long the page's main thread has run tasks
// since it opened (Chromium's TaskDuration counter): on a machine as noisy
// as a shared 2-core one it varies less than the wall clock, and it is the
// budget that a page this CPU-bound spends.
func mainThreadBusy(p *page) time.Duration {
	p.t.Helper()
	res, err := chromedp.Call(p.ctx, cdpperf.GetMetrics, cdp.Empty{})
	if err != nil {
		p.t.Fatalf("%s: performance counters: %v", p.name, err)
	}
	for _, m := range res.Metrics {
		if m.Name == "TaskDuration" {
			return time.Duration(m.Value * float64(time.Second)).Round(time.Millisecond)
		}
	}
	p.t.Fatalf("%s: no TaskDuration among the performance counters", p.name)
	return 0
}

// TestE2EFirstPaint measures, in five fresh Chromium processes, a cold
// load (a new profile: empty HTTP cache, no service worker, no compiled
// wasm) with the sign-in, then, once go-app's service worker controls the
// page (it has cached the app), a returning visit in a new tab (the login
// cookie resumes the session). Pages are in the browser's own profile, on
// disk, as a user's are (an isolated browser context is off the record: no
// code cache).
//
// For the cold load it logs, in the page's clock: navigation to the sign-in
// form (the wasm app mounted), the click on "sign in" to "connected", and
// their sum, the page's own time to connected, which leaves out the time
// the test takes to type the name (chromedp's key and mouse events, about
// 0.2–0.4 s, a person's typing in real life); and the wall-clock time from
// navigation to connected, typing included. For the returning visit:
// navigation to connected. For both, how long the page's main thread ran
// tasks by then (mainThreadBusy). Then the medians. It asserts nothing about the
// figures: they depend on the machine (run it on a quiet one). It checks
// that the cold page downloads the bundle once: the loader takes the
// preload the page's <head> starts.
func TestE2EFirstPaint(t *testing.T) {
	srv := startTether(t)
	const loads = 5
	var coldApp, coldWall, coldBusy, warm, warmBusy []time.Duration
	ms := func(f float64) time.Duration {
		return time.Duration(f * float64(time.Millisecond)).Round(time.Millisecond)
	}
	for i := range loads {
		t.Run(fmt.Sprint("load", i+1), func(t *testing.T) {
			p := measuredPage(t, openPage(t, newBrowser(t), fmt.Sprint("cold", i+1)))
			wall := p.login(srv.URL(), fmt.Sprint("Cold", i+1)).Round(time.Millisecond)
			c := readFirstPaint(p)
			busy := mainThreadBusy(p)
			if c.Downloads != 1 {
				t.Errorf("the page fetched the bundle %d times, want once (the loader takes the <head>'s preload)", c.Downloads)
			}
			app := ms(c.Form + c.Connected - c.Submit)
			t.Logf("cold load %d: sign-in form at %v (bundle in at %v), sign-in to connected %v: %v to connected without the typing; wall clock with it %v; main thread busy %v",
				i+1, ms(c.Form), ms(c.Bundle), ms(c.Connected-c.Submit), app, wall, busy)
			coldApp, coldWall, coldBusy = append(coldApp, app), append(coldWall, wall), append(coldBusy, busy)

			p.waitJS("the service worker", loadTimeout, `!!(navigator.serviceWorker && navigator.serviceWorker.controller)`)
			w := measuredPage(t, p.newTab(fmt.Sprint("warm", i+1)))
			start := time.Now()
			w.do("open the app again", loadTimeout, chromedp.Navigate(srv.URL()+"/"))
			w.waitStatus("connected", loadTimeout)
			wall = time.Since(start)
			c = readFirstPaint(w)
			busy = mainThreadBusy(w)
			t.Logf("returning visit %d: connected at %v (bundle in at %v); wall clock %v; main thread busy %v",
				i+1, ms(c.Connected), ms(c.Bundle), wall.Round(time.Millisecond), busy)
			warm, warmBusy = append(warm, ms(c.Connected)), append(warmBusy, busy)
		})
	}
	for _, m := range []struct {
		what string
		took []time.Duration
	}{
		{"cold page load to connected, without the typing", coldApp},
		{"cold page load to connected, wall clock with the typing", coldWall},
		{"cold load, the page's main thread busy until connected", coldBusy},
		{"returning visit to connected", warm},
		{"returning visit, the page's main thread busy until connected", warmBusy},
	} {
		if len(m.took) == loads {
			slices.Sort(m.took)
			t.Logf("%s: median of %d %v (min %v, max %v)", m.what, loads,
				m.took[loads/2], m.took[0], m.took[loads-1])
		}
	}
}
