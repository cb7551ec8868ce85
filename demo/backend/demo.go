package backend

import (
	"context"
	"log/slog"
	"time"

	"github.com/tetherkit/tether/demo/msg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// DefaultTickerInterval is the ticker feed's period when
// Config.TickerInterval is zero.
const DefaultTickerInterval = 200 * time.Millisecond

// Config configures the demo. The zero value is usable: every zero field has
// the default documented on it.
type Config struct {
	// TickerInterval is how often the ticker feed publishes a quote for every
	// symbol. Zero means 200ms (DefaultTickerInterval); negative means no
	// ticker feed.
	TickerInterval time.Duration
	// Seed seeds the feed's random walk. Zero means a seed from the clock.
	Seed uint64
	// Now is the demo's clock for message times. Nil means time.Now.
	Now func() time.Time
	// Logger receives the demo's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// TickerRoom is the room the ticker feed publishes to.
const TickerRoom = "ticker"

// LastValues is the server configuration (server.Config.LastValues) the
// demo needs: the ticker room keeps the last quote of every symbol, so a
// fresh Ticker page shows every price at once however slow the feed.
func LastValues() []server.LastValue {
	return []server.LastValue{{Rooms: TickerRoom, Type: shared.TypeOf[msg.TickerQuote](), Key: "symbol"}}
}

// Register installs the demo's handlers (chat.send, chat.typing, danmaku.send, dice.roll) and
// its who-is-where board (msg.WhereMap) on s and starts the ticker feed, which runs until ctx is done. The returned channel
// is closed when the feed has stopped.
func Register(ctx context.Context, s *server.Server, cfg Config) <-chan struct{} {
	if cfg.TickerInterval == 0 {
		cfg.TickerInterval = DefaultTickerInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	server.Handle(s, chatHandler(s, cfg.Now))
	server.Handle(s, newDanmaku(s).send)
	server.Handle(s, diceHandler(s))
	server.Handle(s, typingHandler(s))
	if _, err := newWhere(ctx, s); err != nil {
		cfg.Logger.Error(errNoWhere.Error(), "err", err)
	}

	done := make(chan struct{})
	if cfg.TickerInterval < 0 {
		close(done)
		return done
	}
	f := newFeed(cfg.Seed)
	go func() {
		defer close(done)
		f.run(ctx, s, cfg.TickerInterval, cfg.Now, cfg.Logger)
	}()
	return done
}
