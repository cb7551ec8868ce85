package loadtool

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestWebSocketURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want string // the URL's host; "": refused
	}{
		{"ws://127.0.0.1:8080/ws", "127.0.0.1:8080"},
		{"wss://example.com/ws", "example.com"},
		{"http://127.0.0.1:8080/ws", ""},
		{"ws:///ws", ""},
		{"127.0.0.1:8080", ""},
		{"%zz", ""},
		{"", ""},
	} {
		u, err := WebSocketURL("url", tc.raw)
		switch {
		case tc.want == "" && (err == nil || !strings.Contains(err.Error(), `-url "`+tc.raw+`": want a ws:// or wss:// URL`)):
			t.Errorf("WebSocketURL(%q) = %v, %v; want an error naming -url and the value", tc.raw, u, err)
		case tc.want != "" && (err != nil || u.Host != tc.want):
			t.Errorf("WebSocketURL(%q) = %v, %v; want host %s", tc.raw, u, err, tc.want)
		}
	}
}

func TestFlagSet(t *testing.T) {
	var out bytes.Buffer
	fs := NewFlagSet("tool", "Does a thing.", &out)
	n := fs.Int("n", 3, "how many")
	if err := Parse(fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: err = %v, want flag.ErrHelp", err)
	}
	if want := "Usage: tool [flags]\n\nDoes a thing.\n\n  -n int\n    \thow many (default 3)\n"; out.String() != want {
		t.Errorf("usage:\n%q\nwant\n%q", out.String(), want)
	}
	if err := Parse(fs, []string{"-n", "5"}); err != nil || *n != 5 {
		t.Errorf("-n 5: n = %d, err %v; want 5, nil", *n, err)
	}
	if err := Parse(fs, []string{"-n", "5", "extra"}); err == nil || !strings.Contains(err.Error(), `unexpected arguments ["extra"]`) {
		t.Errorf("an argument after the flags: err = %v, want unexpected arguments", err)
	}
}
