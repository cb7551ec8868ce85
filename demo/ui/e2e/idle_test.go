//go:build !js

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/tethertest"
)

// runningAnimations lists the page's running animations: their target's
// class, the properties they animate, and whether they never end.
const runningAnimations = `document.getAnimations().filter(a => a.playState === 'running').map(a => ({
  target: (a.effect.target && a.effect.target.className) || '',
  pseudo: a.effect.pseudoElement || '',
  props: [...new Set(a.effect.getKeyframes().flatMap(k => Object.keys(k).filter(p => !['offset', 'computedOffset', 'easing', 'composite'].includes(p))))],
  endless: a.effect.getComputedTiming().iterations === Infinity,
}))`

// animation is one entry of runningAnimations.
type animation struct {
	Target  string   `json:"target"`
	Pseudo  string   `json:"pseudo"`
	Props   []string `json:"props"`
	Endless bool     `json:"endless"`
}

// TestE2EIdlePageDrawsNothing: a signed-in chat page left open runs no
// animation that never ends, so the browser stops drawing frames for it.
// The "connected" dot pulsed forever with an animated box-shadow, repainted
// on the main thread at every frame: 5-6 % of a core for an idle page.
func TestE2EIdlePageDrawsNothing(t *testing.T) {
	srv := startTether(t)
	p := openPage(t, newBrowser(t), "idle")
	p.login(srv.URL(), "Idle")
	anims := eval[[]animation](p, runningAnimations)
	t.Logf("running animations once connected: %+v", anims)
	for _, a := range anims {
		if a.Endless {
			t.Errorf("%s%s runs an animation that never ends (%v): the page draws frames as long as it is open", a.Target, a.Pseudo, a.Props)
		}
	}
}

// TestE2EStatusPillFollows: while the page waits to reconnect, its pill
// counts down (its clock runs only then), and the browser's offline and
// online events show in it as they come, without polling: offline adds
// "browser offline", online has the page retry at once.
func TestE2EStatusPillFollows(t *testing.T) {
	srv := startTether(t)
	proxy := tethertest.NewCutProxy(t, srv.addr)
	p := newPage(t, newBrowser(t), "alice")
	p.login(proxy.BaseURL(), "Alice")

	retryAt := p.waitLongRetry(proxy, 4*time.Second)
	first := p.text("#status .status-text")
	p.waitJS(fmt.Sprintf("the countdown to move on from %q", first), stepTimeout,
		fmt.Sprintf(`(document.querySelector("#status .status-text") || {}).textContent !== %q`, first))

	setOnline := func(online bool) {
		eval[bool](p, fmt.Sprintf(`(() => {
			Object.defineProperty(navigator, "onLine", {configurable: true, get: () => %t});
			window.dispatchEvent(new Event(%q));
			return true;
		})()`, online, map[bool]string{true: "online", false: "offline"}[online]))
	}
	setOnline(false)
	p.waitJS("the pill to say the browser is offline", stepTimeout,
		`(document.querySelector("#status .status-text") || {}).textContent.includes("browser offline")`)
	proxy.Open()
	setOnline(true)
	p.reconnectedBefore(retryAt, "online again")
	if got := p.text("#status .status-text"); got != "connected" {
		t.Errorf("the pill says %q once connected, want %q", got, "connected")
	}
}
