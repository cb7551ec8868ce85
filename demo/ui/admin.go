package ui

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// adminRefresh is how often the admin page reloads who is online.
const adminRefresh = 3 * time.Second

// AdminPage drives the server's HTTP API (docs/api.md): who is online,
// statistics, kick, push, the bans in force and their lifting
// (adminbans.go). It needs no WebSocket connection.
type AdminPage struct {
	app.Compo

	s       *Session // holds the API key, in memory
	cancel  context.CancelFunc
	refresh chan struct{}

	online    []connInfo
	stats     map[string]float64
	listErr   string
	loadedAt  time.Time
	kickMsg   string
	kickOK    bool
	kickWarn  bool // the call worked but did not do what was asked (nobody online)
	pushMsg   string
	pushOK    bool
	pushKind  string
	busyKick  bool
	busyPush  bool
	bans      bansState
	zone      *time.Location
	keyStored bool
	// needKey: the API answered 401 or 403, so it has keys and the page
	// asks for one before showing anything.
	needKey bool
	keyErr  string
}

// connInfo is one entry of GET /api/connections.
type connInfo struct {
	ID     string    `json:"id"`
	User   string    `json:"user"`
	Name   string    `json:"name"`
	Remote string    `json:"remote"`
	Client string    `json:"client"`
	Rooms  []string  `json:"rooms"`
	Since  time.Time `json:"since"`
}

// OnMount loads who is online now and every adminRefresh.
func (a *AdminPage) OnMount(ctx app.Context) {
	a.zone = localZone()
	a.pushKind = "user"
	a.keyStored = a.s.apiKey.get() != ""
	rctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.refresh = make(chan struct{}, 1)
	go func() {
		t := time.NewTicker(adminRefresh)
		defer t.Stop()
		for {
			a.load(rctx, ctx)
			select {
			case <-rctx.Done():
				return
			case <-t.C:
			case <-a.refresh:
			}
		}
	}()
}

// OnDismount stops the refresh loop.
func (a *AdminPage) OnDismount() { a.cancel() }

// load fetches the connections and the statistics.
func (a *AdminPage) load(rctx context.Context, ctx app.Context) {
	key := a.s.apiKey.get()
	conns := callAPI(rctx, "GET", "/api/connections?limit=1000", key, nil)
	stats := callAPI(rctx, "GET", "/api/stats", key, nil)
	bans := loadBans(rctx, key)
	if rctx.Err() != nil {
		return
	}
	update(ctx, func(app.Context) {
		a.loadedAt = time.Now()
		a.needKey = conns.Status == 401 || conns.Status == 403
		a.keyErr = ""
		if a.needKey && key != "" {
			a.keyErr = "The server refused this key: " + conns.Problem()
		}
		if msg := conns.Problem(); msg != "" {
			a.listErr = msg
			return
		}
		bans(&a.bans)
		var page struct {
			Connections []connInfo `json:"connections"`
		}
		if err := json.Unmarshal(conns.Body, &page); err != nil {
			a.listErr = "Unexpected answer from /api/connections: " + err.Error()
			return
		}
		a.listErr = ""
		a.online = page.Connections
		if stats.Problem() == "" {
			a.stats = parseStats(stats.Body)
		}
	})
}

// parseStats reads GET /api/stats, whatever the case of its keys.
func parseStats(body []byte) map[string]float64 {
	var raw map[string]any
	if json.Unmarshal(body, &raw) != nil {
		return nil
	}
	out := map[string]float64{}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			out[strings.ReplaceAll(strings.ToLower(k), "_", "")] = f
		}
	}
	return out
}

// adminHead is the admin page's static title.
const adminHead = `<div class="page-head"><h1>Admin</h1><p class="muted">Drives the server's HTTP API from the browser: the same calls a backend makes with curl (see docs/api.md).</p></div>`

// Render draws the admin page.
func (a *AdminPage) Render() app.UI {
	if app.IsServer {
		// No forms in the server-rendered page: they would be replaced, with
		// whatever was typed, when the wasm starts.
		return h("div", "page", app.Raw(adminHead), a.renderStats(), app.Raw(`<p class="empty">Loading…</p>`))
	}
	if a.needKey {
		// Whoever can open /admin must not drive the API: with keys
		// configured, nothing shows until a key works.
		return h("div", "page", app.Raw(adminHead), a.renderKey(true))
	}
	return h("div", "page",
		app.Raw(adminHead),
		a.renderStats(),
		h("div", "grid-2", a.renderKick(), a.renderPush()),
		a.renderOnline(),
		a.renderBans(),
		a.renderKey(false),
	)
}

// renderKey is the API key form: the page's only content while the API
// needs a key (needed), else an optional card at the bottom.
func (a *AdminPage) renderKey(needed bool) app.UI {
	why := `<div><h2>API key</h2><p class="muted small">Only needed when the server runs with -api-keys. This page calls the HTTP API from your browser; the key is kept in this tab's memory only (never in localStorage or sessionStorage), so a reload forgets it.</p></div>`
	class := "card"
	if needed {
		why = `<div><h2>This server's API needs a key</h2><p class="muted">The server runs with API keys (-api-keys), as in production: the Admin page calls that HTTP API from your browser, so it must not work for whoever merely opens /admin. Enter one of the server's keys to see who is online, kick and push.</p><p class="muted small">The key is kept in this tab's memory only — never in localStorage or sessionStorage, where any script of this site could read it later. A reload or a new tab asks again.</p></div>`
		class = "card card-key"
	}
	var attrs []string
	if needed {
		attrs = []string{"id", "admin-key-needed"}
	}
	return ha("div", class, attrs,
		app.Raw(why),
		form("admin-key-form", "inline-form", a.saveKey,
			srLabel("admin-key", "API key"),
			input("admin-key", "password", "input input-sm", orDefault(on(a.keyStored, "•••••••• (in memory)"), "API key")),
			submit("admin-key-btn", "btn btn-sm btn-primary", "Use key", false),
		),
		when(a.keyErr != "", ht("p", "result bad", a.keyErr, "id", "admin-key-error")),
	)
}

func (a *AdminPage) renderStats() app.UI {
	stats := [...]struct{ label, key string }{
		{"connections", "connections"}, {"users", "users"}, {"rooms", "rooms"},
		{"messages in", "messagesin"}, {"messages out", "messagesout"}, {"dropped", "dropped"},
	}
	cards := make([]app.UI, 0, len(stats))
	for _, st := range stats {
		v := "–"
		if f, ok := a.stats[st.key]; ok {
			v = strconv.FormatFloat(f, 'f', 0, 64)
		}
		cards = append(cards, ha("div", "stat", []string{"data-stat", st.key}, ht("span", "stat-value", v), ht("span", "stat-label", st.label)))
	}
	return ha("div", "stats", []string{"id", "admin-stats"}, cards...)
}

func (a *AdminPage) renderOnline() app.UI {
	zone := a.zoneOrUTC()
	rows := make([]app.UI, 0, len(a.online))
	for _, c := range a.online {
		rows = append(rows, ha("tr", "online-row", []string{"data-user", c.User, "data-conn", c.ID},
			h("td", "who",
				avatar(c.User, c.Name, "avatar-sm"),
				elem("button", "pick-user", []string{"type", "button", "data-user", c.User, "title", "Use @" + c.User + " in the forms above"},
					[]app.UI{ht("strong", "", orDefault(c.Name, c.User)), ht("span", "muted small mono", "@"+c.User)}).OnClick(a.pick),
			),
			ht("td", "mono small hide-sm", c.ID),
			h("td", "hide-sm", roomChips(c.Rooms)...),
			ht("td", "muted small hide-sm", c.Since.In(zone).Format("15:04:05")),
			h("td", "num", button("btn btn-danger btn-sm kick-row", "Kick…", a.prefillKick, "data-user", c.User)),
		))
	}
	updated := ""
	if !a.loadedAt.IsZero() {
		updated = "updated " + a.loadedAt.In(zone).Format("15:04:05")
	}
	return h("div", "card card-flush",
		h("div", "card-head padded",
			h("h2", "", app.Text("Online now"), count(len(a.online))),
			h("div", "row-gap",
				ht("span", "muted small", updated),
				button("btn btn-ghost btn-sm", "Refresh", a.reload, "id", "admin-refresh"),
			),
		),
		when(a.listErr != "", ht("div", "alert alert-error", a.listErr)),
		ha("table", "table", []string{"id", "admin-online"},
			thead("User", "", "Connection", "hide-sm", "Rooms", "hide-sm", "Since", "hide-sm", "", ""),
			h("tbody", "", rows...),
		),
		when(len(rows) == 0 && a.listErr == "", empty("Nobody is connected.")),
	)
}

// pick puts the clicked row's user in the kick form and, when the push goes
// to a user, in the push form.
func (a *AdminPage) pick(ctx app.Context, e app.Event) {
	user := dataOf(ctx, "user")
	setInputValue("admin-kick-user", user)
	if a.pushKind == "user" {
		setInputValue("admin-push-user", user)
	}
}

// prefillKick puts the row's user in the kick form.
func (a *AdminPage) prefillKick(ctx app.Context, e app.Event) {
	setInputValue("admin-kick-user", dataOf(ctx, "user"))
	if el := app.Window().GetElementByID("admin-kick-reason"); el.Truthy() {
		el.Call("focus")
	}
}

// reload asks the refresh loop for an update now.
func (a *AdminPage) reload(app.Context, app.Event) {
	select {
	case a.refresh <- struct{}{}:
	default:
	}
}

func roomChips(rooms []string) []app.UI {
	out := make([]app.UI, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, ht("span", "room-chip", "#"+r))
	}
	return out
}

func (a *AdminPage) renderKick() app.UI {
	return h("div", "card",
		app.Raw(`<div><h2>Kick a user</h2><p class="muted small">Every tab of the user gets the reason and is closed with code 4000; it does not reconnect by itself.</p></div>`),
		form("admin-kick", "stack", a.kick,
			field("admin-kick-user", "User id", input("admin-kick-user", "text", "input", "alice-v7iidm — or click a user below", "required", "true", "list", "admin-users")),
			a.renderUserList(),
			field("admin-kick-reason", "Reason", input("admin-kick-reason", "text", "input", "spamming the lobby", "maxlength", "200")),
			field("admin-kick-ban", "Ban for (optional)", input("admin-kick-ban", "text", "input", "10m, 2h — empty: may come back at once")),
			submit("admin-kick-btn", "btn btn-danger", "Kick", a.busyKick),
		),
		when(a.kickMsg != "", ht("p", cls("result", on(a.kickOK && !a.kickWarn, "ok"), on(a.kickWarn, "warn"), on(!a.kickOK, "bad")), a.kickMsg, "id", "admin-kick-result")),
	)
}

func (a *AdminPage) renderPush() app.UI {
	kinds := make([]app.UI, 0, 4)
	for _, k := range []string{"user", "all", "room", "conn"} {
		kinds = append(kinds, ht("option", "", k, append([]string{"value", k}, flag("selected", k == a.pushKind)...)...))
	}
	levels := make([]app.UI, 0, 4)
	for _, l := range []string{"info", "success", "warning", "error"} {
		levels = append(levels, ht("option", "", l, "value", l))
	}
	target := "User id"
	switch a.pushKind {
	case "room":
		target = "Room"
	case "conn":
		target = "Connection id"
	case "all":
		target = "Target (everyone)"
	}
	return h("div", "card",
		app.Raw(`<div><h2>Push a notification</h2><p class="muted small">POST /api/push with type "notification"; it shows up as a toast.</p></div>`),
		form("admin-push", "stack", a.push,
			h("div", "row-2",
				field("admin-push-kind", "Send to", elem("select", "input", []string{"id", "admin-push-kind"}, kinds).OnChange(a.pickKind)),
				field("admin-push-user", target, input("admin-push-user", "text", "input", pushPlaceholder(a.pushKind),
					append(flag("disabled", a.pushKind == "all"), "list", on(a.pushKind == "user", "admin-users"))...)),
			),
			field("admin-push-title", "Title", input("admin-push-title", "text", "input", "Build passed", "required", "true")),
			field("admin-push-body", "Body", input("admin-push-body", "text", "input", "main is green")),
			field("admin-push-level", "Level", ha("select", "input", []string{"id", "admin-push-level"}, levels...)),
			submit("admin-push-btn", "btn btn-primary", "Push", a.busyPush),
		),
		when(a.pushMsg != "", ht("p", cls("result", on(a.pushOK, "ok"), on(!a.pushOK, "bad")), a.pushMsg, "id", "admin-push-result")),
	)
}

// renderUserList is the datalist of the online users' ids, so the id
// fields offer them as they are typed.
func (a *AdminPage) renderUserList() app.UI {
	seen := make(map[string]bool, len(a.online))
	opts := make([]app.UI, 0, len(a.online))
	for _, c := range a.online {
		if !seen[c.User] {
			seen[c.User] = true
			opts = append(opts, ha("option", "", []string{"value", c.User, "label", orDefault(c.Name, c.User)}))
		}
	}
	return ha("datalist", "", []string{"id", "admin-users"}, opts...)
}

// pushPlaceholder is an example of the push form's target for kind.
func pushPlaceholder(kind string) string {
	switch kind {
	case "room":
		return "lobby"
	case "conn":
		return "a connection id from the list below"
	case "all":
		return "everyone"
	}
	return "alice-v7iidm"
}

// pickKind follows the push target select.
func (a *AdminPage) pickKind(ctx app.Context, e app.Event) {
	a.pushKind = ctx.JSSrc().Get("value").String()
}

func (a *AdminPage) kick(ctx app.Context, e app.Event) {
	e.PreventDefault()
	user := strings.TrimSpace(inputValue("admin-kick-user"))
	reason := strings.TrimSpace(inputValue("admin-kick-reason"))
	ban := strings.TrimSpace(inputValue("admin-kick-ban"))
	a.kickWarn = false
	if user == "" {
		a.kickMsg, a.kickOK = "Which user?", false
		return
	}
	body := map[string]any{"user": user, "reason": reason}
	if ban != "" {
		body["ban"] = ban
	}
	key := a.s.apiKey.get()
	a.busyKick = true
	go func() {
		r := callAPI(context.Background(), "POST", "/api/kick", key, body)
		update(ctx, func(app.Context) {
			a.busyKick = false
			if msg := r.Problem(); msg != "" {
				a.kickMsg, a.kickOK = msg, false
				return
			}
			var res struct {
				Closed      int       `json:"closed"`
				BannedUntil time.Time `json:"banned_until"`
			}
			_ = json.Unmarshal(r.Body, &res)
			a.kickMsg, a.kickOK, a.kickWarn = kickResult(user, res.Closed, res.BannedUntil.In(a.zoneOrUTC())), true, res.Closed == 0
			a.reload(ctx, e)
		})
	}()
}

// kickResult says what a kick did: whom it disconnected, or that nobody by
// that id was online, and until when a ban holds (zero: none).
func kickResult(user string, closed int, bannedUntil time.Time) string {
	msg := "Kicked " + user + ": closed " + plural(closed, "connection") + "."
	if closed == 0 {
		msg = "No user " + user + " is online: nobody was disconnected."
	}
	if !bannedUntil.IsZero() {
		msg += " Banned until " + bannedUntil.Format("15:04") + "."
	}
	return msg
}

func (a *AdminPage) push(ctx app.Context, e app.Event) {
	e.PreventDefault()
	kind := inputValue("admin-push-kind")
	if kind == "" {
		kind = a.pushKind
	}
	id := strings.TrimSpace(inputValue("admin-push-user"))
	title := strings.TrimSpace(inputValue("admin-push-title"))
	if title == "" {
		a.pushMsg, a.pushOK = "A notification needs a title.", false
		return
	}
	target := map[string]any{"kind": kind}
	if kind != "all" {
		if id == "" {
			a.pushMsg, a.pushOK = "Who should get it? Fill in the target.", false
			return
		}
		target["id"] = id
	}
	data := map[string]any{"title": title, "level": orDefault(inputValue("admin-push-level"), "info")}
	if b := strings.TrimSpace(inputValue("admin-push-body")); b != "" {
		data["body"] = b
	}
	body := map[string]any{"target": target, "type": "notification", "data": data}
	key := a.s.apiKey.get()
	a.busyPush = true
	go func() {
		r := callAPI(context.Background(), "POST", "/api/push", key, body)
		update(ctx, func(app.Context) {
			a.busyPush = false
			if msg := r.Problem(); msg != "" {
				a.pushMsg, a.pushOK = msg, false
				return
			}
			a.pushMsg, a.pushOK = "Delivered to "+plural(deliveredCount(r.Body), "connection")+".", true
		})
	}()
}

func (a *AdminPage) saveKey(ctx app.Context, e app.Event) {
	e.PreventDefault()
	key := strings.TrimSpace(inputValue("admin-key"))
	a.s.apiKey.set(key)
	a.keyStored = key != ""
	setInputValue("admin-key", "")
	a.reload(ctx, e)
}

func (a *AdminPage) zoneOrUTC() *time.Location {
	if a.zone == nil {
		return time.UTC
	}
	return a.zone
}

// deliveredCount reads {"delivered":N}.
func deliveredCount(body []byte) int {
	var res struct {
		Delivered int `json:"delivered"`
	}
	_ = json.Unmarshal(body, &res)
	return res.Delivered
}
