//go:build !js

package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server/api"
)

// TestE2EGapFilledOrDropped: the page's network goes away while 80 chat
// messages reach the lobby, more than the server keeps (-history 60) and
// more than a rejoin replays (50). When the network is back the page shows
// the replayed ones, fills in the kept ones before them from the room's
// history, in order, and says clearly that the older ones were dropped.
func TestE2EGapFilledOrDropped(t *testing.T) {
	srv := startTether(t, "-history", "60")
	gate := tethertest.NewCutProxy(t, srv.addr)
	browser := newBrowser(t)
	alice := newPage(t, browser, "alice")
	alice.login(gate.BaseURL(), "Alice")
	alice.say("before the gap")
	alice.waitChat("before the gap", stepTimeout) // seq 1

	gate.Shut()
	alice.waitStatus("reconnecting", stepTimeout)
	for i := 1; i <= 80; i++ { // seqs 2..81; the server keeps 22..81 ("away 21".."away 80")
		apiPush(t, srv.URL(), api.Target{Kind: api.TargetRoom, ID: "lobby"},
			msg.ChatMessage{Room: "lobby", User: "bot", Name: "Bot", Text: fmt.Sprintf("away %02d", i), Time: time.Now().UnixMilli()})
	}
	gate.Open()
	alice.waitStatus("connected", 60*time.Second)
	alice.waitChat("away 80", stepTimeout)
	alice.waitJS("the dropped notice", stepTimeout,
		`[...document.querySelectorAll(".notice")].some(e => e.textContent.includes("older messages were dropped"))`)

	ctx, cancel := context.WithTimeout(alice.ctx, 5*time.Second)
	defer cancel()
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".chat-msg .chat-text")].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"before the gap"}
	for i := 21; i <= 80; i++ {
		want = append(want, fmt.Sprintf("away %02d", i))
	}
	if !slices.Equal(texts, want) {
		t.Fatalf("the chat shows %d lines %q;\nwant %d: \"before the gap\", then away 21..80 (21..30 filled from history, 31..80 replayed), in order, and not away 01..20 (dropped)", len(texts), texts, len(want))
	}
	t.Logf("the chat shows %d lines after the gap; notice %q", len(texts), alice.text(".notice"))
}
