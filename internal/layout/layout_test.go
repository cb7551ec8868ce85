package layout

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// module is the kit's module path.
const module = "github.com/tetherkit/tether"

// apps are the trees of programs that use the kit: nothing of the kit may
// import them.
var apps = []string{module + "/demo", module + "/examples", module + "/cmd"}

// isApp reports whether pkg is in one of the apps' trees.
func isApp(pkg string) bool {
	for _, a := range apps {
		if pkg == a || strings.HasPrefix(pkg, a+"/") {
			return true
		}
	}
	return false
}

// TestKitImportsNoApp lists every package of the module with its tests and
// their dependencies (go list -deps -test) and fails for each kit package
// that depends on the demo, an example or a command. It checks the wasm
// build too: the browser client must not drag the demo in either.
func TestKitImportsNoApp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	root := moduleRoot(t)
	for _, goos := range []struct{ os, arch string }{{"", ""}, {"js", "wasm"}} {
		cmd := exec.Command("go", "list", "-e", "-test", "-f", "{{.ImportPath}}|{{join .Deps \" \"}}", "./...")
		cmd.Dir = root
		cmd.Env = os.Environ()
		if goos.os != "" {
			cmd.Env = append(cmd.Env, "GOOS="+goos.os, "GOARCH="+goos.arch)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list (GOOS=%s): %v\n%s", goos.os, err, stderr.String())
		}
		kit := 0
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			pkg, deps, _ := strings.Cut(sc.Text(), "|")
			name, _, _ := strings.Cut(pkg, " ") // "p [p.test]" is p's test variant
			name = strings.TrimSuffix(name, ".test")
			name = strings.TrimSuffix(name, "_test")
			if isApp(name) {
				continue
			}
			kit++
			for _, d := range strings.Fields(deps) {
				if isApp(d) {
					t.Errorf("GOOS=%s: the kit's %s depends on %s, a program of the kit's users", goos.os, pkg, d)
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if kit < 10 {
			t.Fatalf("GOOS=%s: go list found %d kit packages; the check saw nothing:\n%s", goos.os, kit, out)
		}
	}
}

// moduleRoot is the directory of go.mod, two levels above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s: %v", dir, err)
	}
	return dir
}
