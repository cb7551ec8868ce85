// Command tether-build builds the browser half of a go-app app: it compiles
// a main package to WebAssembly with the flags that make the bundle small,
// then writes the precompressed copies (app.wasm.br, app.wasm.gz) that
// server/webapp serves by Accept-Encoding. Run it from the app's module:
//
//	go run github.com/tetherkit/tether/cmd/tether-build -o web/app.wasm ./cmd/web
//
// or, with `tool github.com/tetherkit/tether/cmd/tether-build` in go.mod,
// `go tool tether-build -o web/app.wasm ./cmd/web`. The demo's build.sh
// runs it for ./demo/cmd/tether-web.
//
// The build is
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" \
//		-gcflags=all=-l -gcflags=runtime= -o OUT PACKAGE
//
// -s -w drop the symbol table and DWARF; all=-l turns off inlining outside
// the runtime (inlined copies of small functions make the bundle bigger and
// compress worse; a UI is not CPU-bound). -gcflags and -ldflags replace
// these defaults; -gcflags= (empty) restores the compiler's. The bundle is
// written whole or not at all, and the slow brotli pass is skipped when the
// copies already hold the new bundle (-f forces it). The last line printed
// is the bundle's sizes, raw, gzip and brotli.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/tetherkit/tether/internal/goappwasm"
	"github.com/tetherkit/tether/internal/precompress"
)

// Defaults of the flags.
const (
	// DefaultOutput is where the bundle goes: server/webapp's default
	// directory (webapp.DefaultDir) and name.
	DefaultOutput = "web/app.wasm"
	// DefaultGCFlags turns off inlining outside the runtime.
	DefaultGCFlags = "all=-l"
	// DefaultLDFlags strips the symbol table and the debug information.
	DefaultLDFlags = "-s -w"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var usage usageError
	switch {
	case errors.As(err, &usage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "tether-build:", err)
		os.Exit(1)
	}
}

// options are one build's settings, from the command line.
type options struct {
	pkg     string // the main package, as go build takes it
	out     string // the bundle's path
	gcflags string
	ldflags string
	tags    string
	force   bool   // compress even when the copies are up to date
	goCmd   string // the go command
	// keepGoApp links go-app as it is, its HTTP handler included.
	keepGoApp bool
	// modfile is go build's -modfile: go-app without its server half
	// (internal/goappwasm); empty when go-app stays as it is.
	modfile string
}

// usageError is a bad command line; the usage is printed already.
type usageError struct{ error }

// parse reads the command line.
func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("tether-build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.out, "o", DefaultOutput, "the bundle `file`; FILE.br and FILE.gz are written beside it")
	fs.StringVar(&o.gcflags, "gcflags", DefaultGCFlags, "go build -gcflags for all packages (the runtime keeps the compiler's defaults); empty: the compiler's defaults")
	fs.StringVar(&o.ldflags, "ldflags", DefaultLDFlags, "go build -ldflags")
	fs.StringVar(&o.tags, "tags", "", "go build -tags")
	fs.BoolVar(&o.force, "f", false, "compress even when the compressed copies are up to date")
	fs.StringVar(&o.goCmd, "go", goCommand(), "the go `command`; $GO when set")
	fs.BoolVar(&o.keepGoApp, "keep-goapp-server", false, "link go-app v10.1.11 as it is, with its HTTP handler (net/http, crypto/tls: about 2 MB raw, 0.36 MB brotli); by default the build leaves it out")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tether-build [flags] [PACKAGE]\n\n"+
			"Compiles the main PACKAGE (default .) to WebAssembly with the size flags\n"+
			"and precompresses it (brotli, gzip) for server/webapp. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, usageError{err}
	}
	switch fs.NArg() {
	case 0:
		o.pkg = "."
	case 1:
		o.pkg = fs.Arg(0)
	default:
		fs.Usage()
		return options{}, usageError{fmt.Errorf("one package, got %d: %s", fs.NArg(), strings.Join(fs.Args(), " "))}
	}
	if o.out == "" {
		return options{}, errors.New("-o: empty output path")
	}
	return o, nil
}

// goCommand is $GO when set (as make passes it), else go from $PATH.
func goCommand() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// buildArgs are the go build arguments writing o's package to out.
func buildArgs(o options, out string) []string {
	args := []string{"build", "-trimpath", "-ldflags=" + o.ldflags, "-gcflags=" + o.gcflags}
	if o.gcflags != "" {
		// The runtime's inlining is worth its bytes.
		args = append(args, "-gcflags=runtime=")
	}
	if o.tags != "" {
		args = append(args, "-tags="+o.tags)
	}
	if o.modfile != "" {
		args = append(args, "-modfile="+o.modfile)
	}
	return append(args, "-o", out, o.pkg)
}

// run builds, compresses and prints the sizes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if err := checkMain(ctx, o); err != nil {
		return err
	}
	if o.modfile, err = leanGoApp(ctx, o, stderr); err != nil {
		return err
	}
	dir := filepath.Dir(o.out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	// go build writes into a fresh directory beside the bundle, then the
	// bundle is renamed into place: a server starting meanwhile reads the
	// old bundle or the new one, never half of one.
	tmp, err := os.MkdirTemp(dir, ".tether-build-*")
	if err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	built := filepath.Join(tmp, filepath.Base(o.out))
	fmt.Fprintf(stdout, "» %s (GOOS=js GOARCH=wasm %s)\n", o.out, o.pkg)
	if err := goRun(ctx, o, stderr, stderr, buildArgs(o, built)...); err != nil {
		return fmt.Errorf("go build %s: %w", o.pkg, err)
	}
	if err := os.Rename(built, o.out); err != nil {
		return fmt.Errorf("install the bundle: %w", err)
	}
	sizes, err := precompress.File(o.out, o.force)
	if err != nil {
		return err
	}
	note := ""
	if sizes.Skipped {
		note = " (compressed copies were up to date)"
	}
	fmt.Fprintf(stdout, "bundle %s: %s%s\n", o.out, sizes, note)
	return nil
}

// leanGoApp returns the -modfile with which the bundle links go-app v10.1.11
// without its HTTP handler and, through it, net/http and crypto/tls
// (package goappwasm), or "" when go-app stays as it is (-keep-goapp-server,
// another go-app version, go-app replaced in go.mod, a go.work), saying why
// on stderr.
func leanGoApp(ctx context.Context, o options, stderr io.Writer) (string, error) {
	if o.keepGoApp {
		return "", nil
	}
	modfile, err := goappwasm.Modfile(ctx, goappwasm.Config{Go: o.goCmd})
	if errors.Is(err, goappwasm.ErrSkipped) {
		fmt.Fprintf(stderr, "tether-build: note: %v\n", err)
		return "", nil
	}
	return modfile, err
}

// checkMain refuses a package that is not a main package for js/wasm, with
// go list's own words when it is no package at all.
func checkMain(ctx context.Context, o options) error {
	var out, msg bytes.Buffer
	args := []string{"list", "-f", "{{.Name}}"}
	if o.tags != "" {
		args = append(args, "-tags="+o.tags)
	}
	if err := goRun(ctx, o, &out, &msg, append(args, o.pkg)...); err != nil {
		return fmt.Errorf("package %s: %s (go list: %w)", o.pkg, strings.TrimSpace(msg.String()), err)
	}
	if name := strings.TrimSpace(out.String()); name != "main" {
		return fmt.Errorf("package %s is package %s, not a main package: build the wasm main (the one that calls app.RunWhenOnBrowser)", o.pkg, name)
	}
	return nil
}

// goRun runs the go command for js/wasm.
func goRun(ctx context.Context, o options, stdout, stderr io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, o.goCmd, args...)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	return cmd.Run()
}
