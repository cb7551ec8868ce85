//go:build !js

package ui

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/internal/tethertest"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestReloginDuringBan: after a kick with a ban, Relogin asks the server
// first and shows the ban (with its reason) instead of connecting; once the
// ban is lifted it connects again.
func TestReloginDuringBan(t *testing.T) {
	ts := tethertest.NewServer(t, server.Config{})
	page, _ := url.Parse(ts.HTTP.URL + "/")
	s := NewSession()
	s.call = jarCall(ts.HTTP.URL, nil)
	t.Cleanup(func() {
		s.Logout()
		<-s.stopped()
	})
	s.Login("Mallory", socketURL(page, "mallory-x1y2z3", "Mallory"))
	waitFor(t, s, "connected", func() bool { return s.Status().Info.State == client.Open })

	if n, err := ts.Server.Kick(context.Background(), "mallory-x1y2z3", server.KickOptions{Reason: "spamming", Ban: time.Hour}); err != nil || n != 1 {
		t.Fatalf("Kick = %d, %v", n, err)
	}
	waitFor(t, s, "kicked", func() bool { return s.Status().Info.CloseCode == shared.CloseKicked })
	if got := s.Ended(); got != "You were kicked: spamming." {
		t.Errorf("Ended after the kick = %q", got)
	}

	// The kicked connection leaves the server's table a moment after its
	// close frame reached the client: wait for that, so that a connection
	// seen after Relogin can only be a new one.
	tethertest.WaitUntil(t, "the kicked connection gone", func() bool { return len(tethertest.Connections(t, ts.Server)) == 0 })
	s.Relogin(context.Background())
	st := s.Status()
	if !strings.HasPrefix(st.Banned, "banned for ") || !strings.Contains(st.Banned, "spamming") {
		t.Fatalf("after Relogin during the ban Status.Banned = %q, want the server's sentence with the reason", st.Banned)
	}
	if got := s.Ended(); !strings.HasPrefix(got, "You are banned for ") {
		t.Errorf("Ended during the ban = %q", got)
	}
	if conns := tethertest.Connections(t, ts.Server); len(conns) != 0 {
		t.Errorf("Relogin during the ban connected: %+v", conns)
	}

	if lifted, err := ts.Server.Unban(context.Background(), "mallory-x1y2z3"); !lifted || err != nil {
		t.Fatalf("Unban = %v, %v; want the ban lifted", lifted, err)
	}
	s.Relogin(context.Background())
	waitFor(t, s, "connected after the ban", func() bool { return s.Status().Info.State == client.Open })
	if st := s.Status(); st.Banned != "" || s.Ended() != "" {
		t.Errorf("after the ban Status.Banned = %q, Ended = %q", st.Banned, s.Ended())
	}
}
