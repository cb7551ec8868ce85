package ui

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/demo/msg"
)

// TickerRoom is the room of the demo's price feed.
const TickerRoom = "ticker"

// maxSpark is how many prices are kept per ticker symbol.
const maxSpark = 40

// tickerFrame coalesces ticker updates: however fast quotes arrive, the
// ticker table re-renders at most this often.
const tickerFrame = 100 * time.Millisecond

// Quote is the latest state of one ticker symbol.
type Quote struct {
	Symbol  string
	Price   float64
	Change  float64
	Dir     int    // +1 up, -1 down, 0 unchanged since the previous quote
	Updates uint64 // quotes received; its parity restarts the flash animation
	Last    bool   // the price is the room's last value, handed over on join, not a live quote
	Time    int64
	Spark   []float64
}

// tickerStore is the ticker feature: the latest quote of each symbol. It
// has no change events: the ticker page polls its version once per
// tickerFrame, so a burst of quotes costs one render. The quotes outlive a
// login.
type tickerStore struct {
	noReset

	mu      sync.Mutex
	quotes  map[string]*Quote
	symbols []string // in order of first appearance
	version uint64   // changes whenever a quote arrives
}

func newTickerStore() *tickerStore { return &tickerStore{quotes: make(map[string]*Quote)} }

// wire implements feature.
func (ts *tickerStore) wire(l login) { handleMeta(l, ts.onQuote) }

// onQuote records a ticker quote: a live one, or (meta.Last) the symbol's
// last price, handed over on join.
func (ts *tickerStore) onQuote(q msg.TickerQuote, meta client.Meta) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	cur := ts.quotes[q.Symbol]
	if cur == nil {
		cur = &Quote{Symbol: q.Symbol}
		ts.quotes[q.Symbol] = cur
		ts.symbols = append(ts.symbols, q.Symbol)
	}
	switch {
	case cur.Updates == 0 || q.Price == cur.Price:
		cur.Dir = 0
	case q.Price > cur.Price:
		cur.Dir = 1
	default:
		cur.Dir = -1
	}
	cur.Price, cur.Change, cur.Time, cur.Last = q.Price, q.Change, q.Time, meta.Last
	cur.Updates++
	cur.Spark = append(cur.Spark, q.Price)
	if len(cur.Spark) > maxSpark {
		cur.Spark = slices.Clone(cur.Spark[len(cur.Spark)-maxSpark:])
	}
	ts.version++
}

// seen returns the version, which changes whenever a quote arrives.
func (ts *tickerStore) seen() uint64 {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.version
}

// list returns the quotes in order of first appearance.
func (ts *tickerStore) list() []Quote {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]Quote, 0, len(ts.symbols))
	for _, sym := range ts.symbols {
		q := *ts.quotes[sym]
		q.Spark = slices.Clone(q.Spark)
		out = append(out, q)
	}
	return out
}

// Quotes returns the ticker symbols in order of first appearance.
func (s *Session) Quotes() []Quote { return s.ticker.list() }

// TickerPage is a live price table. Quotes can arrive far faster than
// anyone can read; the table re-renders at most once per tickerFrame with
// whatever arrived meanwhile.
type TickerPage struct {
	app.Compo

	s      *Session
	cancel context.CancelFunc
}

// OnMount joins the ticker room and starts the frame loop.
func (t *TickerPage) OnMount(ctx app.Context) {
	t.s.rooms.acquire(TickerRoom, forTicker)
	fctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	stopRooms := t.s.rooms.watch(redraw(ctx)) // joined / failed
	go func() {
		defer stopRooms()
		tick := time.NewTicker(tickerFrame)
		defer tick.Stop()
		last := t.s.ticker.seen()
		for {
			select {
			case <-fctx.Done():
				return
			case <-tick.C:
				if v := t.s.ticker.seen(); v != last {
					last = v
					update(ctx, nil)
				}
			}
		}
	}()
}

// OnDismount stops the loop and leaves the ticker room.
func (t *TickerPage) OnDismount() {
	t.cancel()
	t.s.rooms.release(TickerRoom, forTicker)
}

// Render draws the table.
func (t *TickerPage) Render() app.UI {
	quotes := t.s.Quotes()
	ready, failed := t.s.RoomState(TickerRoom)
	rows := make([]app.UI, 0, len(quotes))
	for _, q := range quotes {
		flash := ""
		if q.Dir != 0 {
			dir := "up"
			if q.Dir < 0 {
				dir = "down"
			}
			// Alternating between two identical animations restarts the
			// flash on every update.
			flash = "flash-" + dir + "-" + strconv.FormatUint(q.Updates%2, 10)
		}
		trend, arrow := "flat", "•"
		switch {
		case q.Change > 0:
			trend, arrow = "pos", "▲"
		case q.Change < 0:
			trend, arrow = "neg", "▼"
		}
		rows = append(rows, ha("tr", "ticker-row", []string{"data-symbol", q.Symbol, "data-last", strconv.FormatBool(q.Last)},
			h("td", "", h("div", "sym", ht("span", cls("sym-badge", hueClass(q.Symbol)), q.Symbol[:1]), app.Text(q.Symbol))),
			h("td", "num", ht("span", cls("price", flash), price(q.Price))),
			ht("td", "num change "+trend, arrow+" "+percent(q.Change)),
			h("td", "spark-cell", app.Raw(sparkline(q.Spark, 120, 28, q.Change >= 0))),
			ht("td", "num muted small hide-sm", clockSeconds(q.Time, t.s.zone)),
		))
	}
	var status string
	switch {
	case failed != "":
		status = "Could not join the ticker: " + failed
	case !ready:
		status = "Joining…"
	default:
		status = "Live · redrawn at most every " + strconv.Itoa(int(tickerFrame/time.Millisecond)) + " ms, however fast quotes arrive"
	}
	return h("div", "page",
		pageHead(ht("h1", "", "Live ticker"), liveDot(ready), ht("span", "", status, "id", "ticker-status")),
		h("div", "card card-flush",
			ha("table", "ticker", []string{"id", "ticker"},
				thead("Symbol", "", "Price", "num", "Change", "num", "Trend", "", "Time", "num hide-sm"),
				h("tbody", "", rows...),
			),
			when(len(rows) == 0, empty("Waiting for quotes from room \"ticker\"…")),
		),
	)
}

// clockSeconds formats a Unix-ms time as hh:mm:ss in zone.
func clockSeconds(ms int64, zone *time.Location) string {
	if ms <= 0 {
		return ""
	}
	return time.UnixMilli(ms).In(zone).Format("15:04:05")
}
