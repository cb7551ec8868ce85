// Package goappwasm lets a WebAssembly build link go-app v10.1.11 without
// its server half.
//
// go-app's pkg/app compiles its HTTP handler (http.go) and three resource
// resolvers that embed an http.Handler (LocalDir, PrefixedLocation,
// GitHubPages) on every platform, so every browser bundle links net/http
// and, through it, crypto/tls, crypto/x509, math/big and their package
// initialisers, none of which a browser runs: 2.0 MB of the Tether demo's
// 9.1 MB bundle, 0.36 MB of its 1.59 MB in brotli.
//
// Modfile makes, for one build, a copy of the go-app module from the module
// cache in which those parts carry a //go:build !wasm constraint (the files
// under v10.1.11/ here, nothing else changes), and a go.mod that is the
// module's own plus a replace of go-app by that copy, to pass to go build as
// -modfile. The module's go.mod keeps requiring upstream go-app v10.1.11:
// native builds (the server) and builds without -modfile use it as it is,
// and a module that imports the kit gets the same lighter bundle by
// building with cmd/tether-build (which calls Modfile). The copy is made only when the build
// list has go-app at exactly v10.1.11, not replaced, and its three patched
// files have v10.1.11's exact contents; otherwise Modfile returns an error
// wrapping ErrSkipped that says why, and the build goes on with go-app as it
// is.
//
// What a wasm build gives up: app.Handler, app.GenerateStaticWebsite,
// app.LocalDir, app.PrefixedLocation and app.GitHubPages are undefined under
// GOOS=js (a browser cannot run them); a file that names them must be
// //go:build !wasm.
package goappwasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Module and Version are the go-app release Modfile knows how to patch.
const (
	Module  = "github.com/maxence-charriere/go-app/v10"
	Version = "v10.1.11"
)

// ErrSkipped is wrapped by Modfile's error when the build should go on with
// go-app as it is (not in the build, another version, already replaced, a
// go.work workspace); the error says which.
var ErrSkipped = errors.New("goappwasm: go-app's server half stays in the bundle")

// patches are the files of pkg/app that the wasm build sees instead of
// v10.1.11's; http.go is v10.1.11's behind a //go:build !wasm line.
//
//go:embed v10.1.11/*.go.txt
var patches embed.FS

// originals are the SHA-256 sums of the v10.1.11 files the patches replace:
// a module cache holding anything else is not patched.
var originals = map[string]string{
	"pkg/app/http.go":     "0601189a9f611378e9b24ab4bdf42780a03cbf95c1bbebd4171b523ddbe9a32d",
	"pkg/app/resource.go": "6b52ab4ec2f4171d403384bffe159e9ec22699933e768ef5868f2851a1b84baa",
	"pkg/app/wasm.go":     "10117b07fb7147cdfcd97d1e07cd010da30914e2a622b73d0242b5d9019796f8",
}

// httpConstraint is put before v10.1.11's http.go.
const httpConstraint = "//go:build !wasm\n\n// Tether: go-app's HTTP handler is not in the wasm build.\n\n"

// Config says where the build runs.
type Config struct {
	// Dir is the directory go build runs in (inside the module whose
	// go.mod is used). Empty means the current directory.
	Dir string
	// Go is the go command. Empty means "go".
	Go string
	// Cache is where the patched copy and the generated go.mod are kept
	// between builds. Empty means tether/goappwasm under os.UserCacheDir.
	Cache string
	// Env is the environment of the go commands Modfile runs (GOOS=js and
	// GOARCH=wasm are added). Nil means os.Environ().
	Env []string
}

// Modfile prepares the build and returns the path of the go.mod to pass to
// go build as -modfile (its go.sum is beside it). An error wrapping
// ErrSkipped means: build without -modfile, go-app stays as it is.
func Modfile(ctx context.Context, cfg Config) (string, error) {
	if cfg.Go == "" {
		cfg.Go = "go"
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	cfg.Env = append(cfg.Env[:len(cfg.Env):len(cfg.Env)], "GOOS=js", "GOARCH=wasm")
	if cfg.Cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("goappwasm: no cache directory (set Config.Cache): %w", err)
		}
		cfg.Cache = filepath.Join(dir, "tether", "goappwasm")
	}

	var env struct{ GOMOD, GOWORK, GOFLAGS string }
	if err := goJSON(ctx, cfg, &env, "env", "-json", "GOMOD", "GOWORK", "GOFLAGS"); err != nil {
		return "", err
	}
	switch {
	case env.GOMOD == "" || env.GOMOD == os.DevNull:
		return "", fmt.Errorf("%w: %s is not in a module", ErrSkipped, cfg.Dir)
	case env.GOWORK != "" && env.GOWORK != "off":
		return "", fmt.Errorf("%w: a go.work workspace (%s) does not take -modfile", ErrSkipped, env.GOWORK)
	case strings.Contains(env.GOFLAGS, "-modfile"):
		return "", fmt.Errorf("%w: GOFLAGS names a -modfile already", ErrSkipped)
	}

	var mod struct {
		Version, Dir string
		Replace      *struct{ Path, Version string }
	}
	if err := goJSON(ctx, cfg, &mod, "list", "-m", "-json", Module); err != nil {
		return "", fmt.Errorf("%w: %v", ErrSkipped, err)
	}
	switch {
	case mod.Replace != nil:
		return "", fmt.Errorf("%w: go.mod replaces %s by %s", ErrSkipped, Module, strings.TrimSpace(mod.Replace.Path+" "+mod.Replace.Version))
	case mod.Version != Version:
		return "", fmt.Errorf("%w: the build has %s %s, not %s", ErrSkipped, Module, mod.Version, Version)
	}
	if mod.Dir == "" { // in the build list but not downloaded yet
		var dl struct{ Dir, Error string }
		if err := goJSON(ctx, cfg, &dl, "mod", "download", "-json", Module+"@"+Version); err != nil {
			return "", err
		}
		if dl.Dir == "" {
			return "", fmt.Errorf("goappwasm: download %s@%s: %s", Module, Version, dl.Error)
		}
		mod.Dir = dl.Dir
	}

	lean, err := leanCopy(mod.Dir, cfg.Cache)
	if err != nil {
		return "", err
	}
	return writeModfile(env.GOMOD, lean, cfg.Cache)
}

// leanCopy returns the directory of the patched copy of the go-app module
// at src, making it under cache unless it is there already.
func leanCopy(src, cache string) (string, error) {
	for name, want := range originals {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrSkipped, err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want {
			return "", fmt.Errorf("%w: %s in %s is not %s's", ErrSkipped, name, src, Version)
		}
	}
	dst := filepath.Join(cache, "go-app@"+Version+"-"+patchID())
	if _, err := os.Stat(filepath.Join(dst, "go.mod")); err == nil {
		return dst, nil // made by an earlier build: its files are immutable
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("goappwasm: %w", err)
	}
	tmp, err := os.MkdirTemp(cache, "copy-")
	if err != nil {
		return "", fmt.Errorf("goappwasm: %w", err)
	}
	defer os.RemoveAll(tmp) // left only when the rename below did not happen
	if err := copyModule(src, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if _, statErr := os.Stat(filepath.Join(dst, "go.mod")); statErr == nil {
			return dst, nil // another build made it meanwhile
		}
		return "", fmt.Errorf("goappwasm: %w", err)
	}
	return dst, nil
}

// copyModule copies the module's go.mod, LICENSE and non-test Go files under
// pkg/ to dst, with the patches applied. go.mod goes last: its presence
// marks a complete copy.
func copyModule(src, dst string) error {
	err := filepath.WalkDir(filepath.Join(src, "pkg"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch filepath.ToSlash(rel) {
		case "pkg/app/http.go":
			data = append([]byte(httpConstraint), data...)
		case "pkg/app/resource.go", "pkg/app/wasm.go":
			if data, err = patches.ReadFile(Version + "/" + name + ".txt"); err != nil {
				return err
			}
		}
		return writeFile(filepath.Join(dst, rel), data)
	})
	if err != nil {
		return fmt.Errorf("goappwasm: copy %s: %w", src, err)
	}
	server, err := patches.ReadFile(Version + "/resource_server.go.txt")
	if err != nil {
		return fmt.Errorf("goappwasm: %w", err)
	}
	if err := writeFile(filepath.Join(dst, "pkg", "app", "resource_server.go"), server); err != nil {
		return fmt.Errorf("goappwasm: %w", err)
	}
	for _, name := range []string{"LICENSE", "go.mod"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return fmt.Errorf("goappwasm: %w", err)
		}
		if err := writeFile(filepath.Join(dst, name), data); err != nil {
			return fmt.Errorf("goappwasm: %w", err)
		}
	}
	return nil
}

// writeModfile writes the module's go.mod with a replace of go-app by lean,
// and its go.sum beside it, under cache; it returns the go.mod's path.
func writeModfile(gomod, lean, cache string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("goappwasm: %w", err)
	}
	sum, err := os.ReadFile(strings.TrimSuffix(gomod, ".mod") + ".sum")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("goappwasm: %w", err)
	}
	var b bytes.Buffer
	b.Write(data)
	fmt.Fprintf(&b, "\n// Added for the wasm build by tether's goappwasm: go-app without its server half.\nreplace %s %s => %s\n", Module, Version, lean)
	// One file per module (its go.mod's path), rewritten by every build: a
	// build reads it at once.
	id := sha256.Sum256([]byte(gomod))
	dir := filepath.Join(cache, "mod-"+hex.EncodeToString(id[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("goappwasm: %w", err)
	}
	if err := writeFile(filepath.Join(dir, "go.sum"), sum); err != nil {
		return "", fmt.Errorf("goappwasm: %w", err)
	}
	modfile := filepath.Join(dir, "go.mod")
	if err := writeFile(modfile, b.Bytes()); err != nil {
		return "", fmt.Errorf("goappwasm: %w", err)
	}
	return modfile, nil
}

// patchID names the patches, so a change to them makes a new copy.
func patchID() string {
	h := sha256.New()
	h.Write([]byte(httpConstraint))
	entries, _ := patches.ReadDir(Version) // embedded: cannot fail
	for _, e := range entries {
		data, _ := patches.ReadFile(Version + "/" + e.Name())
		h.Write([]byte(e.Name()))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// writeFile writes data to name through a temporary file, so a reader never
// sees half of it.
func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), name)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

// goJSON runs the go command in cfg.Dir and decodes its JSON output into v.
func goJSON(ctx context.Context, cfg Config, v any, args ...string) error {
	cmd := exec.CommandContext(ctx, cfg.Go, args...)
	cmd.Dir, cmd.Env = cfg.Dir, cfg.Env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}
