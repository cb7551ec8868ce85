//go:build !js

package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// resumeProbe runs in the page before its scripts and logs, in order: each
// WebSocket the page creates ("ws"), each request to the login endpoints
// ("fetch /auth/me"), the sign-in form if it ever shows ("form"), and the
// status pill first saying "connected" ("connected").
const resumeProbe = `(() => {
  const L = window.__resume = [];
  window.WebSocket = new Proxy(window.WebSocket, {
    construct(target, args) { L.push('ws'); return Reflect.construct(target, args); },
  });
  const f = window.fetch;
  window.fetch = function(input) {
    const u = new URL(String((input && input.url) || input), location.href);
    if (u.pathname.startsWith('/auth/')) L.push('fetch ' + u.pathname);
    return f.apply(this, arguments);
  };
  const check = () => {
    if (document.querySelector('#login-name') && !L.includes('form')) L.push('form');
    const s = document.querySelector('#status .status-text');
    if (s && s.textContent.startsWith('connected')) { L.push('connected'); return; }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})()`

// TestE2EReloadResumes: a reload of a signed-in page connects with the
// login the browser saved: its first act is the WebSocket, it asks the
// login endpoints nothing before it is connected, and it never shows the
// sign-in form. When the server's secret changed meanwhile (a restart with
// another -secret), the saved login no longer works: the page signs in
// again by itself, as a new guest under the same name, without asking.
func TestE2EReloadResumes(t *testing.T) {
	srv := startTether(t)
	p := openPage(t, newBrowser(t), "rey")
	p.login(srv.URL(), "Rey")
	first := eval[string](p, `document.querySelector('#me-name').dataset.user`)
	if _, err := chromedp.Call(p.ctx, cdppage.AddScriptToEvaluateOnNewDocument,
		cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: resumeProbe}); err != nil {
		t.Fatalf("add the probe: %v", err)
	}
	resumed := func(what string) []string {
		t.Helper()
		p.do(what, loadTimeout, chromedp.Reload())
		p.waitStatus("connected", loadTimeout)
		p.waitJS("the probe to see the page connected", stepTimeout, `(window.__resume || []).includes('connected')`)
		log := eval[[]string](p, `window.__resume`)
		t.Logf("%s: the page did %v", what, log)
		if slices.Contains(log, "form") {
			t.Errorf("%s: the sign-in form showed (%v)", what, log)
		}
		if got := p.text("#me-name"); got != "Rey" {
			t.Errorf("%s: signed in as %q, want Rey", what, got)
		}
		return log
	}

	log := resumed("reload")
	if want := []string{"ws", "connected"}; !slices.Equal(log[:min(2, len(log))], want) {
		t.Errorf("reload: the page did %v, want the WebSocket first and nothing else before connected", log)
	}
	if user := eval[string](p, `document.querySelector('#me-name').dataset.user`); user != first {
		t.Errorf("reload: user %q, want %q", user, first)
	}

	srv.stop()
	srv.args = append(srv.args, "-secret", "another-secret-"+strings.Repeat("x", 32))
	srv.start()
	log = resumed("reload after the server's secret changed")
	if len(log) == 0 || log[0] != "ws" {
		t.Errorf("the page did %v, want the WebSocket first", log)
	}
	if !slices.Contains(log, "fetch /auth/guest") {
		t.Errorf("the page did %v, want a new guest sign-in after the refused handshake", log)
	}
	if user := eval[string](p, `document.querySelector('#me-name').dataset.user`); user == first || !strings.HasPrefix(user, "rey") {
		t.Errorf("user %q after the secret changed, want a new guest id rey… (was %q)", user, first)
	}
	_, _ = chromedp.Call(p.ctx, cdppage.Close, cdp.Empty{})
}
