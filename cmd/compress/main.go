// Command compress writes precompressed copies of static files next to them:
// FILE.br (brotli, best quality) and FILE.gz (gzip, best compression). The
// web app handler (server/webapp) serves them by Accept-Encoding, so the
// server never compresses the wasm bundle per request.
//
//	go run ./cmd/compress web/app.wasm
//
// It prints one line per file: raw, gzip and brotli sizes in bytes. Brotli
// at its best quality takes half a minute for the wasm bundle, so a file
// whose compressed copies are already up to date is skipped (-f forces).
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: compress FILE...")
		flag.PrintDefaults()
	}
	force := flag.Bool("f", false, "compress even when the copies are up to date")
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	for _, name := range flag.Args() {
		sizes, err := compressFile(name, *force)
		if err != nil {
			fmt.Fprintln(os.Stderr, "compress:", err)
			os.Exit(1)
		}
		fmt.Printf("%s raw %d gzip %d brotli %d\n", name, sizes.raw, sizes.gzip, sizes.brotli)
	}
}

// sizes are the byte sizes of one file and its compressed copies.
type sizes struct{ raw, gzip, brotli int }

// compressFile writes name.br and name.gz, unless they are up to date.
func compressFile(name string, force bool) (sizes, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return sizes{}, fmt.Errorf("read: %w", err)
	}
	sum := sha256.Sum256(raw)
	tag := hex.EncodeToString(sum[:])
	if !force {
		if s, ok := upToDate(name, raw, tag); ok {
			return s, nil
		}
	}
	br, err := brotliBytes(raw)
	if err != nil {
		return sizes{}, fmt.Errorf("brotli %s: %w", name, err)
	}
	gz, err := gzipBytes(raw, tag)
	if err != nil {
		return sizes{}, fmt.Errorf("gzip %s: %w", name, err)
	}
	if err := writeAtomic(name+".br", br); err != nil {
		return sizes{}, err
	}
	// .gz last: its header names the content hash of both copies.
	if err := writeAtomic(name+".gz", gz); err != nil {
		return sizes{}, err
	}
	return sizes{raw: len(raw), gzip: len(gz), brotli: len(br)}, nil
}

// upToDate reports whether name.gz and name.br hold raw: the gzip header's
// comment is the content hash written with them, and the brotli copy
// decompresses to raw.
func upToDate(name string, raw []byte, tag string) (sizes, bool) {
	gz, err := os.ReadFile(name + ".gz")
	if err != nil {
		return sizes{}, false
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil || zr.Comment != tag {
		return sizes{}, false
	}
	br, err := os.ReadFile(name + ".br")
	if err != nil {
		return sizes{}, false
	}
	got, err := io.ReadAll(io.LimitReader(brotli.NewReader(bytes.NewReader(br)), int64(len(raw))+1))
	if err != nil || !bytes.Equal(got, raw) {
		return sizes{}, false
	}
	return sizes{raw: len(raw), gzip: len(gz), brotli: len(br)}, true
}

func gzipBytes(raw []byte, tag string) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	w.Comment = tag
	return finish(&b, w, raw)
}

func brotliBytes(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	// A 4 MiB window (LGWin 22) compresses the bundle a little better than
	// the largest one.
	w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 22})
	return finish(&b, w, raw)
}

func finish(b *bytes.Buffer, w io.WriteCloser, raw []byte) ([]byte, error) {
	if _, err := w.Write(raw); err != nil {
		return nil, errors.Join(err, w.Close())
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeAtomic replaces name with data so that a server reading the file never
// sees a half-written copy.
func writeAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
