package ui

import (
	"context"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// TickerRoom is the room of the demo's price feed.
const TickerRoom = "ticker"

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
	t.s.acquire(TickerRoom, forTicker)
	fctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	stopChat := t.s.watch(topicChat, redraw(ctx)) // joined / failed
	go func() {
		defer stopChat()
		tick := time.NewTicker(tickerFrame)
		defer tick.Stop()
		last := t.s.tickerVersion()
		for {
			select {
			case <-fctx.Done():
				return
			case <-tick.C:
				if v := t.s.tickerVersion(); v != last {
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
	t.s.release(TickerRoom, forTicker)
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
		rows = append(rows, ha("tr", "ticker-row", []string{"data-symbol", q.Symbol},
			h("td", "", h("div", "sym", ht("span", "sym-badge", q.Symbol[:1], "style", "background:"+avatarColor(q.Symbol)), app.Text(q.Symbol))),
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
