// Package natsbroker (import path broker/nats) is a broker.Broker on NATS
// JetStream: several Tether nodes behind a load balancer share their rooms'
// seqs, history, presence, idempotency window and sends, with the same
// protocol and guarantees as one node. The package is named natsbroker so
// that it does not collide with nats.go's package nats.
//
// Design (docs/cluster.md has the long version):
//
//   - Room messages live in one stream, TETHER_ROOMS, on subjects
//     tether.r.<token> (the room name in unpadded base64url, so any room name
//     is one safe subject token), at most HistorySize messages per subject,
//     MaxBytes in all, old ones discarded first.
//   - JetStream has no per-subject sequence, so the protocol's consecutive
//     per-room seq and the room's epoch travel in message headers. Writers are
//     serialised per room by Nats-Expected-Last-Subject-Sequence: a publish
//     that lost the race (error 10071, or 10164 on replicated streams) reads
//     the new head and retries, a bounded number of times. The epoch of a room
//     with no message is in the TETHER_ROOM_EPOCHS bucket, created by exactly
//     one node (a KV create).
//   - Live fan-out is the stream's RePublish to tether.live.<token>. Every
//     node, the publishing one included, delivers only what arrives there, so
//     all nodes see one order; a seq that skips ahead is a gap, filled from
//     the stream (a batched direct get) before delivery. A periodic position
//     check and a check on every NATS reconnect catch a lost tail. A gap that
//     the stream can no longer fill resets the room (its members resume).
//   - Presence is the TETHER_PRESENCE bucket: a key per connection in a room
//     and a liveness key per node with a per-message TTL, refreshed by the
//     node. Every node watches the bucket, so presence.join and
//     presence.leave fire once per room cluster-wide, and a dead node's
//     members leave when its liveness key expires.
//   - The idempotency window of keyed requests (broker.IdempotencyStore) is
//     the TETHER_KEYS bucket: a KV create claims a user's key (one node
//     wins), the claim is replaced by the outcome, and a repeat on any node
//     waits for and answers with that outcome. Entries expire with the
//     window (per-message TTL); a dead node's claims are taken over.
//   - Sends to a connection, a user or everyone, and kicks, go to every node
//     over core NATS, as a request whose answers count the connections
//     reached.
//
// Who runs the handler (broker.Handler): nats.go delivers the messages of
// each subscription on a goroutine of that subscription, in order.
//
//   - HandlePublication and HandleReset of a room run on the goroutine of
//     the room's live subscription, or on the broker's position-check
//     goroutine when it fills a lost tail, always under the room's feed
//     lock: one call at a time per room, rooms in parallel.
//   - HandleEphemeral runs on the goroutine of the room's ephemeral
//     subscription.
//   - HandlePresence runs on the goroutine that watches TETHER_PRESENCE, one
//     for every room.
//   - HandleControl and HandleQuery run on the goroutines of the control and
//     query subscriptions, one each: a slow one delays the next.
//
// A handler must not block: while it runs, the room's (or every room's)
// next events wait, and nats.go drops messages of a subscription whose
// pending buffer fills (a lost tail is filled or reset later, at a cost).
// It must not call the broker from HandlePublication or HandleReset (the
// feed lock is held). The server's handler only queues frames to
// connections and never waits for them.
package natsbroker
