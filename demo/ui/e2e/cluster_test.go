//go:build !js

package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/tetherkit/tether/internal/natstest"
)

// startNATS runs an embedded nats-server with JetStream on 127.0.0.1 for
// the test and returns its URL.
func startNATS(t *testing.T) string {
	t.Helper()
	return natstest.Start(t, t.TempDir(), 0).ClientURL()
}

// startClusterNode runs the server binary as a node of the cluster on
// natsURL.
func startClusterNode(t *testing.T, natsURL, name string) *tetherProc {
	t.Helper()
	return startTether(t, "-nats", natsURL, "-node", name, "-data-dir", t.TempDir())
}

// TestE2EClusterChat: two Chromium pages on two different nodes of a
// cluster see each other in the room, chat both ways, and the one that
// stays sees the other leave.
func TestE2EClusterChat(t *testing.T) {
	natsURL := startNATS(t)
	a, b := startClusterNode(t, natsURL, "a"), startClusterNode(t, natsURL, "b")
	browser := newBrowser(t)
	alice, bob := newPage(t, browser, "alice"), newPage(t, browser, "bob")
	alice.login(a.URL(), "Alice")
	bob.login(b.URL(), "Bob")

	alice.waitMember("Bob")
	bob.waitMember("Alice")
	alice.say("hello from node a")
	bob.waitChat("hello from node a", stepTimeout)
	bob.say("hello from node b")
	alice.waitChat("hello from node b", stepTimeout)

	// Bob's page goes away: node b's connection closes and alice, on node
	// a, sees him leave the members list.
	bob.do("leave the app", stepTimeout, chromedp.Navigate("about:blank"))
	alice.waitJS("Bob gone from the members", stepTimeout, fmt.Sprintf(
		`![...document.querySelectorAll("#members .member")].some(e => e.textContent.includes(%q))`, "Bob"))
}
