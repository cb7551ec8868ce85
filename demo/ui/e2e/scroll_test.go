//go:build !js

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server/api"
)

// atEndJS is true when the chat's messages are scrolled to (within a few
// pixels of) their end.
const atEndJS = `(() => { const b = document.querySelector("#chat-messages");
  return !!b && b.scrollHeight > b.clientHeight && b.scrollHeight - b.scrollTop - b.clientHeight < 4; })()`

// TestE2EChatScroll: the chat's messages stay at their end while lines
// arrive; once the reader scrolls up to read, new lines from others leave
// the view alone; the reader's own line brings it back to the end.
func TestE2EChatScroll(t *testing.T) {
	srv := startTether(t)
	alice := newPage(t, newBrowser(t), "alice")
	alice.login(srv.URL(), "Alice")
	push := func(from, to int) {
		for i := from; i <= to; i++ {
			apiPush(t, srv.URL(), api.Target{Kind: api.TargetRoom, ID: "lobby"},
				msg.ChatMessage{Room: "lobby", User: "bot", Name: "Bot", Text: fmt.Sprintf("line %02d", i), Time: time.Now().UnixMilli()})
		}
	}

	push(1, 40)
	alice.waitChat("line 40", stepTimeout)
	alice.waitJS("the messages at their end after 40 lines", stepTimeout, atEndJS)

	// The reader scrolls to the top; the scroll event tells the page.
	alice.waitJS("the messages scrolled to the top", stepTimeout,
		`(() => { const b = document.querySelector("#chat-messages"); b.scrollTo({top: 0, behavior: "instant"}); return b.scrollTop === 0; })()`)
	// Scroll events fire in a frame's scroll steps: two frames on, the
	// page has seen this one.
	twoFrames(alice)
	push(41, 45)
	alice.waitChat("line 45", stepTimeout)
	twoFrames(alice) // a move to the end would be done by then
	if top := eval[float64](alice, `document.querySelector("#chat-messages").scrollTop`); top != 0 {
		t.Errorf("the messages moved from the top to %v px while the reader was reading", top)
	}

	alice.say("my own line")
	alice.waitChat("my own line", stepTimeout)
	alice.waitJS("the messages at their end after the reader's own line", stepTimeout, atEndJS)
	push(46, 50)
	alice.waitChat("line 50", stepTimeout)
	alice.waitJS("the messages at their end after more lines", stepTimeout, atEndJS)
}

// twoFrames returns once the page has drawn two more frames.
func twoFrames(p *page) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)); err != nil {
		p.t.Fatalf("%s: wait for two frames: %v", p.name, err)
	}
}
