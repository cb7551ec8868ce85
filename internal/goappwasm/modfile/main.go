// Command modfile prints the -modfile that links go-app v10.1.11 into a
// wasm build without its server half (package goappwasm), for a build run
// in the current directory; it prints nothing when go-app stays as it is,
// and says why on standard error. build.sh runs it:
//
//	modfile=$(go run ./internal/goappwasm/modfile)
//	GOOS=js GOARCH=wasm go build ${modfile:+-modfile="$modfile"} ...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/tetherkit/tether/internal/goappwasm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	modfile, err := goappwasm.Modfile(ctx, goappwasm.Config{})
	switch {
	case errors.Is(err, goappwasm.ErrSkipped):
		fmt.Fprintln(os.Stderr, err)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		stop()
		os.Exit(1)
	default:
		fmt.Println(modfile)
	}
}
