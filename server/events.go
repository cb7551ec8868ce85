package server

// The hooks of Config each get one event struct, so that an event can carry
// more later without breaking the hooks written against it (centrifuge's
// way). A hook that may refuse (CanJoin, OnConnect) also gets the
// connection's context and returns an error; a hook that is only told
// (OnDisconnect, OnPing, OnPong, OnError) gets the event alone.

// ConnectEvent is what Config.OnConnect gets: a connection that has just
// been welcomed.
type ConnectEvent struct {
	// Conn is the new connection.
	Conn *Conn
}

// JoinEvent is what Config.CanJoin gets: a connection asking to join a room.
type JoinEvent struct {
	// Conn is the connection that sent the join.
	Conn *Conn
	// Room is the room it asks for.
	Room string
}

// DisconnectEvent is what Config.OnDisconnect gets: a connection whose
// goroutines have stopped.
type DisconnectEvent struct {
	// Conn is the connection that ended.
	Conn *Conn
	// Code is the close code: the peer's, the server's, or 1006 when the
	// connection was lost.
	Code int
	// Reason is the close frame's reason, if any.
	Reason string
}

// PingEvent is what Config.OnPing gets: the client sent a ping.
type PingEvent struct {
	// Conn is the connection that pinged.
	Conn *Conn
}

// PongEvent is what Config.OnPong gets: the client answered the server's
// ping.
type PongEvent struct {
	// Conn is the connection that answered.
	Conn *Conn
}

// ErrorEvent is what Config.OnError gets: a decode, handler or write error
// of a connection.
type ErrorEvent struct {
	// Conn is the connection the error happened on.
	Conn *Conn
	// Err is the error, wrapped with what was being done.
	Err error
}
