package ui

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/shared"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestUserID(t *testing.T) {
	tests := []struct{ nick, want string }{
		{"Alice", "alice"},
		{"Bob Smith", "bob-smith"},
		{"  Zoë  ", "zo"},
		{"a.b_c-d", "a.b_c-d"},
		{"--x--", "x"},
		{"Ünïcödé Name", "n-c-d-name"},
		{strings.Repeat("a", 80), strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		if got := userID(tt.nick); got != tt.want {
			t.Errorf("userID(%q) = %q, want %q", tt.nick, got, tt.want)
		}
	}
	// A nickname with no usable character still gets a valid, stable id.
	a, b := userID("李雷"), userID("李雷")
	if a != b || !strings.HasPrefix(a, "u-") || userID("韩梅梅") == a {
		t.Errorf(`userID("李雷") = %q then %q; want a stable "u-" id distinct from other names`, a, b)
	}
	for _, nick := range []string{"Alice", "李雷", "x y z", strings.Repeat("é", 70)} {
		id := userID(nick)
		if len(id) == 0 || len(id) > maxUserLen {
			t.Errorf("userID(%q) = %q: length %d outside 1–64", nick, id, len(id))
		}
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				t.Errorf("userID(%q) = %q has %q, outside [A-Za-z0-9._-]", nick, id, c)
			}
		}
	}
}

func TestCleanNick(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Alice  ", "Alice"},
		{"Bob \t  Smith", "Bob Smith"},
		{"", ""},
		{"   ", ""},
		{strings.Repeat("é", 40), strings.Repeat("é", maxNickLen)},
	}
	for _, tt := range tests {
		if got := cleanNick(tt.in); got != tt.want {
			t.Errorf("cleanNick(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSocketURL(t *testing.T) {
	tests := []struct{ page, want string }{
		{"http://localhost:8080/ticker", "ws://localhost:8080/ws?name=Bob+Smith&user=bob-smith"},
		{"https://tether.example/", "wss://tether.example/ws?name=Bob+Smith&user=bob-smith"},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.page)
		if got := socketURL(u, "bob-smith", "Bob Smith"); got != tt.want {
			t.Errorf("socketURL(%s) = %s, want %s", tt.page, got, tt.want)
		}
	}
	u, _ := url.Parse("https://tether.example/chat?x=1")
	if got := socketURL(u, "", ""); got != "wss://tether.example/ws" {
		t.Errorf("socketURL without a user = %s, want wss://tether.example/ws (the cookie names the user)", got)
	}
}

func TestStatusLabel(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	in := func(info client.StateInfo) Status { return Status{LoggedIn: true, Nick: "A", User: "a", Info: info} }
	tests := []struct {
		name      string
		st        Status
		online    bool
		wantClass string
		wantText  string
	}{
		{"signed out", Status{}, true, "offline", "offline"},
		{"signing in", Status{SigningIn: true}, true, "connecting", "signing in…"},
		{"connecting", in(client.StateInfo{State: client.Connecting}), true, "connecting", "connecting…"},
		{"connecting offline", in(client.StateInfo{State: client.Connecting}), false, "offline", "offline · waiting for the network"},
		{"open", in(client.StateInfo{State: client.Open}), true, "connected", "connected"},
		{"reconnecting", in(client.StateInfo{State: client.Reconnecting, RetryAt: now.Add(2500 * time.Millisecond)}), true, "reconnecting", "reconnecting in 3 s"},
		{"reconnecting now", in(client.StateInfo{State: client.Reconnecting, RetryAt: now.Add(-time.Second)}), true, "reconnecting", "reconnecting…"},
		{"reconnecting offline", in(client.StateInfo{State: client.Reconnecting, RetryAt: now.Add(time.Second)}), false, "reconnecting", "reconnecting in 1 s · browser offline"},
		{"kicked", in(client.StateInfo{State: client.Closed, CloseCode: shared.CloseKicked, Reason: "spam"}), true, "kicked", "kicked: spam"},
		{"kicked no reason", in(client.StateInfo{State: client.Closed, CloseCode: shared.CloseKicked}), true, "kicked", "kicked: by an administrator"},
		{"rejected", in(client.StateInfo{State: client.Closed, CloseCode: shared.CloseRejected, Reason: "banned"}), true, "kicked", "rejected: banned"},
		{"closed", in(client.StateInfo{State: client.Closed, CloseCode: shared.CloseNormal}), true, "offline", "offline"},
		{"banned", Status{LoggedIn: true, Banned: "banned for 10m0s more", Info: client.StateInfo{State: client.Closed, CloseCode: shared.CloseKicked}}, true, "kicked", "banned"},
	}
	for _, tt := range tests {
		class, text := statusLabel(tt.st, now, tt.online)
		if class != tt.wantClass || text != tt.wantText {
			t.Errorf("%s: statusLabel = %q, %q; want %q, %q", tt.name, class, text, tt.wantClass, tt.wantText)
		}
		// The e2e tests look for these words in #status.
		if strings.Contains(text, "connected") != (tt.wantClass == "connected") {
			t.Errorf("%s: %q must say \"connected\" exactly when connected", tt.name, text)
		}
	}
}

func TestRefreshDelay(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		left, want time.Duration
	}{
		{12 * time.Hour, 12*time.Hour - refreshMargin},
		{10 * time.Minute, 9 * time.Minute},
		{0, time.Second},
		{-time.Hour, time.Second},
	}
	for _, tt := range tests {
		if got := refreshDelay(now.Add(tt.left), now); got != tt.want {
			t.Errorf("refreshDelay with %v left = %v, want %v", tt.left, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{{1.234, "+1.23%"}, {-0.5, "−0.50%"}, {0, "0.00%"}, {-0.001, "0.00%"}} {
		if got := percent(tt.in); got != tt.want {
			t.Errorf("percent(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := price(101.5); got != "101.50" {
		t.Errorf("price(101.5) = %q", got)
	}
	if got := plural(1, "member") + "/" + plural(3, "member"); got != "1 member/3 members" {
		t.Errorf("plural = %q", got)
	}
	if got := clock(0, time.UTC); got != "" {
		t.Errorf("clock(0) = %q, want empty", got)
	}
	svg := sparkline([]float64{1, 2, 3, 2}, 100, 20, true)
	if !strings.Contains(svg, "spark-up") || strings.Count(svg, ",") != 4 {
		t.Errorf("sparkline of 4 values: %s", svg)
	}
	if initial(" bob") != "B" || initial("") != "?" || initial("été") != "É" {
		t.Error("initial: wrong letter")
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&shared.Error{Code: shared.CodeNotJoined, Message: `join room "x" first`}, `join room "x" first`},
		{&shared.Error{Code: shared.CodeTimeout, Message: "timeout"}, "No answer from the server in time."},
		{client.ErrNotConnected, "Not connected; wait for the connection to come back."},
		{errors.New("boom"), "boom"},
	}
	for _, tt := range tests {
		if got := errorText(tt.err); got != tt.want {
			t.Errorf("errorText(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestSessionModel feeds a session the events a client would deliver.
func TestSessionModel(t *testing.T) {
	s := NewSession()
	s.rooms.acquire("lobby", forChat) // not logged in: remembered, not joined
	if v := s.Chat(); v.Current != "lobby" || v.Ready || len(v.Rooms) != 3 || !v.Rooms[0].Joined {
		t.Fatalf("before joined: %+v", v)
	}

	s.rooms.onJoinedReply(shared.Joined{Room: "lobby", Epoch: "e1", Seq: 2, Members: []shared.Member{{User: "zed"}, {User: "amy"}}})
	s.chat.onChat(msg.ChatMessage{Room: "lobby", User: "amy", Text: "hi"}, client.Meta{Room: "lobby", Seq: 1}, "")
	s.rooms.onPresence("lobby", shared.Member{User: "bob", Name: "Bob"}, true)
	s.rooms.onPresence("lobby", shared.Member{User: "bob", Name: "Bob"}, true) // a second tab: still one member
	s.rooms.onPresence("lobby", shared.Member{User: "zed"}, false)
	v := s.Chat()
	if !v.Ready || len(v.Lines) != 1 || v.Lines[0].Text != "hi" {
		t.Fatalf("after joined and a message: %+v", v)
	}
	if got := memberIDs(v.Members); got != "amy,bob" {
		t.Errorf("members = %s, want amy,bob (sorted, zed left, bob once)", got)
	}

	// A rejoin that could not replay everything keeps the lines and warns.
	s.rooms.onJoinedReply(shared.Joined{Room: "lobby", Epoch: "e1", Seq: 9, Recovered: false, Members: []shared.Member{{User: "amy"}}})
	if v := s.Chat(); len(v.Lines) != 1 || !strings.Contains(v.Notice, "missed") {
		t.Errorf("rejoin without recovery: lines %d, notice %q", len(v.Lines), v.Notice)
	}
	// A new epoch (server restart) drops the old lines.
	s.rooms.onJoinedReply(shared.Joined{Room: "lobby", Epoch: "e2", Seq: 0, Recovered: false})
	if v := s.Chat(); len(v.Lines) != 0 || v.Notice == "" {
		t.Errorf("new epoch: lines %d, notice %q", len(v.Lines), v.Notice)
	}

	// Messages of rooms the session is not in are ignored.
	s.chat.onChat(msg.ChatMessage{Room: "elsewhere", Text: "x"}, client.Meta{Room: "elsewhere", Seq: 1}, "")
	if s.rooms.info("elsewhere").known || len(s.chat.room("elsewhere").lines) != 0 {
		t.Error("a message created a room")
	}

	// Unread counts for rooms not on screen.
	s.CreateRoom("side")
	s.SelectRoom("lobby")
	s.chat.onChat(msg.ChatMessage{Room: "side", Text: "psst"}, client.Meta{Room: "side", Seq: 1}, "")
	for _, r := range s.Chat().Rooms {
		if r.Name == "side" && r.Unread != 1 {
			t.Errorf("side unread = %d, want 1", r.Unread)
		}
	}
	if err := s.CreateRoom("bad room"); err == nil {
		t.Error("CreateRoom accepted a name with a space")
	}
	s.LeaveRoom("lobby")
	if v := s.Chat(); v.Current != "side" {
		t.Errorf("after leaving the current room, current = %q, want side", v.Current)
	}
}

func TestSessionToastsAndQuotes(t *testing.T) {
	s := NewSession()
	for i := range maxToasts + 2 {
		s.notes.onNotification(msg.Notification{Title: "n" + string(rune('0'+i))})
	}
	toasts := s.Toasts()
	if len(toasts) != maxToasts || toasts[len(toasts)-1].Title != "n6" || toasts[0].Level != "info" {
		t.Fatalf("toasts = %+v; want the newest %d, level info by default", toasts, maxToasts)
	}
	s.DismissToast(toasts[0].ID)
	if len(s.Toasts()) != maxToasts-1 {
		t.Error("DismissToast did not remove the toast")
	}
	if notes := s.Notes(); len(notes) != maxToasts+2 || notes[0].Title != "n6" {
		t.Errorf("notes: %d, newest %q; want all %d, newest first", len(notes), notes[0].Title, maxToasts+2)
	}

	v0 := s.ticker.seen()
	s.ticker.onQuote(msg.TickerQuote{Symbol: "ACME", Price: 10}, client.Meta{})
	s.ticker.onQuote(msg.TickerQuote{Symbol: "ACME", Price: 11}, client.Meta{})
	s.ticker.onQuote(msg.TickerQuote{Symbol: "HOOLI", Price: 5}, client.Meta{})
	s.ticker.onQuote(msg.TickerQuote{Symbol: "HOOLI", Price: 4}, client.Meta{})
	q := s.Quotes()
	if len(q) != 2 || q[0].Symbol != "ACME" || q[0].Dir != 1 || q[1].Dir != -1 || q[0].Updates != 2 || len(q[0].Spark) != 2 {
		t.Errorf("quotes = %+v", q)
	}
	if s.ticker.seen() == v0 {
		t.Error("ticker version did not move")
	}
}

func memberIDs(ms []shared.Member) string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.User
	}
	return strings.Join(ids, ",")
}

// TestTooLong: the browser counts characters as the server does, so 2,000
// Chinese characters (6,000 bytes) pass and 2,001 get a sentence.
func TestTooLong(t *testing.T) {
	tests := []struct {
		text  string
		limit int
		want  string
	}{
		{strings.Repeat("汉", msg.MaxTextLen), msg.MaxTextLen, ""},
		{strings.Repeat("汉", msg.MaxTextLen+1), msg.MaxTextLen, "A message can be at most 2000 characters; this one has 2001."},
		{strings.Repeat("😀", msg.MaxDanmakuLen), msg.MaxDanmakuLen, ""},
		{strings.Repeat("a", 101), msg.MaxDanmakuLen, "A message can be at most 100 characters; this one has 101."},
	}
	for _, tt := range tests {
		got := tooLong("A message", tt.text, tt.limit)
		if got != tt.want {
			t.Errorf("tooLong(%d characters, %d) = %q, want %q", len([]rune(tt.text)), tt.limit, got, tt.want)
		}
		// The server agrees.
		if err := shared.TextTooLong("text", tt.text, tt.limit); (err == nil) != (tt.want == "") {
			t.Errorf("shared.TextTooLong(%d characters, %d) = %v, but the browser says %q", len([]rune(tt.text)), tt.limit, err, got)
		}
	}
}

// TestLeftRoomForgetsItsMessages: the chat's data of a room goes with the
// room, so entering it again shows neither old lines nor an old unread count.
func TestLeftRoomForgetsItsMessages(t *testing.T) {
	s := NewSession()
	s.CreateRoom("side")
	s.SelectRoom("lobby")
	s.rooms.acquire("lobby", forChat)
	s.rooms.onJoinedReply(shared.Joined{Room: "side", Epoch: "e"})
	s.chat.onChat(msg.ChatMessage{Room: "side", Text: "old"}, client.Meta{Room: "side", Seq: 1}, "")
	if r := s.chat.room("side"); len(r.lines) != 1 || r.unread != 1 {
		t.Fatalf("before leaving: %d lines, %d unread; want 1 and 1", len(r.lines), r.unread)
	}
	s.LeaveRoom("side")
	if r := s.chat.room("side"); len(r.lines) != 0 || r.unread != 0 {
		t.Errorf("after leaving: %d lines, %d unread kept", len(r.lines), r.unread)
	}
	s.SelectRoom("side")
	for _, item := range s.Chat().Rooms {
		if item.Name == "side" && item.Unread != 0 {
			t.Errorf("side shows %d unread after coming back", item.Unread)
		}
	}
	if v := s.Chat(); v.Current != "side" || len(v.Lines) != 0 {
		t.Errorf("back in side: current %q, %d lines; want side and none until its history arrives", v.Current, len(v.Lines))
	}
}

func TestKickResult(t *testing.T) {
	until := time.Date(2026, 1, 1, 12, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		closed int
		until  time.Time
		want   string
	}{
		{"online", 2, time.Time{}, "Kicked mallory-x1y2z3: closed 2 connections."},
		{"not online", 0, time.Time{}, "No user mallory-x1y2z3 is online: nobody was disconnected."},
		{"banned", 1, until, "Kicked mallory-x1y2z3: closed 1 connection. Banned until 12:30."},
		{"banned while away", 0, until, "No user mallory-x1y2z3 is online: nobody was disconnected. Banned until 12:30."},
	}
	for _, tt := range tests {
		if got := kickResult("mallory-x1y2z3", tt.closed, tt.until); got != tt.want {
			t.Errorf("%s: kickResult = %q, want %q", tt.name, got, tt.want)
		}
	}
}
