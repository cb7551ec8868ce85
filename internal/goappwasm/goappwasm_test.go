package goappwasm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestModfileLeavesServerHalfOut: for this module (which requires go-app
// v10.1.11), Modfile gives a go.mod whose wasm build of a go-app program
// links neither net/http nor crypto/tls, while the module's own go.mod
// still does; a second call reuses the copy. (demo/cmd/tether-web's
// TestBundleBudget builds the program with it.)
func TestModfileLeavesServerHalfOut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cache := t.TempDir()
	cfg := Config{Dir: "../../demo/cmd/tether-web", Cache: cache}
	modfile, err := Modfile(ctx, cfg)
	if err != nil {
		t.Fatalf("Modfile: %v", err)
	}
	mod, err := os.ReadFile(modfile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "replace "+Module+" "+Version+" => "+cache) {
		t.Errorf("the go.mod has no replace of go-app by the copy under %s:\n%s", cache, mod)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(modfile), "go.sum")); err != nil {
		t.Errorf("no go.sum beside the go.mod: %v", err)
	}
	again, err := Modfile(ctx, cfg)
	if err != nil || again != modfile {
		t.Errorf("second Modfile = %q, %v; want %q again", again, err, modfile)
	}
	copies, _ := filepath.Glob(filepath.Join(cache, "go-app@*"))
	if len(copies) != 1 {
		t.Errorf("copies of go-app under the cache: %v, want one", copies)
	}

	deps := func(extra ...string) string {
		t.Helper()
		args := append([]string{"list", "-deps"}, append(extra, ".")...)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = cfg.Dir
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
		return "\n" + string(out)
	}
	if lean := deps("-modfile=" + modfile); strings.Contains(lean, "\nnet/http\n") || strings.Contains(lean, "\ncrypto/tls\n") {
		t.Errorf("with the modfile the wasm build still links net/http or crypto/tls")
	}
	if full := deps(); !strings.Contains(full, "\nnet/http\n") {
		t.Errorf("without the modfile the wasm build has no net/http: the module's go.mod should be untouched (upstream go-app)")
	}
}

// TestModfileSkips: a module without go-app, and one that replaces go-app
// itself, get ErrSkipped with the reason.
func TestModfileSkips(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name, gomod, want string
	}{
		{"no go-app", "module example.com/plain\n\ngo 1.23\n", "not a known dependency"},
		{"go-app replaced", "module example.com/own\n\ngo 1.23\n\nrequire " + Module + " " + Version + "\n\nreplace " + Module + " => ./goapp\n", "replaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tc.gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			goapp := filepath.Join(dir, "goapp")
			if err := os.MkdirAll(goapp, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(goapp, "go.mod"), []byte("module "+Module+"\n\ngo 1.23\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
			_, err := Modfile(ctx, Config{Dir: dir, Cache: t.TempDir(), Env: env})
			if !errors.Is(err, ErrSkipped) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Modfile = %v, want ErrSkipped saying %q", err, tc.want)
			}
		})
	}
}

// TestLeanCopyRefusesOtherSources: a go-app directory whose files are not
// v10.1.11's is not patched.
func TestLeanCopyRefusesOtherSources(t *testing.T) {
	src := t.TempDir()
	for name := range originals {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("package app\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := leanCopy(src, t.TempDir())
	if !errors.Is(err, ErrSkipped) || !strings.Contains(err.Error(), "is not "+Version) {
		t.Errorf("leanCopy of other sources = %v, want ErrSkipped saying they are not %s's", err, Version)
	}
}
