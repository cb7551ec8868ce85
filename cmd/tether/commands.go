package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tetherkit/tether/server/api"
)

// call is one API call, prepared by a subcommand from its flags.
type call func(ctx context.Context) (any, error)

// commands are the subcommands that call a running server's HTTP API: each
// registers its flags, parses args and returns the call to make.
var commands = map[string]func(c *api.Client, fs *flag.FlagSet, args []string) (call, error){
	"push":        cmdPush,
	"kick":        cmdKick,
	"presence":    cmdPresence,
	"connections": cmdConnections,
	"stats":       cmdStats,
}

// isCommand reports whether arg names a subcommand.
func isCommand(arg string) bool {
	_, ok := commands[arg]
	return ok
}

// runCommand runs the subcommand name and prints its JSON result to stdout.
func runCommand(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tether "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := getenv("TETHER_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	c := &api.Client{}
	fs.StringVar(&c.BaseURL, "url", base, "server address [TETHER_URL]")
	fs.StringVar(&c.Key, "key", getenv("TETHER_API_KEY"), "API key [TETHER_API_KEY]")
	timeout := fs.Duration("timeout", 10*time.Second, "request timeout")
	do, err := commands[name](c, fs, args)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := do(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

func cmdPush(c *api.Client, fs *flag.FlagSet, args []string) (call, error) {
	user := fs.String("user", "", "push to every connection of this user")
	room := fs.String("room", "", "publish to this room (kept in its history)")
	conn := fs.String("conn", "", "push to this connection id")
	all := fs.Bool("all", false, "push to every connection")
	typ := fs.String("type", "", "registered message type, e.g. notification")
	data := fs.String("data", "{}", "the message as JSON")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	var targets []api.Target
	for _, t := range []api.Target{{Kind: api.TargetUser, ID: *user}, {Kind: api.TargetRoom, ID: *room}, {Kind: api.TargetConn, ID: *conn}} {
		if t.ID != "" {
			targets = append(targets, t)
		}
	}
	if *all {
		targets = append(targets, api.Target{Kind: api.TargetAll})
	}
	if len(targets) != 1 {
		return nil, errors.New("name exactly one target: --user, --room, --conn or --all")
	}
	if *typ == "" {
		return nil, errors.New("--type is required, e.g. --type notification")
	}
	if !json.Valid([]byte(*data)) {
		return nil, fmt.Errorf("--data is not valid JSON: %s", *data)
	}
	return func(ctx context.Context) (any, error) {
		return c.PushRaw(ctx, targets[0], *typ, json.RawMessage(*data))
	}, nil
}

func cmdKick(c *api.Client, fs *flag.FlagSet, args []string) (call, error) {
	user := fs.String("user", "", "user to disconnect")
	reason := fs.String("reason", "", "reason shown to the user")
	ban := fs.Duration("ban", 0, "also refuse the user's handshakes for this long (e.g. 10m, 2h; at most 720h)")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if *user == "" {
		return nil, errors.New("--user is required")
	}
	if *ban < 0 {
		return nil, errors.New("--ban must not be negative")
	}
	req := api.KickRequest{User: *user, Reason: *reason}
	if *ban > 0 {
		req.Ban = ban.String()
	}
	return func(ctx context.Context) (any, error) {
		return c.Kick(ctx, req)
	}, nil
}

func cmdPresence(c *api.Client, fs *flag.FlagSet, args []string) (call, error) {
	room := fs.String("room", "", "room name")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if *room == "" {
		return nil, errors.New("--room is required")
	}
	return func(ctx context.Context) (any, error) {
		members, err := c.Presence(ctx, *room)
		return api.PresenceResponse{Room: *room, Members: members}, err
	}, nil
}

func cmdConnections(c *api.Client, fs *flag.FlagSet, args []string) (call, error) {
	offset := fs.Int("offset", 0, "index of the first connection")
	limit := fs.Int("limit", api.DefaultLimit, "page size (1–1000)")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return func(ctx context.Context) (any, error) { return c.Connections(ctx, *offset, *limit) }, nil
}

func cmdStats(c *api.Client, fs *flag.FlagSet, args []string) (call, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return func(ctx context.Context) (any, error) { return c.Stats(ctx) }, nil
}
