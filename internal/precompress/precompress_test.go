package precompress

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// sample is compressible content of a few kilobytes.
func sample(word string) []byte {
	return []byte(strings.Repeat(word+" is a word that repeats; ", 400))
}

// readCopies returns the decompressed .br and .gz copies of name.
func readCopies(t *testing.T, name string) (br, gz []byte) {
	t.Helper()
	b, err := os.ReadFile(name + ".br")
	if err != nil {
		t.Fatal(err)
	}
	if br, err = io.ReadAll(brotli.NewReader(bytes.NewReader(b))); err != nil {
		t.Fatalf("%s.br: %v", name, err)
	}
	g, err := os.ReadFile(name + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(g))
	if err != nil {
		t.Fatalf("%s.gz: %v", name, err)
	}
	if gz, err = io.ReadAll(zr); err != nil {
		t.Fatalf("%s.gz: %v", name, err)
	}
	return br, gz
}

// TestFile: the copies are written, kept while they match, rewritten when
// the file or a copy changed or on force; a missing file is an error.
func TestFile(t *testing.T) {
	for _, tc := range []struct {
		name      string
		between   func(t *testing.T, file string) // after the first File call
		force     bool
		wantSkip  bool
		wantFinal []byte
	}{
		{"unchanged: kept", func(*testing.T, string) {}, false, true, sample("first")},
		{"unchanged, forced: rewritten", func(*testing.T, string) {}, true, false, sample("first")},
		{"new content: rewritten", func(t *testing.T, f string) { write(t, f, sample("second")) }, false, false, sample("second")},
		{"damaged brotli copy: rewritten", func(t *testing.T, f string) { write(t, f+".br", []byte("junk")) }, false, false, sample("first")},
		{"gzip copy gone: rewritten", func(t *testing.T, f string) { os.Remove(f + ".gz") }, false, false, sample("first")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "app.wasm")
			write(t, file, sample("first"))
			s, err := File(file, false)
			if err != nil {
				t.Fatal(err)
			}
			if s.Skipped || s.Raw != len(sample("first")) || s.Brotli == 0 || s.Brotli >= s.Raw || s.Gzip >= s.Raw {
				t.Fatalf("first File = %+v", s)
			}
			tc.between(t, file)
			s, err = File(file, tc.force)
			if err != nil {
				t.Fatal(err)
			}
			if s.Skipped != tc.wantSkip {
				t.Errorf("Skipped = %v, want %v", s.Skipped, tc.wantSkip)
			}
			if s.Raw != len(tc.wantFinal) {
				t.Errorf("Raw = %d, want %d", s.Raw, len(tc.wantFinal))
			}
			br, gz := readCopies(t, file)
			if !bytes.Equal(br, tc.wantFinal) || !bytes.Equal(gz, tc.wantFinal) {
				t.Error("the copies do not hold the file's content")
			}
			if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 3 {
				t.Errorf("%d files in the directory, want 3 (a temporary left behind?)", len(entries))
			}
		})
	}

	if _, err := File(filepath.Join(t.TempDir(), "missing.wasm"), false); err == nil || !strings.Contains(err.Error(), "missing.wasm") {
		t.Errorf("File(missing) = %v, want an error naming the file", err)
	}
}

func TestSizesString(t *testing.T) {
	got := Sizes{Raw: 9165735, Gzip: 2221590, Brotli: 1597078}.String()
	want := "raw 9.17 MB (9165735 B), gzip 2.22 MB (2221590 B), brotli 1.60 MB (1597078 B)"
	if got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
