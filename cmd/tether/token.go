package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tetherkit/tether/server/auth"
)

// runToken is "tether token": it prints a connection token signed with the
// server's secret, for a bot or a service that connects as a client
// (Authorization: Bearer <token>). It needs the secret the server runs with.
func runToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tether token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: tether token --user ID [--name NAME] [--ttl DURATION]

Prints a connection token for user ID, signed with the server's secret
(-secret or TETHER_SECRET, the same as the server's), for a bot or service
that connects with "Authorization: Bearer <token>". A server started without
a secret signs with a random one, which no token from here matches.

`)
		fs.PrintDefaults()
	}
	user := fs.String("user", "", "user id: 1–64 characters of [A-Za-z0-9._-] (required)")
	name := fs.String("name", "", "display name; empty → the user id")
	ttlText := fs.String("ttl", auth.DefaultTTL.String(), "how long the token is valid, at least 1m: a duration with its unit (e.g. 30m, 24h, 720h)")
	secret := fs.String("secret", getenv("TETHER_SECRET"), "the server's token signing secret [TETHER_SECRET]")
	if err := parse(fs, args); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	ttl, err := time.ParseDuration(*ttlText)
	if err != nil {
		return fmt.Errorf("token: --ttl %q: a duration needs its unit, e.g. 30m or 24h", *ttlText)
	}
	switch {
	case *user == "":
		return errors.New("token: --user is required")
	case *secret == "":
		return errors.New("token: no secret: pass -secret or set TETHER_SECRET to the secret the server runs with")
	case ttl < time.Minute:
		return fmt.Errorf("token: --ttl %s is shorter than 1m", ttl)
	}
	a, err := auth.New(auth.Config{Secret: []byte(*secret), TTL: ttl})
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	token, exp, err := a.Issue(*user, *name)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(stdout, token)
	fmt.Fprintf(stderr, "token for %s, valid until %s\n", *user, exp.UTC().Format(time.RFC3339))
	return nil
}
