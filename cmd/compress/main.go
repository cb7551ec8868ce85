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
// cmd/tether-build compiles a wasm main and compresses it in one step.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tetherkit/tether/internal/precompress"
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
		s, err := precompress.File(name, *force)
		if err != nil {
			fmt.Fprintln(os.Stderr, "compress:", err)
			os.Exit(1)
		}
		fmt.Printf("%s raw %d gzip %d brotli %d\n", name, s.Raw, s.Gzip, s.Brotli)
	}
}
