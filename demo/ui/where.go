package ui

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
)

// whereStore is the app's side of the who-is-where board (msg.WhereMap): the
// client's copy of the map, and the page this app is on, which it writes
// on every navigation and every msg.WhereTTL/2 while signed in.
type whereStore struct {
	changes
	log *slog.Logger

	mu   sync.Mutex
	m    *client.Map[string, msg.Whereabouts] // of the current login; nil while logged out
	page string                               // the page on screen
	nav  chan struct{}                        // capacity 1: the page changed
}

func newWhereStore(log *slog.Logger) *whereStore {
	return &whereStore{log: log, nav: make(chan struct{}, 1)}
}

// wire follows the board with the login's client (feature).
func (ws *whereStore) wire(l login) { ws.attach(l.ctx, l.cl) }

// reset forgets the login's copy at logout (feature).
func (ws *whereStore) reset() { ws.detach() }

// attach follows the board with cl, the client of a new login, until ctx
// is done: it subscribes (the client resubscribes after reconnects by
// itself) and keeps the user's entry fresh.
func (ws *whereStore) attach(ctx context.Context, cl *client.Client) {
	m, err := client.NewMap[string, msg.Whereabouts](cl, msg.WhereMap)
	if err != nil {
		ws.log.Error("tether ui: who-is-where board", "err", err)
		return
	}
	m.OnChange(func(client.Change[string, msg.Whereabouts]) { ws.changed() })
	ws.mu.Lock()
	ws.m = m
	ws.mu.Unlock()
	ws.changed()
	go func() {
		for ctx.Err() == nil {
			err := m.Subscribe(ctx)
			if err == nil {
				return
			}
			ws.log.Debug("tether ui: board subscribe", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	cl.OnState(func(st client.StateInfo) {
		if st.State == client.Open {
			ws.poke() // a new connection: write the entry now (the server may be new)
		}
	})
	go ws.keepFresh(ctx, m, func() string { return cl.State().Welcome.User })
}

// poke wakes keepFresh.
func (ws *whereStore) poke() {
	select {
	case ws.nav <- struct{}{}:
	default:
	}
}

// keepFresh writes the app's page as the user's entry (the key is the
// connection's user id, user()) on every navigation, every new connection
// and every msg.WhereTTL/2, until ctx is done.
func (ws *whereStore) keepFresh(ctx context.Context, m *client.Map[string, msg.Whereabouts], user func() string) {
	t := time.NewTicker(msg.WhereTTL * time.Millisecond / 2)
	defer t.Stop()
	for {
		ws.mu.Lock()
		page := ws.page
		ws.mu.Unlock()
		if u := user(); page != "" && u != "" {
			if _, err := m.Set(ctx, u, msg.Whereabouts{Page: page}, client.TTL(msg.WhereTTL*time.Millisecond)); err != nil && ctx.Err() == nil {
				ws.log.Debug("tether ui: board write", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-ws.nav:
		}
	}
}

// detach forgets the login's copy at logout.
func (ws *whereStore) detach() {
	ws.mu.Lock()
	ws.m = nil
	ws.mu.Unlock()
	ws.changed()
}

// at records the page on screen; the board hears of it at once.
func (ws *whereStore) at(page string) {
	if page == "" {
		page = PathChat
	}
	ws.mu.Lock()
	same := ws.page == page
	ws.page = page
	ws.mu.Unlock()
	if !same {
		ws.poke()
	}
}

// whereEntry is one line of the board.
type whereEntry struct {
	user, name, page string
}

// entries returns the board's lines, sorted by name.
func (ws *whereStore) entries() []whereEntry {
	ws.mu.Lock()
	m := ws.m
	ws.mu.Unlock()
	if m == nil {
		return nil
	}
	var out []whereEntry
	for user, e := range m.All() {
		out = append(out, whereEntry{user: user, name: e.Value.Name, page: e.Value.Page})
	}
	slices.SortFunc(out, func(a, b whereEntry) int {
		return strings.Compare(strings.ToLower(a.name)+a.user, strings.ToLower(b.name)+b.user)
	})
	return out
}

// pageTitle is the navigation title of a page path ("" → Chat).
func pageTitle(path string) string {
	for _, p := range pages() {
		if p.path == path {
			return p.title
		}
	}
	return strings.TrimPrefix(path, "/")
}

// WhereBoard shows who is on which page, live, under the top bar: the
// demo's keyed-state room (msg.WhereMap).
type WhereBoard struct {
	app.Compo
	s    *Session
	stop func()
}

// OnMount re-renders the board whenever the map changes.
func (wb *WhereBoard) OnMount(ctx app.Context) {
	wb.stop = wb.s.where.watch(redraw(ctx))
}

// OnDismount stops watching.
func (wb *WhereBoard) OnDismount() {
	if wb.stop != nil {
		wb.stop()
	}
}

// Render draws one chip per user.
func (wb *WhereBoard) Render() app.UI {
	entries := wb.s.where.entries()
	chips := make([]app.UI, 0, len(entries))
	for _, e := range entries {
		chips = append(chips, ha("span", "where-chip", []string{"data-user", e.user, "data-page", e.page, "title", "@" + e.user},
			avatar(e.user, e.name, "avatar-xs"),
			ht("span", "where-name", e.name),
			ht("span", "where-page", pageTitle(e.page)),
		))
	}
	return ha("div", "where-board", []string{"id", "where-board", "aria-label", "Who is on which page"},
		ht("span", "where-title", "Where everyone is"),
		h("span", "where-chips", chips...),
	)
}
