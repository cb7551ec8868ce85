package main

import (
	"bytes"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"text/template"
)

// scaffold is the app `tether new` writes: every file is a text/template
// named like its output with ".tmpl" added (gitignore.tmpl is .gitignore).
//
//go:embed all:scaffold
var scaffold embed.FS

// Versions the scaffold's go.mod requires; scaffold_test.go checks they are
// the kit's own (go.mod), so the new app builds with what the kit was
// tested with.
const (
	scaffoldGoVersion = "1.26.8"
	scaffoldGoApp     = "v10.1.11"
	scaffoldChromedp  = "v0.23.0"
)

// kitModule is the kit's module path.
const kitModule = "github.com/tetherkit/tether"

// newParams are the scaffold templates' data.
type newParams struct {
	Module     string // the app's module path
	Name       string // the app's name: the module path's last element
	KitVersion string // the kit version required
	KitDir     string // a local kit checkout to replace it with, or ""
	GoVersion  string
	GoApp      string
	Chromedp   string
}

// runNew is `tether new DIR -module PATH [-kit DIR]`: it writes a working
// app into DIR, a new module, and tidies its go.mod (go mod tidy).
func runNew(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tether new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tether new DIR -module PATH [-kit DIR]")
		fmt.Fprintln(stderr, "Writes a working Tether app into DIR (a new Go module): its message types,")
		fmt.Fprintln(stderr, "server, go-app page, browser test and Makefile. Then: cd DIR && make run")
		fs.PrintDefaults()
	}
	mod := fs.String("module", "", "the app's module path, e.g. example.com/board (required)")
	kit := fs.String("kit", "", "a local checkout of the kit to build against (adds a replace)")
	tidy := fs.Bool("tidy", true, "run go mod tidy in DIR (downloads the dependencies)")
	// DIR may come before the flags or after them.
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("new: want exactly one DIR, got %q", append([]string{dir}, fs.Args()...))
	}
	p, err := newParamsFor(*mod, *kit)
	if err != nil {
		return fmt.Errorf("new: %w", err)
	}
	if err := writeScaffold(dir, p); err != nil {
		return fmt.Errorf("new: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (module %s)\n", dir, p.Module)
	if *tidy {
		cmd := exec.Command("go", "mod", "tidy")
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("new: go mod tidy in %s: %w", dir, err)
		}
	}
	fmt.Fprintf(stdout, "next:\n    cd %s\n    make run        # then open http://127.0.0.1:8080\n    make test\n", dir)
	return nil
}

// modulePath is the shape of a module path -module accepts (go help
// importpath); nonName is what an app's name drops of its last element.
var modulePath = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~/-]*$`)

var nonName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newParamsFor checks the flags and fills the templates' data.
func newParamsFor(mod, kit string) (newParams, error) {
	if mod == "" {
		return newParams{}, errors.New("-module is required: the app's module path, e.g. example.com/board")
	}
	if !modulePath.MatchString(mod) || strings.Contains(mod, "//") || strings.HasSuffix(mod, "/") || slices.Contains(strings.Split(mod, "/"), "..") {
		return newParams{}, fmt.Errorf("-module %q is not a module path: want slash-separated elements of letters, digits and ._~-, e.g. example.com/board", mod)
	}
	name := nonName.ReplaceAllString(path.Base(mod), "")
	if name == "" {
		name = "app"
	}
	p := newParams{Module: mod, Name: name, GoVersion: scaffoldGoVersion, GoApp: scaffoldGoApp, Chromedp: scaffoldChromedp}
	if kit != "" {
		abs, err := filepath.Abs(kit)
		if err != nil {
			return newParams{}, fmt.Errorf("-kit %q: %w", kit, err)
		}
		gomod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
		if err != nil {
			return newParams{}, fmt.Errorf("-kit %q is not a checkout of the kit: %w", kit, err)
		}
		if !bytes.HasPrefix(bytes.TrimSpace(gomod), []byte("module "+kitModule+"\n")) {
			return newParams{}, fmt.Errorf("-kit %q: its go.mod is not module %s", kit, kitModule)
		}
		p.KitDir = filepath.ToSlash(abs)
		p.KitVersion = "v0.0.0-00010101000000-000000000000" // replaced
		return p, nil
	}
	// The kit this tether was built from, when it was built from a release.
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == kitModule && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		p.KitVersion = bi.Main.Version
		return p, nil
	}
	return newParams{}, errors.New("this tether was built from a checkout, not a release: give that checkout with -kit DIR")
}

// writeScaffold renders every template into dir, which must not exist or
// be empty.
func writeScaffold(dir string, p newParams) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return fs.WalkDir(scaffold, "scaffold", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(name, "scaffold/"), ".tmpl")
		if rel == "gitignore" {
			rel = ".gitignore"
		}
		src, err := scaffold.ReadFile(name)
		if err != nil {
			return err
		}
		t, err := template.New(rel).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, p); err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, out.Bytes(), 0o644)
	})
}
