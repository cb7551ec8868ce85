// Package precompress writes the precompressed copies of a file that
// server/webapp serves by Accept-Encoding: FILE.br (brotli, best quality)
// and FILE.gz (gzip, best compression). cmd/compress and cmd/tether-build
// use it.
//
// Brotli at its best quality takes tens of seconds for a wasm bundle, so
// File skips a file whose copies are already up to date: the gzip copy's
// header comment is the SHA-256 of the content it was made from, and the
// brotli copy must decompress to the same bytes.
package precompress

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

// Sizes are the byte sizes of one file and of its compressed copies.
type Sizes struct {
	// Raw is the file's own size.
	Raw int
	// Gzip is the size of FILE.gz.
	Gzip int
	// Brotli is the size of FILE.br.
	Brotli int
	// Skipped says the copies were already up to date and were kept.
	Skipped bool
}

// String is the one line the commands print: "raw 9.17 MB (9165735 B),
// gzip …, brotli …".
func (s Sizes) String() string {
	mb := func(n int) string { return fmt.Sprintf("%.2f MB (%d B)", float64(n)/1e6, n) }
	return "raw " + mb(s.Raw) + ", gzip " + mb(s.Gzip) + ", brotli " + mb(s.Brotli)
}

// File writes name.br and name.gz next to name, unless they are up to date
// and force is false. Each copy replaces the old one atomically, so a
// server reading them never sees half a file.
func File(name string, force bool) (Sizes, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return Sizes{}, fmt.Errorf("precompress: %w", err)
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
		return Sizes{}, fmt.Errorf("precompress: brotli %s: %w", name, err)
	}
	gz, err := gzipBytes(raw, tag)
	if err != nil {
		return Sizes{}, fmt.Errorf("precompress: gzip %s: %w", name, err)
	}
	if err := writeAtomic(name+".br", br); err != nil {
		return Sizes{}, err
	}
	// .gz last: its header names the content hash of both copies.
	if err := writeAtomic(name+".gz", gz); err != nil {
		return Sizes{}, err
	}
	return Sizes{Raw: len(raw), Gzip: len(gz), Brotli: len(br)}, nil
}

// upToDate reports whether name.gz and name.br hold raw: the gzip header's
// comment is the content hash written with them, and the brotli copy
// decompresses to raw.
func upToDate(name string, raw []byte, tag string) (Sizes, bool) {
	gz, err := os.ReadFile(name + ".gz")
	if err != nil {
		return Sizes{}, false
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil || zr.Comment != tag {
		return Sizes{}, false
	}
	br, err := os.ReadFile(name + ".br")
	if err != nil {
		return Sizes{}, false
	}
	got, err := io.ReadAll(io.LimitReader(brotli.NewReader(bytes.NewReader(br)), int64(len(raw))+1))
	if err != nil || !bytes.Equal(got, raw) {
		return Sizes{}, false
	}
	return Sizes{Raw: len(raw), Gzip: len(gz), Brotli: len(br), Skipped: true}, true
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
		return fmt.Errorf("precompress: write %s: %w", name, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("precompress: write %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("precompress: write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("precompress: write %s: %w", name, err)
	}
	return nil
}
