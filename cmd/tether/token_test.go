package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/demotest"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server/auth"
)

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

func TestTokenCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no user", nil, map[string]string{"TETHER_SECRET": testSecret}, "--user is required"},
		{"no secret", []string{"--user", "bot"}, nil, "no secret: pass -secret or set TETHER_SECRET"},
		{"short secret", []string{"--user", "bot", "-secret", "short"}, nil, "at least 32"},
		{"bad user", []string{"--user", "bad user"}, map[string]string{"TETHER_SECRET": testSecret}, "invalid character"},
		{"ttl without unit", []string{"--user", "bot", "--ttl", "30"}, map[string]string{"TETHER_SECRET": testSecret}, "needs its unit"},
		{"ttl too short", []string{"--user", "bot", "--ttl", "30s"}, map[string]string{"TETHER_SECRET": testSecret}, "shorter than 1m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runToken(tt.args, env(tt.env), &out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("tether token %v = %v, want an error with %q", tt.args, err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on error", out.String())
			}
		})
	}
}

// TestBotWithIssuedToken is the README's bot against the real server: run()
// with a secret, a token from "tether token", and client.New with it as a
// Bearer header joins and chats. Without a token the client stops at once
// with the server's 401 instead of retrying.
func TestBotWithIssuedToken(t *testing.T) {
	srv := startRun(t, "-secret", testSecret)
	base := srv.base
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/ws"

	var out bytes.Buffer
	if err := runToken([]string{"--user", "bot", "--name", "Bot", "--ttl", "1h"}, env(map[string]string{"TETHER_SECRET": testSecret}), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out.String())
	a, err := auth.New(auth.Config{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := a.Verify(token); err != nil || id.User != "bot" || id.Name != "Bot" {
		t.Fatalf("the printed token verifies as %+v, %v; want bot/Bot", id, err)
	}

	bot := demotest.NewClient(t, client.Config{URL: wsURL, Transport: client.NativeTransport{
		Header: http.Header{"Authorization": {"Bearer " + token}},
	}})
	lines := make(chan msg.ChatMessage, 4)
	client.On(bot, func(m msg.ChatMessage) { lines <- m })
	runCtx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- bot.Run(runCtx) }()
	defer func() { cancel(); <-runDone }()
	if _, err := bot.Join(context.Background(), "lobby", 0); err != nil {
		t.Fatalf("bot join: %v", err)
	}
	if err := bot.Send(context.Background(), msg.ChatSend{Room: "lobby", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-lines:
		if m.User != "bot" || m.Name != "Bot" || m.Text != "hello" {
			t.Fatalf("the room got %+v, want Bot's hello", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the bot's line never reached the room")
	}

	anon := demotest.NewClient(t, client.Config{URL: wsURL + "?user=bot"})
	err = anon.Run(context.Background())
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Fatalf("a client without a token: Run = %v, want a 401 HandshakeError", err)
	}
}

// TestHelpSaysUnitsAndMinimums: "tether -h" says that durations need a unit
// and what -token-ttl's minimum is, and a duration without a unit is
// refused with a sentence that says so.
func TestHelpSaysUnitsAndMinimums(t *testing.T) {
	var help bytes.Buffer
	if _, err := parseOptions([]string{"-h"}, env(nil), &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseOptions(-h) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Durations need their unit", "-ticker -1s", "at least 1m", "tether token --user"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("tether -h does not say %q:\n%s", want, help.String())
		}
	}
	_, err := parseOptions([]string{"-ticker", "-1"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "want a duration with its unit") {
		t.Errorf("-ticker -1 = %v, want an error saying the duration needs its unit", err)
	}
}
