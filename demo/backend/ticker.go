package backend

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server"
)

// symbolCount is the number of instruments of the ticker feed.
const symbolCount = 5

// Symbols returns the instruments of the ticker feed, in publishing order.
func Symbols() []string { return []string{"ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI"} }

// openingPrices returns the feed's starting prices, by position in Symbols.
func openingPrices() [symbolCount]float64 { return [symbolCount]float64{120, 85.5, 42.25, 230, 310.75} }

// maxDrift bounds the walk: a price stays within ±maxDrift of its opening
// price (as a fraction).
const maxDrift = 0.25

// feed is a simulated market: a bounded random walk per symbol. It is used
// by one goroutine only.
type feed struct {
	rng     *rand.Rand
	symbols []string
	open    [symbolCount]float64
	prices  [symbolCount]float64
}

func newFeed(seed uint64) *feed {
	f := &feed{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), symbols: Symbols()}
	f.open = openingPrices()
	f.prices = f.open
	return f
}

// step moves every price one step and returns the quotes.
func (f *feed) step(now time.Time) []msg.TickerQuote {
	quotes := make([]msg.TickerQuote, len(f.symbols))
	for i, sym := range f.symbols {
		open := f.open[i]
		p := f.prices[i] * (1 + f.rng.NormFloat64()*0.003)
		p = math.Min(math.Max(p, open*(1-maxDrift)), open*(1+maxDrift))
		p = math.Round(p*100) / 100
		f.prices[i] = p
		quotes[i] = msg.TickerQuote{
			Symbol: sym,
			Price:  p,
			Change: math.Round((p-open)/open*10000) / 100,
			Time:   now.UnixMilli(),
		}
	}
	return quotes
}

// run publishes a quote per symbol at once and then every interval until
// ctx is done.
func (f *feed) run(ctx context.Context, s *server.Server, every time.Duration, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, q := range f.step(now()) {
			if _, _, err := s.Publish(ctx, TickerRoom, q); err != nil {
				log.Error("ticker publish failed", "symbol", q.Symbol, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
