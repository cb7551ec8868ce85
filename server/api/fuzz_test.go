package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/api"
	"github.com/tetherkit/tether/shared"
)

// recordingHub is a Hub that delivers nowhere and counts calls.
type recordingHub struct{ calls int }

func (h *recordingHub) Registry() *shared.Registry { return testmsg.NewRegistry() }

func (h *recordingHub) Send(context.Context, string, shared.Message) error {
	h.calls++
	return server.ErrNotFound
}
func (h *recordingHub) SendToUser(context.Context, string, shared.Message) (int, error) {
	h.calls++
	return 0, nil
}
func (h *recordingHub) Publish(context.Context, string, shared.Message) (uint64, int, error) {
	h.calls++
	return 1, 0, nil
}
func (h *recordingHub) Broadcast(context.Context, shared.Message) (int, error) {
	h.calls++
	return 0, nil
}
func (h *recordingHub) PublishEphemeral(context.Context, string, shared.Message) error {
	h.calls++
	return nil
}
func (h *recordingHub) Kick(context.Context, string, server.KickOptions) (int, error) {
	h.calls++
	return 0, nil
}
func (h *recordingHub) Presence(context.Context, string) ([]shared.Member, error) { return nil, nil }
func (h *recordingHub) Connections(context.Context) ([]server.ConnInfo, server.Coverage, error) {
	return nil, server.Coverage{Nodes: 1, Answered: 1}, nil
}
func (h *recordingHub) Stats(context.Context) (server.Stats, server.Coverage, error) {
	return server.Stats{}, server.Coverage{Nodes: 1, Answered: 1}, nil
}

// FuzzPushBody sends arbitrary bodies to POST /api/push. The handler must
// never panic, must answer 200 only for a body ParsePush accepts (and only
// then reach the hub), and must answer every refusal with a JSON error that
// has a code.
//
//	go test ./server/api -run '^$' -fuzz FuzzPushBody -fuzztime 60s
//
// Seeds are in testdata/fuzz/FuzzPushBody.
func FuzzPushBody(f *testing.F) {
	for _, s := range []string{
		`{"target":{"kind":"user","id":"alice"},"type":"notification","data":{"title":"hi"}}`,
		`{"target":{"kind":"room","id":"lobby"},"type":"chat.message","data":{"room":"lobby","user":"b","text":"x","time":1}}`,
		`{"target":{"kind":"all"},"type":"ticker.quote","data":{"symbol":"A","price":1}}`,
		`{"target":{"kind":"conn","id":"c1"},"type":"kicked","data":{"reason":"r"}}`,
		`{}`, `[]`, `null`, `{"target":null}`,
		`{"target":{"kind":"user","id":"alice"},"target":{"kind":"all"},"type":"notification","data":{"title":"hi"}}`,
		`{"target":{"kind":"all"},"type":"notification","data":{"title":"a","title":"b"}}`,
	} {
		f.Add([]byte(s))
	}
	hub := &recordingHub{}
	h, err := api.New(api.Config{Hub: hub, Rate: 1e9, Burst: 1 << 30})
	if err != nil {
		f.Fatal(err)
	}
	reg := testmsg.NewRegistry()
	f.Fuzz(func(t *testing.T, body []byte) {
		before := hub.calls
		req := httptest.NewRequest(http.MethodPost, "/api/push", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		var want api.PushRequest
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		valid := dec.Decode(&want) == nil && !dec.More() && shared.DuplicateKey(body, 0) == nil
		if valid {
			_, perr := api.ParsePush(reg, want)
			valid = perr == nil
		}
		reached := hub.calls != before
		switch {
		case rec.Code == http.StatusOK:
			if !valid || !reached {
				t.Fatalf("200 for body %q (valid %v, reached hub %v)", body, valid, reached)
			}
		default:
			if reached {
				t.Fatalf("status %d but the hub was called for body %q", rec.Code, body)
			}
			var eb api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
				t.Fatalf("status %d with body %q is not a JSON error: %v", rec.Code, rec.Body.String(), err)
			}
		}
	})
}
