//go:build !js

package e2e

import (
	"testing"
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
