// Package client is Tether's client core: typed message handlers, requests
// with replies, room membership with gap-free resume, an application
// heartbeat and automatic reconnection with backoff.
//
// It is platform independent. The WebSocket itself comes from a [Transport]:
// [NativeTransport] (gorilla/websocket) for Go programs, bots, load tools and
// tests, and BrowserTransport (syscall/js) when compiled to js/wasm. The rest
// of the package imports neither net/http nor syscall/js, so the same code
// runs in a server-side bot and in the browser.
//
// A typical program, with chat the app's own package of message types
// (chat.Send, chat.Message) registered in reg, the registry its server has
// too (shared.NewRegistry() plus shared.Register for each type):
//
//	c, err := client.New(client.Config{URL: "wss://example.com/ws", Registry: reg, Token: fetchToken})
//	if err != nil { ... }
//	client.On(c, func(m chat.Message) { show(m) })
//	go c.Run(ctx)
//	joined, err := c.Join(ctx, "lobby", 50)
//	err = c.Send(ctx, chat.Send{Room: "lobby", Text: "hi"})
//
// # Concurrency
//
// All methods are safe for concurrent use. Message handlers ([On],
// [OnMeta], [Client.OnJoined]) and state callbacks ([Client.OnState]) run
// on the goroutine of [Client.Run], one at a time, in the order the frames
// arrived. They must not block: while one runs no other frame is read. In
// particular they must not wait for [Request], [Client.Join] or
// [Client.Leave], whose replies are read by that very goroutine; start a
// goroutine for those. [Client.Send] may be called from a handler.
//
// # Hooks
//
// [Client.OnState], [Client.OnJoined] and [Client.OnGap] each get one struct
// ([StateInfo], shared.Joined, [Gap]), as the server's hooks get one event
// struct each. [On] and [OnMeta] panic at setup, naming the type, when the
// type is not in Config.Registry (such a handler could never run), as
// server.Handle does.
//
// # Sends that survive a reconnect
//
// [Client.Send] queues the message in an outbox and sends it with an
// idempotency key, again after a reconnect when it was not answered, so the
// server applies it exactly once, in the order of the Send calls; a full
// outbox is [ErrOutboxFull]. [Request] does the same with [Retry]. See
// docs/protocol.md §3. With an [OutboxStore] (in the browser by default:
// localStorage) the outbox also survives the client: what a page queued
// and never had answered is sent by the user's next page, and
// [Client.DropOutbox] forgets it at sign-out.
//
// # The page's lifecycle
//
// Under js/wasm, [Client.Run] follows the Page Lifecycle by itself: when
// the browser hides the page for good or freezes it (pagehide, freeze) the
// client closes its connection at once ([Client.Hide]), so the page leaves
// presence instead of lingering, frozen, in the back/forward cache; when the
// page is shown again (pageshow from the cache, resume) it reconnects and
// resumes its rooms ([Client.Show]). It also asks the server for
// application pings, which a frozen page cannot answer (docs/protocol.md
// §6).
//
// # Tokens
//
// A handshake refused with HTTP 401 or 403 is final: [Client.Run] returns a
// [*HandshakeError] and a waiting [Client.Join] fails with it. With
// [Config.Token] the client refreshes the connection's token in-band
// before it expires ([Client.Refresh] does it by hand), so the server does
// not close the connection with 1008.
//
// # Rooms and resume
//
// The client remembers the rooms it joined and, for each, the room's epoch
// and the last sequence number it processed. After a reconnect it joins them
// again asking the server to replay what it missed, and it drops any room
// message it has already processed, so each room message reaches the
// handlers at most once. [shared.Joined.Recovered] tells whether the replay
// was complete. See docs/protocol.md §7.
package client
