//go:build !wasm

package ui

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherkit/tether/server/webapp"
)

// TestPagesPrerendered serves the demo through server/webapp, as
// cmd/tether does, and checks every page is rendered on the server with
// the demo's shell, and without the controls that only the live app has.
func TestPagesPrerendered(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := webapp.New(webapp.Config{Handler: Handler(), Routes: Routes, Dir: dir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	for _, p := range pages() {
		w := get(p.path)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200 (server-side rendered page)", p.path, w.Code)
			continue
		}
		body := w.Body.String()
		for _, want := range []string{`class="topbar"`, `href="/web/app.css"`, "/app.js", "Tether"} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: page lacks %s", p.path, want)
			}
		}
	}
	if body := get(PathChat).Body.String(); !strings.Contains(body, "Welcome to Tether") {
		t.Error("the chat page is not prerendered with its sign-in card")
	}
	if body := get(PathAdmin).Body.String(); !strings.Contains(body, `id="admin-stats"`) {
		t.Error("the admin page is not prerendered")
	}
	// Controls exist only in the live app: typed into the prerendered page,
	// text would be lost when the wasm replaces it.
	for _, path := range []string{PathChat, PathAdmin} {
		body := get(path).Body.String()
		for _, id := range []string{`id="login-name"`, `id="login-btn"`, `id="admin-kick-user"`, `id="admin-push-btn"`} {
			if strings.Contains(body, id) {
				t.Errorf("GET %s: the prerendered page has the control %s", path, id)
			}
		}
	}
	if w := get("/no-such-page"); w.Code != http.StatusNotFound {
		t.Errorf("unknown page: status %d, want 404", w.Code)
	}
}
