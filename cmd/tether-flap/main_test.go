package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tetherkit/tether/demo/backend"
	"github.com/tetherkit/tether/demo/demotest"
	"github.com/tetherkit/tether/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestOptions: the flags are read and the meaningless ones refused with
// the flag's name.
func TestOptions(t *testing.T) {
	o, err := parseOptions([]string{"-cut", "100ms-1s", "-windows", "1, 8,16"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cutMin != 100*time.Millisecond || o.cutMax != time.Second || len(o.windows) != 3 || o.windows[1] != 8 || o.sends != 1000 || o.rate != 40 {
		t.Errorf("parsed %+v", o)
	}
	for _, tc := range []struct{ args, want string }{
		{"-url http://x/ws", "-url"},
		{"-cut 2s-1s", "-cut"},
		{"-cut soon", "-cut"},
		{"-windows 0", "-windows"},
		{"-windows 1,x", "-windows"},
		{"-sends 0", "-sends"},
		{"-rate 0", "-rate"},
		{"-delay -1ms", "-delay"},
		{"-wait 0s", "-wait"},
	} {
		if _, err := parseOptions(strings.Fields(tc.args), io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %s", tc.args, err, tc.want)
		}
	}
}

// TestFlapAgainstServer runs the tool, briefly, against the demo server:
// each window's line says every message arrived once, in order.
func TestFlapAgainstServer(t *testing.T) {
	hs := demotest.NewServer(t, server.Config{MaxConnsPerIP: -1},
		backend.Config{TickerInterval: -1, Logger: slog.New(slog.DiscardHandler)}).HTTP
	var out, errOut bytes.Buffer
	args := []string{"-url", "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", "-sends", "60", "-rate", "40",
		"-cut", "100ms-300ms", "-delay", "2ms", "-windows", "1,16", "-wait", "60s"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errOut.String())
	}
	t.Logf("\n%s", out.String())
	for _, w := range []string{"window  1:", "window 16:"} {
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, w) {
				line = l
			}
		}
		if !strings.Contains(line, "60 of 60 received once each, in order") {
			t.Errorf("%s line %q, want all 60 once each in order", w, line)
		}
	}
}
