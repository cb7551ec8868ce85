//go:build !wasm

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/internal/goappwasm"
	"github.com/tetherkit/tether/internal/wasmsize"
)

// budgets is the most code each package group of the browser bundle may
// link, and the most data (read-only data, type descriptors and pc tables,
// which a wasm binary does not attribute to packages). A group's budget is
// its size when it was last measured plus a few per cent: a change that
// pulls in a new dependency, or grows one, fails TestBundleBudget, and
// whoever makes it either keeps it out of the browser or raises the budget
// on purpose, with the figures in the commit. The catch-all group, last,
// catches packages no other group names.
var budgets = []wasmsize.Group{
	// First, so that no group below claims its packages: what only a
	// server runs. go-app's HTTP handler brings all of it into a bundle
	// unless the build leaves it out (internal/goappwasm).
	{Name: "net/url (go-app, demo/ui)", Budget: 55_000, Prefixes: []string{"net/url", "net/netip"}},
	{Name: "server only: net, net/http, crypto/tls, x509, mime, compress", Budget: 0, Prefixes: []string{
		"net", "mime", "compress", "vendor", "crypto/tls", "crypto/x509", "crypto/ecdsa", "crypto/ecdh",
		"crypto/rsa", "crypto/ed25519", "crypto/elliptic", "crypto/internal/fips140/nistec",
		"crypto/internal/fips140/ecdsa", "crypto/internal/fips140/rsa", "crypto/internal/fips140/mlkem",
		"crypto/hpke", "encoding/asn1", "encoding/pem"}},
	{Name: "runtime (runtime, internal, sync, syscall/js, os, context…)", Budget: 1_780_000, Prefixes: []string{
		"runtime", "internal", "sync", "syscall", "os", "io", "errors", "unsafe",
		"weak", "unique", "iter", "math", "cmp", "context", "path"}},
	{Name: "go-app (with uuid)", Budget: 355_000, Prefixes: []string{
		"github.com/maxence-charriere/go-app/v10", "github.com/google/uuid", "database/sql/driver"}},
	{Name: "tether kit (client, shared, internal/fetch, internal/jsexc)", Budget: 475_000, Prefixes: []string{
		"github.com/tetherkit/tether/client", "github.com/tetherkit/tether/shared",
		"github.com/tetherkit/tether/internal/fetch", "github.com/tetherkit/tether/internal/jsexc"}},
	{Name: "demo (ui, msg)", Budget: 485_000, Prefixes: []string{
		"github.com/tetherkit/tether/demo"}},
	{Name: "encoding, reflect", Budget: 412_000, Prefixes: []string{
		"encoding", "reflect"}},
	{Name: "text (fmt, strconv, strings, unicode, regexp, slices…)", Budget: 675_000, Prefixes: []string{
		"fmt", "strconv", "strings", "bytes", "unicode", "regexp", "html", "sort",
		"slices", "maps", "bufio", "hash"}},
	{Name: "time", Budget: 160_000, Prefixes: []string{"time"}},
	{Name: "log, log/slog (client, demo/ui)", Budget: 106_000, Prefixes: []string{"log"}},
	{Name: "crypto (rand for ids, aes for go-app's storage)", Budget: 166_000, Prefixes: []string{"crypto"}},
	{Name: wasmsize.Linker, Budget: 103_000, Prefixes: []string{wasmsize.Linker}},
	{Name: "anything else", Budget: 0, Prefixes: []string{""}},
}

// dataBudget is the most the data section may hold.
const dataBudget = 2_970_000

// TestBundleBudget links the browser app as cmd/tether-build does (but keeping the
// function names, -ldflags=-w instead of -s -w: the code is the same), sums
// its code by package group and fails when a group outgrows its budget.
// `make size` runs it with -v, which prints the table.
func TestBundleBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("links the wasm bundle (half a minute or more): not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "app.wasm")
	// The flags and the go-app of cmd/tether-build, so the figures are the bundle's.
	var flags []string
	modfile, err := goappwasm.Modfile(ctx, goappwasm.Config{})
	switch {
	case err == nil:
		flags = append(flags, "-modfile="+modfile)
	case errors.Is(err, goappwasm.ErrSkipped):
		t.Log(err)
	default:
		t.Fatal(err)
	}
	goTool(ctx, t, append([]string{"build", "-trimpath", "-gcflags=all=-l", "-gcflags=runtime=", "-ldflags=-w", "-o", out}, append(flags, ".")...)...)
	deps := strings.Fields(goTool(ctx, t, append([]string{"list", "-deps"}, append(flags, ".")...)...))
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := wasmsize.Parse(wasm)
	if err != nil {
		t.Fatalf("parse the bundle: %v", err)
	}
	groups, unmatched := wasmsize.ByGroup(wasmsize.ByPackage(bin.Funcs, deps), budgets)
	if len(unmatched) > 0 {
		t.Errorf("packages in no group: %v", unmatched)
	}

	var table strings.Builder
	fmt.Fprintf(&table, "bundle (names kept) %d B: code %d B, data %d B, other %d B\n", bin.Size, bin.Code, bin.Data, bin.Other)
	fmt.Fprintf(&table, "%-55s %9s %9s\n", "code by package group", "bytes", "budget")
	for _, g := range groups {
		fmt.Fprintf(&table, "%-55s %9d %9d   %s\n", g.Name, g.Code, g.Budget, top(g.Packages, 4))
		if g.Code > g.Budget {
			t.Errorf("package group %q links %d B of code, over its %d B budget; its largest packages: %s",
				g.Name, g.Code, g.Budget, top(g.Packages, 8))
		}
	}
	fmt.Fprintf(&table, "%-55s %9d %9d\n", "data section (not attributable)", bin.Data, dataBudget)
	t.Log("\n" + table.String())
	if bin.Data > dataBudget {
		t.Errorf("the data section is %d B, over its %d B budget", bin.Data, dataBudget)
	}
}

// top lists the first n packages with their sizes in KB.
func top(p []wasmsize.PackageSize, n int) string {
	var parts []string
	for i, s := range p {
		if i == n {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0fK", s.Path, float64(s.Code)/1e3))
	}
	return strings.Join(parts, ", ")
}

// goTool runs the go command for js/wasm in this directory and returns its
// standard output.
func goTool(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
