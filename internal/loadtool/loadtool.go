// Package loadtool is the command-line frame that the measuring tools
// (cmd/tether-load, cmd/tether-flap) share: main's signal handling and exit
// status, a flag set with the tools' usage text, and the check of the
// server's WebSocket URL.
package loadtool

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
)

// Main runs run with the command's arguments, a context that ends on
// Ctrl-C or SIGTERM (so a tool stopped early still prints what it
// measured), and the process's stdout and stderr. It then exits: 0 on
// success, 2 after -h (flag.ErrHelp: the usage was printed), 1 after any
// other error, printed on stderr as "name: error".
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// NewFlagSet returns an empty flag set for the command name that reports
// its errors, and its usage, on stderr; the usage is "Usage: name
// [flags]", then summary, then the flags with their defaults.
func NewFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\n%s\n\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args with fs and refuses any argument left after the flags.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// WebSocketURL parses raw, the value of the flag named flagName, as a
// server's WebSocket endpoint: a ws:// or wss:// URL with a host. The error
// names the flag and the value.
func WebSocketURL(flagName, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("-%s %q: want a ws:// or wss:// URL", flagName, raw)
	}
	return u, nil
}
