// Package server is Tether's real-time server: a WebSocket
// endpoint that speaks the protocol of docs/protocol.md, with typed handlers,
// rooms with sequence numbers, bounded history and resume, presence, and
// server-side sends to a connection, a user, a room or everyone. One process
// by default; several behind a load balancer with Config.Broker set to a
// cluster broker (broker/nats).
//
// A Server is an http.Handler; mount it at /ws. With chat, the app's own
// package of message types (chat.Send, chat.Message), registered in reg (a
// shared.NewRegistry() plus shared.Register for each type):
//
//	srv, err := server.New(server.Config{Registry: reg, Authenticate: a.Authenticate, VerifyToken: a.Verify, Logger: logger})
//	if err != nil { ... }
//	server.Handle(srv, func(ctx context.Context, c *server.Conn, m chat.Send) error {
//		_, _, err := srv.Publish(ctx, m.Room, chat.Message{Room: m.Room, User: c.User(), Text: m.Text})
//		return err
//	})
//	mux.Handle("/ws", srv)
//	hs := &http.Server{Handler: mux}
//	srv.ConfigureHTTPServer(hs) // the handshake timeout
//	...
//	srv.Shutdown(ctx)
//
// Hooks. Config's hooks each get one event struct (ConnectEvent,
// JoinEvent, DisconnectEvent, PingEvent, PongEvent, ErrorEvent) that can
// carry more later without breaking them; the two that may refuse
// (OnConnect, CanJoin) also get the connection's context and return an
// error. Handle and HandleRequest panic at setup, naming the type, when the
// type is not in Config.Registry, as client.On does on the client.
//
// Concurrency model. One goroutine writes to a connection's socket, its
// writer: data, the heartbeat pings, the pongs to the client's pings and
// every close frame (the reader hands those to the writer, and they go ahead
// of queued data). The writer runs while there is something to write: it
// returns as soon as it has written what was due, and the next message,
// ping or pong starts another, so that an idle connection has no writer. A connection is read one
// message at a time, and its handlers run one at a time in the order the
// messages arrived, each on a short-lived goroutine of its own, so that the
// reader's stack stays small. On Linux, for a plain TCP socket, an idle
// connection has no reader goroutine at all: the node's epoll poller starts
// a reader when the socket has bytes, and the reader returns at a message
// boundary with nothing buffered; elsewhere (TLS served by the Server
// itself, other systems) every connection has a reader goroutine waiting in
// a read. The read buffer (1 KiB, pooled) is held only while a frame
// arrives. Heartbeat pings and timeouts, token expiries and application
// pings are the node's timers: one goroutine ticks while the node has
// connections. Everything else (handlers of other connections, Publish,
// Broadcast, Kick) hands frames to the writer through a bounded queue and
// never blocks: a connection whose queue overflows is closed with code 4002
// (slow consumer). Messages for several connections are framed once, as a
// websocket.PreparedMessage, and the writer sends everything queued when it
// wakes in one socket write, still one message per WebSocket frame.
//
// Who runs the broker's callbacks. The Broker (Config.Broker) calls the
// server's broker.Handler for the events of the rooms this node has
// members in. With the memory broker (broker/memory, the default) every
// callback runs synchronously on the goroutine of the call that caused it
// (Publish, PublishEphemeral, a join's or leave's presence change) with the
// room's lock held; with the NATS broker (broker/nats) a room's publications
// run on that room's live-subscription goroutine, presence on the broker's
// presence watcher, sends and kicks from other nodes on its control
// subscription. Either way the server's handler blocks on nothing but short
// locks (the room's, a connection's queue): it frames a message once and
// queues it to each member, closing a member whose queue is full (4002)
// instead of waiting. So a room's delivery never waits for a slow client.
// Your message handlers (Handle, HandleRequest) run for each connection's
// reader (one at a time, in order), never inside a broker callback: they may
// call Publish and the other sends, which may block on the broker (bounded by
// their ctx).
//
// Hardening. Before the upgrade a handshake is authenticated (an expired
// Identity is refused), its Origin checked and its user's and IP's connection
// slots counted (Config.MaxConnsPerUser, MaxConnsPerIP: HTTP 429). Once
// connected, each connection has a message rate limit (Config.MessageRate,
// MessageBurst), a read limit that also bounds decompressed messages
// (Config.ReadLimit, Compression) and, when its Identity expires, a close
// with 1008. Frames that break RFC 6455 are refused by gorilla/websocket with
// 1002; the server records that code. Config.Observer receives the events
// of all of it, for metrics.
//
// Rooms are created by their first join or publish. A room's seqs, history
// and presence belong to its broker.Broker (Config.Broker; broker/memory by
// default, broker/nats for a cluster), and the server never asks which one it
// has: one process is a one-node cluster. The broker assigns each publish the
// room's next seq and appends it to the history in one step, and feeds each
// node the room's messages in one order. A node keeps only its own members
// and frames each message once for them. A join is gap-free: the joiner is
// added as pending (the feed is kept for it) before the history is read, and
// then joined, the replay and what the feed brought meanwhile (minus what the
// replay had) are queued under the room's lock.
package server
