package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/server/webapp"
)

// TestParse: the defaults, each flag, and the command lines refused.
func TestParse(t *testing.T) {
	t.Setenv("GO", "")
	for _, tc := range []struct {
		name    string
		args    []string
		want    options
		wantErr string
	}{
		{"defaults", nil, options{pkg: ".", out: DefaultOutput, gcflags: DefaultGCFlags, ldflags: DefaultLDFlags, goCmd: "go"}, ""},
		{"all flags", []string{"-o", "x/y.wasm", "-gcflags=", "-ldflags=-s", "-tags", "prod", "-f", "-go", "/opt/go/bin/go", "./cmd/web"},
			options{pkg: "./cmd/web", out: "x/y.wasm", ldflags: "-s", tags: "prod", force: true, goCmd: "/opt/go/bin/go"}, ""},
		{"two packages", []string{"./a", "./b"}, options{}, "one package, got 2"},
		{"unknown flag", []string{"-x"}, options{}, "flag provided but not defined"},
		{"empty output", []string{"-o", ""}, options{}, "-o: empty output path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parse(%q) = %v, want an error with %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tc.args, err)
			}
			if got != tc.want {
				t.Errorf("parse(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}

// TestBuildArgs: the size flags by default, the runtime's inlining kept,
// the compiler's defaults on -gcflags=.
func TestBuildArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    options
		want []string
	}{
		{"defaults", options{pkg: "./cmd/web", gcflags: DefaultGCFlags, ldflags: DefaultLDFlags},
			[]string{"build", "-trimpath", "-ldflags=-s -w", "-gcflags=all=-l", "-gcflags=runtime=", "-o", "out.wasm", "./cmd/web"}},
		{"compiler defaults", options{pkg: ".", ldflags: DefaultLDFlags},
			[]string{"build", "-trimpath", "-ldflags=-s -w", "-gcflags=", "-o", "out.wasm", "."}},
		{"tags", options{pkg: ".", gcflags: DefaultGCFlags, ldflags: "", tags: "a,b"},
			[]string{"build", "-trimpath", "-ldflags=", "-gcflags=all=-l", "-gcflags=runtime=", "-tags=a,b", "-o", "out.wasm", "."}},
		{"go-app without its server half", options{pkg: ".", gcflags: DefaultGCFlags, ldflags: DefaultLDFlags, modfile: "/c/go.mod"},
			[]string{"build", "-trimpath", "-ldflags=-s -w", "-gcflags=all=-l", "-gcflags=runtime=", "-modfile=/c/go.mod", "-o", "out.wasm", "."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildArgs(tc.o, "out.wasm"); !slices.Equal(got, tc.want) {
				t.Errorf("buildArgs = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBuildAndServe runs the command (built as it ships, without the race
// detector, which makes brotli's best quality ten times slower) on a wasm
// main of its own (testdata/hello, no demo code), checks the bundle and its
// copies, builds again (the copies are kept), and serves the bundle with
// server/webapp: it goes out brotli and application/wasm, as the demo's.
func TestBuildAndServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	tool := filepath.Join(dir, "tether-build")
	if msg, err := exec.CommandContext(ctx, goCommand(), "build", "-o", tool, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build the command: %v\n%s", err, msg)
	}
	out := filepath.Join(dir, "web", "app.wasm")
	var stdout, stderr bytes.Buffer
	build := func() {
		t.Helper()
		stdout.Reset()
		stderr.Reset()
		cmd := exec.CommandContext(ctx, tool, "-o", out, "./testdata/hello")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("tether-build: %v\n%s%s", err, stdout.String(), stderr.String())
		}
	}
	build()
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("\x00asm")) {
		t.Fatalf("%s is not WebAssembly: starts %q", out, raw[:min(8, len(raw))])
	}
	if bytes.Contains(raw, []byte(".debug_info")) {
		t.Error("the bundle has DWARF: -ldflags=-s -w not applied")
	}
	br, err := os.ReadFile(out + ".br")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(brotli.NewReader(bytes.NewReader(br))); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("app.wasm.br does not decompress to app.wasm (err %v)", err)
	}
	gz, err := os.ReadFile(out + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("app.wasm.gz does not decompress to app.wasm (err %v)", err)
	}
	if len(br) >= len(raw)/2 {
		t.Errorf("brotli %d B of raw %d B: not compressed at its best", len(br), len(raw))
	}
	last := lastLine(stdout.String())
	if !strings.HasPrefix(last, "bundle "+out+": raw ") || !strings.Contains(last, "brotli ") {
		t.Errorf("the last line is %q, want the bundle's sizes", last)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 3 {
		t.Errorf("the output directory has %d entries, want app.wasm, .br, .gz (a temporary left behind?)", len(entries))
	}

	// Again: the same bundle, the copies are kept as they are.
	brInfo, err := os.Stat(out + ".br")
	if err != nil {
		t.Fatal(err)
	}
	build()
	if again, err := os.Stat(out + ".br"); err != nil || !again.ModTime().Equal(brInfo.ModTime()) {
		t.Errorf("the second build rewrote app.wasm.br (err %v): the brotli pass was not skipped", err)
	}

	h, err := webapp.New(webapp.Config{
		Handler: &app.Handler{Name: "Hello", Title: "Hello"},
		Dir:     filepath.Dir(out),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("webapp.New: %v", err)
	}
	r := httptest.NewRequest(http.MethodGet, webapp.WasmPath, nil)
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "br" || w.Header().Get("Content-Type") != "application/wasm" {
		t.Fatalf("GET %s: %d, Content-Encoding %q, Content-Type %q; want 200, br, application/wasm",
			webapp.WasmPath, w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Content-Type"))
	}
	if !bytes.Equal(w.Body.Bytes(), br) {
		t.Errorf("GET %s sent %d B, want the %d B of app.wasm.br", webapp.WasmPath, w.Body.Len(), len(br))
	}
	t.Logf("hello bundle: raw %d B, gzip %d B, brotli %d B", len(raw), len(gz), len(br))
}

// TestRefusesBadPackages: a library and a missing package fail before any
// build, saying why; nothing is written.
func TestRefusesBadPackages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tc := range []struct{ pkg, want string }{
		{"./testdata/notmain", "is package notmain, not a main package"},
		{"./testdata/missing", "package ./testdata/missing"},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "web", "app.wasm")
			err := run(ctx, []string{"-o", out, tc.pkg}, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("tether-build %s = %v, want an error with %q", tc.pkg, err, tc.want)
			}
			if _, err := os.Stat(filepath.Dir(out)); !os.IsNotExist(err) {
				t.Errorf("the output directory was created (%v)", err)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
