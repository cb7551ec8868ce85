package natsbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tetherkit/tether/broker"
)

// BansKV is the bucket of the cluster's bans (server.Config.Bans): one
// entry per banned user, with the ban's end as its TTL.
const BansKV = "TETHER_BANS"

func newBansBucket(ctx context.Context, b *Broker) (jetstream.KeyValue, error) {
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BansKV,
		Description: "Tether: banned users, each until its ban ends",
		// Per-message TTLs (each ban's end) need it.
		LimitMarkerTTL: time.Second,
		Replicas:       b.cfg.Replicas,
		Storage:        jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: bucket %s: %w", BansKV, err)
	}
	return kv, nil
}

// banKey is the bucket key of user's ban.
func banKey(user string) string { return "b." + token(user) }

// SaveBan implements broker.BanStore: the ban is kept in TETHER_BANS until
// it ends (its TTL), on the stream's replicas, where every node, also one
// started later, finds it.
func (b *Broker) SaveBan(ctx context.Context, ban broker.Ban) error {
	ttl := time.Until(ban.Until).Round(time.Second)
	if ttl < time.Second {
		return nil // ends now: nothing to keep
	}
	v, err := json.Marshal(ban)
	if err != nil {
		return fmt.Errorf("save ban: %w", err)
	}
	if _, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: "$KV." + BansKV + "." + banKey(ban.User), Data: v}, jetstream.WithMsgTTL(ttl)); err != nil {
		return fmt.Errorf("save ban of %q: %w", ban.User, err)
	}
	return nil
}

// DeleteBan implements broker.BanStore.
func (b *Broker) DeleteBan(ctx context.Context, user string) error {
	if err := b.bans.Purge(ctx, banKey(user), jetstream.PurgeTTL(time.Second)); err != nil {
		return fmt.Errorf("delete ban of %q: %w", user, err)
	}
	return nil
}

// LoadBans implements broker.BanStore: the bans in force in TETHER_BANS.
func (b *Broker) LoadBans(ctx context.Context) ([]broker.Ban, error) {
	w, err := b.bans.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("load bans: %w", err)
	}
	defer func() { _ = w.Stop() }()
	now := time.Now()
	var out []broker.Ban
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("load bans: watch ended")
			}
			if e == nil {
				return out, nil // all read
			}
			var ban broker.Ban
			if err := json.Unmarshal(e.Value(), &ban); err != nil {
				b.log.Warn("bad ban entry", "key", e.Key(), "err", err)
				continue
			}
			if ban.Until.After(now) {
				out = append(out, ban)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("load bans: %w", ctx.Err())
		}
	}
}
