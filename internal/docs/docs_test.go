package docs

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// marker names the file a README Go block is an excerpt of.
var marker = regexp.MustCompile(`^<!-- go: excerpt (\S+) -->$`)

// snippet is one Go block of the README.
type snippet struct {
	line  int    // of the opening fence
	file  string // what it is an excerpt of; "" when unmarked
	lines []string
}

func readmeSnippets(t *testing.T, name string) []snippet {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out  []snippet
		cur  *snippet
		prev string // the last non-blank line outside a block
		n    int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && line == "```go":
			cur = &snippet{line: n}
			if m := marker.FindStringSubmatch(prev); m != nil {
				cur.file = m[1]
			}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		case strings.TrimSpace(line) != "":
			prev = line
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadmeSnippets: every Go block of README.md says which file it is an
// excerpt of (an HTML comment before it, `<!-- go: excerpt PATH -->`), and
// its lines are that file's, in order; a line "…" stands for lines left
// out, and blank lines and indentation do not count. The files compile
// with the kit (go vet ./... and the scaffold's own test), so a snippet
// that still matches is one that works.
func TestReadmeSnippets(t *testing.T) {
	root := filepath.Join("..", "..")
	snippets := readmeSnippets(t, filepath.Join(root, "README.md"))
	if len(snippets) == 0 {
		t.Fatal("README.md has no Go block: did its fences change?")
	}
	for _, s := range snippets {
		if s.file == "" {
			t.Errorf("README.md:%d: a Go block without <!-- go: excerpt PATH --> before it", s.line)
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(s.file)))
		if err != nil {
			t.Errorf("README.md:%d: %v", s.line, err)
			continue
		}
		if line, ok := excerptOf(s.lines, strings.Split(string(src), "\n")); !ok {
			t.Errorf("README.md:%d: %q is not in %s (in order, after the lines before it): update the README or the marker", s.line+1+line, strings.TrimSpace(s.lines[line]), s.file)
		}
	}
}

// excerptOf reports whether the non-blank lines of snippet (but "…") are
// lines of file in the same order; when not, it returns the index of the
// first one that is not.
func excerptOf(snippet, file []string) (int, bool) {
	j := 0
	for i, l := range snippet {
		l = strings.TrimSpace(l)
		if l == "" || l == "…" {
			continue
		}
		for j < len(file) && strings.TrimSpace(file[j]) != l {
			j++
		}
		if j == len(file) {
			return i, false
		}
		j++
	}
	return 0, true
}

func TestExcerptOf(t *testing.T) {
	file := []string{"package p", "", "func f() {", "\treturn", "}"}
	for _, tt := range []struct {
		snippet []string
		ok      bool
		at      int
	}{
		{[]string{"func f() {", "…", "}"}, true, 0},
		{[]string{"  func f() {", "", "return"}, true, 0},
		{[]string{"}", "func f() {"}, false, 1}, // out of order
		{[]string{"func g() {"}, false, 0},
	} {
		at, ok := excerptOf(tt.snippet, file)
		if ok != tt.ok || (!ok && at != tt.at) {
			t.Errorf("excerptOf(%q) = %d, %v; want %d, %v", tt.snippet, at, ok, tt.at, tt.ok)
		}
	}
}
