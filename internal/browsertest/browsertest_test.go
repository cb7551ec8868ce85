//go:build !js

package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tetherkit/tether/internal/tethertest"
)

// TestChromium: $TETHER_CHROMIUM wins when it names an executable, and is
// refused with its name when it does not.
func TestChromium(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "my-chromium")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env     string
		want    string // the path returned; "" with wantErr
		wantErr string
	}{
		{env: exe, want: exe},
		{env: filepath.Join(t.TempDir(), "absent"), wantErr: EnvChromium},
	} {
		t.Setenv(EnvChromium, tc.env)
		got, err := Chromium()
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s=%s: err = %v, want one naming %s", EnvChromium, tc.env, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%s=%s: Chromium() = %q, %v; want %q", EnvChromium, tc.env, got, err, tc.want)
		}
	}
}

func TestArtifactDir(t *testing.T) {
	t.Run("sub/test", func(t *testing.T) {
		want := filepath.Join("/repo", "test-artifacts", "TestArtifactDir_sub_test")
		if got := ArtifactDir("/repo", t); got != want {
			t.Errorf("ArtifactDir = %q, want %q", got, want)
		}
	})
}

// TestPage drives a real page in Chromium: WaitJS sees a condition that a
// page timer makes true, the page's console messages and uncaught
// exceptions are in its Log, Do runs actions, and Screenshot and
// SaveArtifact write their files.
func TestPage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium")
	}
	if _, err := Chromium(); err != nil {
		t.Skip(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><title>t</title><p id="x">hello</p><script>
console.log("from the page", 42);
setTimeout(() => { window.ready = true; throw new Error("boom"); }, 200);
</script>`))
	}))
	defer ts.Close()

	p := OpenPage(t, NewBrowser(t, t.TempDir()), "solo", chromedp.WithNewBrowserContext())
	dir := t.TempDir()
	p.KeepArtifacts(dir)
	p.Do("open the page", time.Minute, chromedp.Navigate(ts.URL))
	p.WaitJS("the page's timer", time.Minute, `window.ready === true`)
	tethertest.WaitUntil(t, "the page's console message and exception in its log", func() bool {
		log := p.Log()
		return strings.Contains(log, `console.log: "from the page" 42`) && strings.Contains(log, "exception: ") && strings.Contains(log, "boom")
	})
	p.Screenshot("shown")
	if fi, err := os.Stat(filepath.Join(dir, "solo-shown.png")); err != nil || fi.Size() == 0 {
		t.Errorf("Screenshot wrote no picture: %v", err)
	}
}

// recorder is a testing.TB whose Fatalf records the message and ends the
// goroutine, as the testing package's does.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestPageFailure: a step that fails on a page without KeepArtifacts says
// what it waited for, with the page's HTML and console log.
func TestPageFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium")
	}
	if _, err := Chromium(); err != nil {
		t.Skip(err)
	}
	p := OpenPage(t, NewBrowser(t, t.TempDir()), "lonely", chromedp.WithNewBrowserContext())
	p.Do("write the page", time.Minute, chromedp.Evaluate[chromedp.Void](`document.body.innerHTML = "<p id=y>shown</p>"; console.log("noted")`))
	tethertest.WaitUntil(t, "the console message in the log", func() bool { return strings.Contains(p.Log(), "noted") })
	r := &recorder{TB: t}
	p.t = r
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.WaitJS("something that never happens", 300*time.Millisecond, `false`)
	}()
	<-done
	p.t = t
	for _, want := range []string{"lonely: waiting for something that never happens", `<p id="y">shown</p>`, "console:", "noted"} {
		if !strings.Contains(r.msg, want) {
			t.Errorf("failure message %q lacks %q", r.msg, want)
		}
	}
}

// TestNewBrowserStartsAgain: a browser that dies while it starts is started
// once more. The "browser" here is a script that fails on its first run and
// runs Chromium on its second.
func TestNewBrowserStartsAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium")
	}
	chromium, err := Chromium()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "started-once")
	exe := filepath.Join(dir, "flaky-chromium")
	script := fmt.Sprintf("#!/bin/sh\nif [ ! -e %q ]; then touch %q; echo 'crashed at launch' >&2; exit 1; fi\nexec %q \"$@\"\n", marker, marker, chromium)
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	browser := NewBrowser(t, t.TempDir(), chromedp.ExecPath(exe))
	v, err := chromedp.Run(browser, chromedp.Evaluate[int](`6 * 7`))
	if err != nil || v != 42 {
		t.Fatalf("the browser started the second time does not answer: %v, %v", v, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the first start did not run: %v", err)
	}
}
