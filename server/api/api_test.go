package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
	"golang.org/x/time/rate"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/api"
	"github.com/tetherkit/tether/shared"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParsePush(t *testing.T) {
	reg := testmsg.NewRegistry()
	tests := []struct {
		name  string
		body  string
		code  string
		field string
	}{
		{"user notification", `{"target":{"kind":"user","id":"alice"},"type":"notification","data":{"title":"hi"}}`, "", ""},
		{"all", `{"target":{"kind":"all"},"type":"notification","data":{"title":"hi"}}`, "", ""},
		{"room", `{"target":{"kind":"room","id":"lobby"},"type":"chat.message","data":{"room":"lobby","user":"bot","text":"x","time":1}}`, "", ""},
		{"no kind", `{"target":{},"type":"notification","data":{"title":"hi"}}`, shared.CodeBadData, "target.kind"},
		{"bad kind", `{"target":{"kind":"planet"},"type":"notification","data":{"title":"hi"}}`, shared.CodeBadData, "target.kind"},
		{"user without id", `{"target":{"kind":"user"},"type":"notification","data":{"title":"hi"}}`, shared.CodeBadData, "target.id"},
		{"room with bad name", `{"target":{"kind":"room","id":"a b"},"type":"notification","data":{"title":"hi"}}`, shared.CodeBadData, "target.id"},
		{"all with id", `{"target":{"kind":"all","id":"x"},"type":"notification","data":{"title":"hi"}}`, shared.CodeBadData, "target.id"},
		{"no type", `{"target":{"kind":"all"},"data":{"title":"hi"}}`, shared.CodeBadData, "type"},
		{"unknown type", `{"target":{"kind":"all"},"type":"nope","data":{}}`, shared.CodeUnknownType, "type"},
		{"missing title", `{"target":{"kind":"all"},"type":"notification","data":{"body":"b"}}`, shared.CodeBadData, "data.title"},
		{"wrong field type", `{"target":{"kind":"all"},"type":"ticker.quote","data":{"symbol":"A","price":"x"}}`, shared.CodeBadData, "data.price"},
		{"unknown data field", `{"target":{"kind":"all"},"type":"notification","data":{"title":"t","colour":"red"}}`, shared.CodeBadData, "data.colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req api.PushRequest
			if err := json.Unmarshal([]byte(tt.body), &req); err != nil {
				t.Fatal(err)
			}
			m, err := api.ParsePush(reg, req)
			if tt.code == "" {
				if err != nil || m == nil || m.MessageType() != req.Type {
					t.Fatalf("ParsePush = %v, %v; want a %s", m, err, req.Type)
				}
				return
			}
			var e *shared.Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Field != tt.field {
				t.Fatalf("ParsePush error = %v, want code %s field %s", err, tt.code, tt.field)
			}
		})
	}
}

// stack is a real server with the API in front, on 127.0.0.1.
type stack struct {
	*tethertest.Server
}

func newStack(t *testing.T, cfg api.Config) *stack {
	t.Helper()
	return &stack{tethertest.NewServer(t, server.Config{}, func(s *tethertest.Server) {
		cfg.Hub = s.Server
		h, err := api.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Mux.Handle("/api/", h)
	})}
}

// connect runs a native client for user and returns the notifications it
// receives.
func (s *stack) connect(t *testing.T, user string) (*client.Client, <-chan testmsg.Notification) {
	t.Helper()
	c := tethertest.NewClient(t, client.Config{URL: s.URL(user)})
	got := make(chan testmsg.Notification, 16)
	client.On(c, func(n testmsg.Notification) { got <- n })
	tethertest.Run(t, c)
	return c, got
}

func TestPushReachesTheRightUsers(t *testing.T) {
	s := newStack(t, api.Config{})
	_, alice := s.connect(t, "alice")
	_, bob := s.connect(t, "bob")
	ac := &api.Client{BaseURL: s.HTTP.URL}
	ctx := context.Background()

	res, err := ac.Push(ctx, api.Target{Kind: api.TargetUser, ID: "alice"}, testmsg.Notification{Title: "for alice"})
	if err != nil || res.Delivered != 1 {
		t.Fatalf("push to alice = %+v, %v; want delivered 1", res, err)
	}
	expectNote(t, alice, "for alice")
	res, err = ac.Push(ctx, api.Target{Kind: api.TargetAll}, testmsg.Notification{Title: "for all"})
	if err != nil || res.Delivered != 2 {
		t.Fatalf("push to all = %+v, %v; want delivered 2", res, err)
	}
	expectNote(t, bob, "for all") // bob's first: the alice-only push never reached him
	expectNote(t, alice, "for all")

	res, err = ac.Push(ctx, api.Target{Kind: api.TargetUser, ID: "nobody"}, testmsg.Notification{Title: "x"})
	if err != nil || res.Delivered != 0 {
		t.Fatalf("push to an offline user = %+v, %v; want delivered 0 and no error", res, err)
	}
	res, err = ac.Push(ctx, api.Target{Kind: api.TargetConn, ID: "no-such-conn"}, testmsg.Notification{Title: "x"})
	if err != nil || res.Delivered != 0 {
		t.Fatalf("push to a missing conn = %+v, %v; want delivered 0 and no error", res, err)
	}
}

func expectNote(t *testing.T, ch <-chan testmsg.Notification, title string) {
	t.Helper()
	if n := tethertest.Receive(t, ch, fmt.Sprintf("notification %q", title)); n.Title != title {
		t.Fatalf("got notification %q, want %q", n.Title, title)
	}
}

func TestKickAndReads(t *testing.T) {
	s := newStack(t, api.Config{})
	c, _ := s.connect(t, "mallory")
	if _, err := c.Join(context.Background(), "lobby", 0); err != nil {
		t.Fatal(err)
	}
	ac := &api.Client{BaseURL: s.HTTP.URL}
	ctx := context.Background()
	members, err := ac.Presence(ctx, "lobby")
	if err != nil || len(members) != 1 || members[0].User != "mallory" {
		t.Fatalf("presence = %v, %v", members, err)
	}
	page, err := ac.Connections(ctx, 0, 10)
	if err != nil || page.Total != 1 || len(page.Connections) != 1 || page.Connections[0].User != "mallory" {
		t.Fatalf("connections = %+v, %v", page, err)
	}
	stats, err := ac.Stats(ctx)
	if err != nil || stats["connections"] != float64(1) {
		t.Fatalf("stats = %v, %v", stats, err)
	}
	kick, err := ac.Kick(ctx, api.KickRequest{User: "mallory", Reason: "spam"})
	if err != nil || kick.Closed != 1 || kick.BannedUntil != nil || kick.Partial {
		t.Fatalf("kick = %+v, %v; want 1 closed, no ban, not partial", kick, err)
	}
	tethertest.WaitUntil(t, "the kicked client is closed", func() bool { return c.State().State == client.Closed })
	if st := c.State(); st.CloseCode != shared.CloseKicked || st.Reason != "spam" {
		t.Fatalf("kicked client close = %d %q, want %d %q", st.CloseCode, st.Reason, shared.CloseKicked, "spam")
	}
}

func TestHTTPErrors(t *testing.T) {
	s := newStack(t, api.Config{})
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		code, field                     string
	}{
		{"unknown type", "POST", "/api/push", "application/json", `{"target":{"kind":"all"},"type":"nope","data":{}}`, 400, "unknown_type", "type"},
		{"bad data names field", "POST", "/api/push", "application/json", `{"target":{"kind":"all"},"type":"notification","data":{"body":"x"}}`, 400, "bad_data", "data.title"},
		{"not json", "POST", "/api/push", "application/json", `{`, 400, "malformed", ""},
		{"unknown body field", "POST", "/api/push", "application/json", `{"to":"x"}`, 400, "malformed", "to"},
		{"target twice", "POST", "/api/push", "application/json", `{"target":{"kind":"user","id":"alice"},"target":{"kind":"all"},"type":"notification","data":{"title":"t"}}`, 400, "malformed", "target"},
		{"target.kind twice", "POST", "/api/push", "application/json", `{"target":{"kind":"user","kind":"all","id":"a"},"type":"notification","data":{"title":"t"}}`, 400, "malformed", "target.kind"},
		{"type twice", "POST", "/api/push", "application/json", `{"target":{"kind":"all"},"type":"notification","type":"kicked","data":{"title":"t"}}`, 400, "malformed", "type"},
		{"data key twice", "POST", "/api/push", "application/json", `{"target":{"kind":"all"},"type":"notification","data":{"title":"a","title":"b"}}`, 400, "bad_data", "data.title"},
		{"kick user twice", "POST", "/api/kick", "application/json", `{"user":"a","user":"b"}`, 400, "malformed", "user"},
		{"wrong content type", "POST", "/api/push", "text/plain", `{}`, 415, "malformed", ""},
		{"too big", "POST", "/api/push", "application/json", `{"type":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "malformed", ""},
		{"kick without user", "POST", "/api/kick", "application/json", `{"reason":"x"}`, 400, "bad_data", "user"},
		{"presence without room", "GET", "/api/presence", "", ``, 400, "bad_data", "room"},
		{"bad limit", "GET", "/api/connections?limit=0", "", ``, 400, "bad_data", "limit"},
		{"wrong method", "GET", "/api/push", "", ``, 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.HTTP.URL+tt.path, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d (%s), want %d", res.StatusCode, raw, tt.status)
			}
			if tt.code == "" {
				return
			}
			var eb api.ErrorBody
			if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code != tt.code || eb.Error.Field != tt.field {
				t.Fatalf("body = %s, want code %s field %q", raw, tt.code, tt.field)
			}
		})
	}
}

func TestKeysAndRateLimit(t *testing.T) {
	const key = "0123456789abcdef-good"
	s := newStack(t, api.Config{Keys: []string{"another-key-0123456789", key}, Rate: rate.Every(time.Hour), Burst: 2})
	ctx := context.Background()
	tests := []struct {
		name   string
		key    string
		status int
	}{
		{"no key", "", 401},
		{"wrong key", "0123456789abcdef-bad!", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&api.Client{BaseURL: s.HTTP.URL, Key: tt.key}).Stats(ctx)
			var ae *api.APIError
			if !errors.As(err, &ae) || ae.Status != tt.status {
				t.Fatalf("Stats with key %q: %v, want status %d", tt.key, err, tt.status)
			}
		})
	}
	good := &api.Client{BaseURL: s.HTTP.URL, Key: key}
	for i := range 2 {
		if _, err := good.Stats(ctx); err != nil {
			t.Fatalf("request %d within burst: %v", i, err)
		}
	}
	req, _ := http.NewRequest("GET", s.HTTP.URL+"/api/stats", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: status %d Retry-After %q, want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
}

func TestNewRejectsShortKeys(t *testing.T) {
	srv, err := server.New(server.Config{Authenticate: server.InsecureQueryIdentity})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if _, err := api.New(api.Config{Hub: srv, Keys: []string{"short"}}); err == nil {
		t.Fatal("api.New accepted a 5-character key")
	}
}

// TestNewRefusesMeaninglessConfig: a negative Burst or MaxBody is refused
// with an error naming it instead of being replaced by the default; a
// negative Rate means unlimited, as documented.
func TestNewRefusesMeaninglessConfig(t *testing.T) {
	srv := tethertest.NewServer(t, server.Config{}).Server
	for _, tt := range []struct {
		name string
		cfg  api.Config
		want string // "" means accepted
	}{
		{"zero value", api.Config{}, ""},
		{"unlimited rate", api.Config{Rate: -1}, ""},
		{"negative burst", api.Config{Burst: -1}, "Burst -1"},
		{"negative body", api.Config{MaxBody: -1}, "MaxBody -1"},
	} {
		tt.cfg.Hub = srv
		_, err := api.New(tt.cfg)
		if (tt.want == "" && err != nil) || (tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want))) {
			t.Errorf("%s: api.New = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestGuardProtectsOtherEndpoints(t *testing.T) {
	const key = "0123456789abcdef-metrics"
	srv, err := server.New(server.Config{Authenticate: server.InsecureQueryIdentity})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	h, err := api.New(api.Config{Hub: srv, Keys: []string{key}})
	if err != nil {
		t.Fatal(err)
	}
	guarded := h.Guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics") }))
	tests := []struct {
		name, auth string
		status     int
	}{
		{"no key", "", 401},
		{"wrong key", "Bearer 0123456789abcdef-nope!!", 403},
		{"right key", "Bearer " + key, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/metrics", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			guarded.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
		})
	}
}

// TestKickBan: POST /api/kick with "ban" kicks the user and refuses their
// next handshake; a ban that is not a duration is a 400 naming the field.
func TestKickBan(t *testing.T) {
	s := newStack(t, api.Config{})
	c, _ := s.connect(t, "mallory-x1y2z3")
	ac := &api.Client{BaseURL: s.HTTP.URL}
	ctx := context.Background()
	res, err := ac.Kick(ctx, api.KickRequest{User: "mallory-x1y2z3", Reason: "spam", Ban: "10m"})
	if err != nil || res.Closed != 1 || res.BannedUntil == nil || time.Until(*res.BannedUntil) < 9*time.Minute {
		t.Fatalf("kick with ban = %+v, %v; want 1 closed and banned_until in ~10 minutes", res, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.State().State != client.Closed {
		if time.Now().After(deadline) {
			t.Fatalf("kicked client state = %v, want closed", c.State().State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, hres, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.HTTP.URL, "http")+"/ws?user=mallory-x1y2z3", nil)
	if err == nil || hres == nil || hres.StatusCode != http.StatusForbidden {
		t.Fatalf("handshake during the ban: %v, %v; want 403", err, hres)
	}

	for _, ban := range []string{"forever", "-5m", "0s", "800h"} {
		_, err := ac.Kick(ctx, api.KickRequest{User: "x", Ban: ban})
		var ae *api.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Body.Field != "ban" {
			t.Errorf("ban %q: %v, want 400 on field ban", ban, err)
		}
	}
}

// TestPushEphemeral: an ephemeral room push reaches a member now and takes
// no seq (a later joiner's history does not hold it); only room pushes can
// be ephemeral.
func TestPushEphemeral(t *testing.T) {
	s := newStack(t, api.Config{})
	c, _ := s.connect(t, "alice-v7iidm")
	got := make(chan client.Meta, 4)
	client.OnMeta(c, func(m testmsg.ChatTyping, meta client.Meta) { got <- meta })
	if _, err := c.Join(context.Background(), "lobby", 0); err != nil {
		t.Fatal(err)
	}
	ac := &api.Client{BaseURL: s.HTTP.URL}
	ctx := context.Background()
	if err := ac.PushEphemeral(ctx, "lobby", testmsg.ChatTyping{Room: "lobby", User: "bot", Name: "Bot"}); err != nil {
		t.Fatalf("ephemeral push: %v", err)
	}
	select {
	case meta := <-got:
		if meta.Seq != 0 || meta.Room != "lobby" {
			t.Fatalf("ephemeral push arrived with %+v, want room lobby and no seq", meta)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the ephemeral push never arrived")
	}
	j, err := c.Join(context.Background(), "lobby", 10)
	if err != nil || j.Seq != 0 {
		t.Fatalf("rejoin = %+v, %v; want seq 0: the ephemeral push took no place in the history", j, err)
	}
	_, err = ac.PushRaw(ctx, api.Target{Kind: api.TargetAll}, "notification", []byte(`{"title":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ae *api.APIError
	err = postJSON(t, s.HTTP.URL+"/api/push", `{"target":{"kind":"all"},"type":"notification","data":{"title":"x"},"ephemeral":true}`)
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Body.Field != "ephemeral" {
		t.Errorf("ephemeral push to everyone: %v, want 400 on field ephemeral", err)
	}
}

// postJSON posts body to url and returns an *api.APIError for a non-2xx.
func postJSON(t *testing.T, url, body string) error {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 == 2 {
		return nil
	}
	var eb api.ErrorBody
	_ = json.NewDecoder(res.Body).Decode(&eb)
	return &api.APIError{Status: res.StatusCode, Body: eb.Error}
}
