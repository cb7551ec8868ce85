// Package memory is the single-process broker.Broker, the server's default:
// rooms, their history and presence, and the idempotency window of keyed
// requests live in this process and are lost when it stops. It has no
// other node: Control reaches nobody and Gather asks nobody, without error.
//
// Who runs the handler: every event is delivered synchronously, on the
// goroutine of the broker call that caused it, while the broker holds the
// room's lock. HandlePublication runs inside Publish (on the publisher's
// goroutine: a connection's reader running a handler, an HTTP API request,
// a feed of the application's), HandleEphemeral inside PublishEphemeral,
// HandlePresence inside AddPresence and RemovePresence; HandleControl,
// HandleQuery and HandleReset are never called. This is what gives a room
// its one order without a goroutine of the broker's. So a handler must not
// call the broker (the room's lock is held: it would deadlock) and must not
// block: it only queues frames, as the server's does.
//
// The sweeper, the broker's only goroutine, forgets rooms whose history
// expired; it runs when the history has a TTL and stops with Close.
package memory
