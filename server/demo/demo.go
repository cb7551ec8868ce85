package demo

import (
	"context"
	"log/slog"
	"time"

	"github.com/tetherkit/tether/server"
)

// Options configures the demo.
type Options struct {
	// TickerInterval is how often the ticker feed publishes a quote for every
	// symbol; 0 → 200ms, negative → no ticker feed.
	TickerInterval time.Duration
	// Seed seeds the feed's random walk; 0 → a seed from the clock.
	Seed uint64
	// Now is the demo's clock for message times; nil → time.Now.
	Now func() time.Time
	// Logger receives the demo's logs; nil → slog.Default().
	Logger *slog.Logger
}

// TickerRoom is the room the ticker feed publishes to.
const TickerRoom = "ticker"

// Register installs the demo's handlers (chat.send, chat.typing, danmaku.send, dice.roll) on s and
// starts the ticker feed, which runs until ctx is done. The returned channel
// is closed when the feed has stopped.
func Register(ctx context.Context, s *server.Server, opts Options) <-chan struct{} {
	if opts.TickerInterval == 0 {
		opts.TickerInterval = 200 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	server.Handle(s, chatHandler(s, opts.Now))
	server.Handle(s, newDanmaku(s).send)
	server.Handle(s, diceHandler(s))
	server.Handle(s, typingHandler(s))

	done := make(chan struct{})
	if opts.TickerInterval < 0 {
		close(done)
		return done
	}
	f := newFeed(opts.Seed)
	go func() {
		defer close(done)
		f.run(ctx, s, opts.TickerInterval, opts.Now, opts.Logger)
	}()
	return done
}
