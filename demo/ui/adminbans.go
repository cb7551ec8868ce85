package ui

import (
	"context"
	"encoding/json"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// banInfo is one entry of GET /api/bans.
type banInfo struct {
	User   string    `json:"user"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// bansState is the admin page's view of the bans in force (docs/api.md:
// GET /api/bans, POST /api/unban): listed with the rest of the page's data,
// lifted one by one.
type bansState struct {
	list    []banInfo
	err     string // GET /api/bans failed
	msg     string // the last lift's outcome
	msgOK   bool
	lifting string // the user whose ban is being lifted
}

// loadBans reads GET /api/bans; the page applies it with set.
func loadBans(ctx context.Context, key string) func(*bansState) {
	r := callAPI(ctx, "GET", "/api/bans", key, nil)
	return func(b *bansState) {
		if msg := r.Problem(); msg != "" {
			b.err = msg
			return
		}
		var page struct {
			Bans []banInfo `json:"bans"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			b.err = "Unexpected answer from /api/bans: " + err.Error()
			return
		}
		b.err, b.list = "", page.Bans
	}
}

// renderBans lists the bans in force, each with a button that lifts it.
func (a *AdminPage) renderBans() app.UI {
	zone := a.zoneOrUTC()
	rows := make([]app.UI, 0, len(a.bans.list))
	for _, b := range a.bans.list {
		rows = append(rows, ha("tr", "ban-row", []string{"data-user", b.User},
			ht("td", "mono", "@"+b.User),
			ht("td", "small", b.Until.In(zone).Format("Jan 2 15:04")),
			ht("td", "muted small hide-sm", orDefault(b.Reason, "—")),
			h("td", "num", elem("button", "btn btn-ghost btn-sm unban-row",
				append([]string{"type", "button", "data-user", b.User}, flag("disabled", a.bans.lifting != "")...),
				[]app.UI{app.Text(on(a.bans.lifting == b.User, "Lifting…") + on(a.bans.lifting != b.User, "Lift ban"))}).OnClick(a.unban)),
		))
	}
	return ha("div", "card card-flush", []string{"id", "admin-bans"},
		h("div", "card-head padded",
			h("h2", "", app.Text("Banned users"), count(len(a.bans.list))),
			ht("span", "muted small", "kicks with a ban; they hold across restarts and on every node"),
		),
		when(a.bans.err != "", ht("div", "alert alert-error", a.bans.err)),
		when(a.bans.msg != "", ht("p", cls("result padded", on(a.bans.msgOK, "ok"), on(!a.bans.msgOK, "bad")), a.bans.msg, "id", "admin-unban-result")),
		ha("table", "table", []string{"id", "admin-bans-table"},
			thead("User", "", "Until", "", "Reason", "hide-sm", "", ""),
			h("tbody", "", rows...),
		),
		when(len(rows) == 0 && a.bans.err == "", empty("Nobody is banned.")),
	)
}

// unban lifts the clicked row's ban (POST /api/unban) and reloads.
func (a *AdminPage) unban(ctx app.Context, e app.Event) {
	user := dataOf(ctx, "user")
	if user == "" || a.bans.lifting != "" {
		return
	}
	key := a.s.apiKey.get()
	a.bans.lifting = user
	go func() {
		r := callAPI(context.Background(), "POST", "/api/unban", key, map[string]any{"user": user})
		update(ctx, func(app.Context) {
			a.bans.lifting = ""
			if msg := r.Problem(); msg != "" {
				a.bans.msg, a.bans.msgOK = msg, false
				return
			}
			var res struct {
				Lifted bool `json:"lifted"`
			}
			_ = json.Unmarshal(r.Body, &res)
			a.bans.msg, a.bans.msgOK = "Lifted the ban on "+user+": they may connect again.", true
			if !res.Lifted {
				a.bans.msg = user + " was no longer banned."
			}
			a.reload(ctx, e)
		})
	}()
}
