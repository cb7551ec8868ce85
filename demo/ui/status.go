package ui

import (
	"strconv"
	"time"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/shared"
)

// statusLabel is the status pill's class (its colour) and text for st at
// now. online is the browser's navigator.onLine. The texts are part of the
// app's test contract: "connected" only when open; "reconnecting…" while
// waiting to reconnect; "kicked: reason" after a kick.
func statusLabel(st Status, now time.Time, online bool) (class, text string) {
	if !st.LoggedIn {
		if st.SigningIn {
			return "connecting", "signing in…"
		}
		return "offline", "offline"
	}
	info := st.Info
	switch info.State {
	case client.Connecting:
		if !online {
			return "offline", "offline · waiting for the network"
		}
		return "connecting", "connecting…"
	case client.Open:
		return "connected", "connected"
	case client.Reconnecting:
		text = "reconnecting…"
		if secs := retrySeconds(info.RetryAt, now); secs > 0 {
			text = "reconnecting in " + strconv.Itoa(secs) + " s"
		}
		if !online {
			text += " · browser offline"
		}
		return "reconnecting", text
	}
	if st.Banned != "" && info.State == client.Closed {
		return "kicked", "banned" // the banner says why and until when
	}
	switch info.CloseCode {
	case shared.CloseKicked:
		return "kicked", "kicked: " + orDefault(info.Reason, "by an administrator")
	case shared.CloseRejected:
		return "kicked", "rejected: " + orDefault(info.Reason, "by the server")
	}
	return "offline", "offline"
}

// retrySeconds is the whole seconds left until at, rounded up.
func retrySeconds(at, now time.Time) int {
	d := at.Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
