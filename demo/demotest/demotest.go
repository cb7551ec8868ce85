// Package demotest is test support for the demo's packages, on top of the
// kit's internal/tethertest: a server running the demo's backend with the
// demo's registry, and clients that decode the demo's types.
package demotest

import (
	"context"
	"testing"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/backend"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
)

// NewServer is tethertest.NewServer running the demo's backend with demo
// (WithDemo); a nil cfg.Registry is the demo's (msg.NewRegistry).
func NewServer(t testing.TB, cfg server.Config, demo backend.Config, setup ...func(*tethertest.Server)) *tethertest.Server {
	t.Helper()
	if cfg.Registry == nil {
		cfg.Registry = msg.NewRegistry()
	}
	if cfg.LastValues == nil {
		cfg.LastValues = backend.LastValues()
	}
	return tethertest.NewServer(t, cfg, append([]func(*tethertest.Server){WithDemo(demo)}, setup...)...)
}

// WithDemo is a tethertest.NewServer setup that installs the demo's
// handlers and feed (backend.Register with cfg) and stops the feed, waiting
// for it, before the server shuts down. The server's registry must know the
// demo's types (msg.Register).
func WithDemo(cfg backend.Config) func(*tethertest.Server) {
	return func(s *tethertest.Server) {
		ctx, cancel := context.WithCancel(context.Background())
		done := backend.Register(ctx, s.Server, cfg)
		s.Cleanup(func() { cancel(); <-done })
	}
}

// NewClient is tethertest.NewClient; a nil cfg.Registry is the demo's
// (msg.NewRegistry).
func NewClient(t testing.TB, cfg client.Config) *client.Client {
	t.Helper()
	if cfg.Registry == nil {
		cfg.Registry = msg.NewRegistry()
	}
	return tethertest.NewClient(t, cfg)
}
