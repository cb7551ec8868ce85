package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/api"
	"github.com/tetherkit/tether/shared"
)

// errNoNATS stands for a broker that cannot reach the other nodes.
var errNoNATS = errors.New("nats: connection closed")

// brokenHub is a Hub whose broker cannot reach the other nodes: this node
// does its part (one connection each), the rest fails.
type brokenHub struct {
	recordingHub
	ctxs []context.Context // the contexts the API passed, in order
}

func (h *brokenHub) SendToUser(ctx context.Context, _ string, _ shared.Message) (int, error) {
	h.ctxs = append(h.ctxs, ctx)
	return 1, errNoNATS
}
func (h *brokenHub) Broadcast(ctx context.Context, _ shared.Message) (int, error) {
	h.ctxs = append(h.ctxs, ctx)
	return 1, errNoNATS
}
func (h *brokenHub) Kick(ctx context.Context, _ string, _ server.KickOptions) (int, error) {
	h.ctxs = append(h.ctxs, ctx)
	return 1, errNoNATS
}
func (h *brokenHub) Presence(ctx context.Context, _ string) ([]shared.Member, error) {
	h.ctxs = append(h.ctxs, ctx)
	return nil, errNoNATS
}

// TestBrokerFailures: what the API answers when the broker cannot reach the
// other nodes. A presence it cannot know is 503 unavailable, never an empty
// list; a push or kick this node did is 200 with its own count and
// partial. Every call gets the request's context.
func TestBrokerFailures(t *testing.T) {
	hub := &brokenHub{}
	h, err := api.New(api.Config{Hub: hub, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // a JSON fragment of the answer
	}{
		{"presence", "GET", "/api/presence?room=lobby", "", http.StatusServiceUnavailable, `"code":"unavailable"`},
		{"push to a user", "POST", "/api/push", `{"target":{"kind":"user","id":"bob"},"type":"notification","data":{"title":"hi"}}`, http.StatusOK, `{"delivered":1,"partial":true}`},
		{"push to all", "POST", "/api/push", `{"target":{"kind":"all"},"type":"notification","data":{"title":"hi"}}`, http.StatusOK, `{"delivered":1,"partial":true}`},
		{"kick", "POST", "/api/kick", `{"user":"bob"}`, http.StatusOK, `{"closed":1,"partial":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var raw json.RawMessage
			if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.status || !strings.Contains(string(raw), tt.want) {
				t.Errorf("%s %s answered %d %s, want %d with %s", tt.method, tt.path, res.StatusCode, raw, tt.status, tt.want)
			}
		})
	}
	if len(hub.ctxs) != len(tests) {
		t.Fatalf("the hub was called %d times, want %d", len(hub.ctxs), len(tests))
	}
	for i, ctx := range hub.ctxs {
		if ctx.Err() == nil {
			t.Errorf("call %d: its context was not the request's (still live after the answer)", i)
		}
	}
}
