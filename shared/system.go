package shared

import (
	"encoding/json"
	"fmt"
)

// System message types. Their wire names have no dot, except the presence
// family; application types should use a dotted "area.name" form.

// registerSystem registers the messages of the Tether protocol itself.
func registerSystem(r *Registry) {
	Register[Hello](r)
	Register[Welcome](r)
	Register[Join](r)
	Register[Joined](r)
	Register[Leave](r)
	Register[Left](r)
	Register[PresenceJoin](r)
	Register[PresenceLeave](r)
	Register[PresenceList](r)
	Register[Error](r)
	Register[Ping](r)
	Register[Pong](r)
	Register[Kicked](r)
	Register[Reply](r)
	Register[Refresh](r)
	Register[Refreshed](r)
	Register[History](r)
	Register[Last](r)
	registerMaps(r)
}

// Member is one user present in a room. A user with several connections is
// one member.
type Member struct {
	// User is the stable user id.
	User string `json:"user"`
	// Name is the display name.
	Name string `json:"name,omitempty"`
}

// Hello is optionally sent by the client as its first message to describe
// itself. The server answers every connection with Welcome whether or not
// Hello was sent.
type Hello struct {
	// Client names the client library and version, e.g. "tether-go/0.1".
	Client string `json:"client,omitempty"`
	// AppPing asks the server to check with application pings that the
	// client still runs (docs/protocol.md §6): after Welcome.AppPingMS
	// without a message from the client the server sends ping, and it closes
	// the connection (4003) when nothing arrives within another AppPingMS.
	// Browser clients set it: a frozen or cached page still answers the
	// WebSocket's own pings.
	AppPing bool `json:"app_ping,omitempty"`
}

// MessageType implements Message.
func (Hello) MessageType() string { return "hello" }

// Welcome is the first message the server sends on every connection.
type Welcome struct {
	// Conn is the connection's unique id.
	Conn string `json:"conn"`
	// User is the authenticated user id.
	User string `json:"user"`
	// Name is the user's display name.
	Name string `json:"name,omitempty"`
	// HeartbeatMS is the server's ping interval in milliseconds; a client
	// that hears nothing for about twice this long should reconnect.
	HeartbeatMS int64 `json:"heartbeat_ms"`
	// Server names the server version.
	Server string `json:"server,omitempty"`
	// ExpiresMS is when the connection's token expires, in Unix
	// milliseconds (the connection is then closed with 1008 unless a
	// Refresh moved it); 0: never.
	ExpiresMS int64 `json:"expires_ms,omitempty"`
	// AppPingMS is the application ping interval in milliseconds for a
	// client that asks for it (Hello.AppPing): silent this long, it gets a
	// ping; silent twice this long, it is dropped. 0: the server does not
	// offer application pings.
	AppPingMS int64 `json:"app_ping_ms,omitempty"`
}

// MessageType implements Message.
func (Welcome) MessageType() string { return "welcome" }

// Join asks to join a room. Send it as a request (with an id): the server
// answers with Joined or Error.
type Join struct {
	// Room is the room name.
	Room string `json:"room"`
	// Since is the last seq the client has seen in this room; with Epoch it
	// asks the server to replay what came after. Nil means a fresh join.
	Since *uint64 `json:"since,omitempty"`
	// Epoch is the room epoch that Since belongs to.
	Epoch string `json:"epoch,omitempty"`
	// History asks for up to this many recent messages when the join is not a
	// successful resume (fresh join, or recovery failed). The server caps it.
	History int `json:"history,omitempty"`
}

// MessageType implements Message.
func (Join) MessageType() string { return "join" }

// Validate implements Validator.
func (j Join) Validate() error { return ValidRoom(j.Room) }

// Joined confirms a join. The replayed messages follow it, in order, before
// any live message of the room.
type Joined struct {
	// Room is the room joined.
	Room string `json:"room"`
	// Epoch identifies this incarnation of the room's sequence; when it
	// changes, seqs start again from 1.
	Epoch string `json:"epoch"`
	// Seq is the room's last assigned seq at the moment of joining.
	Seq uint64 `json:"seq"`
	// Recovered is true when the join asked to resume (Since set) and every
	// message after Since is being replayed.
	Recovered bool `json:"recovered"`
	// Replayed is how many messages follow this one as replay or history.
	Replayed int `json:"replayed"`
	// Last is how many last values the Last message right after this one
	// carries (docs/protocol.md §10); 0: no Last message follows. They are
	// state, not replay, and not counted in Replayed.
	Last int `json:"last,omitempty"`
	// Members is the room's current presence, including the joiner.
	Members []Member `json:"members"`
}

// MessageType implements Message.
func (Joined) MessageType() string { return "joined" }

// Leave asks to leave a room.
type Leave struct {
	// Room is the room to leave.
	Room string `json:"room"`
}

// MessageType implements Message.
func (Leave) MessageType() string { return "leave" }

// Validate implements Validator.
func (l Leave) Validate() error { return ValidRoom(l.Room) }

// Left confirms a leave.
type Left struct {
	// Room is the room left.
	Room string `json:"room"`
}

// MessageType implements Message.
func (Left) MessageType() string { return "left" }

// PresenceJoin tells room members that a user arrived (their first
// connection joined).
type PresenceJoin struct {
	// Room is the room.
	Room string `json:"room"`
	// Member is the user who arrived.
	Member Member `json:"member"`
}

// MessageType implements Message.
func (PresenceJoin) MessageType() string { return "presence.join" }

// PresenceLeave tells room members that a user left (their last connection
// left or closed).
type PresenceLeave struct {
	// Room is the room.
	Room string `json:"room"`
	// Member is the user who left.
	Member Member `json:"member"`
}

// MessageType implements Message.
func (PresenceLeave) MessageType() string { return "presence.leave" }

// PresenceList asks for (client → server, Members empty) or carries
// (server → client) a room's members.
type PresenceList struct {
	// Room is the room.
	Room string `json:"room"`
	// Members is the room's members, sorted by user id.
	Members []Member `json:"members,omitempty"`
}

// MessageType implements Message.
func (PresenceList) MessageType() string { return "presence.list" }

// Validate implements Validator.
func (p PresenceList) Validate() error { return ValidRoom(p.Room) }

// Error reports a failure to the client. When it is about a request, the
// envelope's ID is the request's id.
type Error struct {
	// Code is a stable, machine-readable code (see the Code constants).
	Code string `json:"code"`
	// Message is a human sentence.
	Message string `json:"message"`
	// Field names the offending field of the request, when known.
	Field string `json:"field,omitempty"`
	// Err is the cause, on the side that made the error, when there is one:
	// e.g. context.DeadlineExceeded for the Go client's timeout, so that
	// errors.Is(err, context.DeadlineExceeded) holds. It is never sent.
	Err error `json:"-"`
}

// MessageType implements Message.
func (Error) MessageType() string { return "error" }

// Error implements error, so an *Error can be returned and matched with
// errors.As.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Code + ": " + e.Message + " (field " + e.Field + ")"
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause, Err.
func (e *Error) Unwrap() error { return e.Err }

// Stable error codes carried by Error.Code.
const (
	CodeMalformed    = "malformed"    // the frame is not a valid envelope
	CodeUnknownType  = "unknown_type" // no such message type
	CodeBadData      = "bad_data"     // data does not fit the type
	CodeNoHandler    = "no_handler"   // known type the server does not accept from clients
	CodeNotJoined    = "not_joined"   // the room operation needs a join first
	CodeForbidden    = "forbidden"    // not allowed for this user
	CodeUnauthorized = "unauthorized" // the token is missing, invalid or expired
	CodeRateLimited  = "rate_limited" // too many messages; slow down
	CodeNotFound     = "not_found"    // no such connection, user or room
	CodeInternal     = "internal"     // server-side failure; details are logged
	CodeUnavailable  = "unavailable"  // not run or answered now (its idempotency key could not be checked, its first run has not finished, the room's presence is unknown): send it again later
	CodeTimeout      = "timeout"      // client side: no reply in time
	CodeClosed       = "closed"       // client side: the connection closed first
	CodeRejected     = "rejected"     // the handler refused the request
	CodeConflict     = "conflict"     // a conditional map write lost: the key's revision moved; read and retry
)

// Ping is the application-level heartbeat. The server answers a client's
// Ping with Pong carrying the same ID; a client that asked for application
// pings (Hello.AppPing) answers the server's Ping with Pong.
type Ping struct{}

// MessageType implements Message.
func (Ping) MessageType() string { return "ping" }

// Pong answers Ping, in either direction.
type Pong struct{}

// MessageType implements Message.
func (Pong) MessageType() string { return "pong" }

// Refresh replaces the connection's token without reconnecting: the server
// verifies Token as it verifies a handshake's, requires the same user, and
// moves the connection's expiry to the new token's. It answers Refreshed,
// or an error (unauthorized, forbidden) that leaves the old expiry.
type Refresh struct {
	// Token is the fresh token.
	Token string `json:"token"`
}

// MessageType implements Message.
func (Refresh) MessageType() string { return "refresh" }

// Validate implements Validator.
func (m Refresh) Validate() error {
	if m.Token == "" {
		return &FieldError{Field: "token", Problem: "is required"}
	}
	return nil
}

// Refreshed answers Refresh.
type Refreshed struct {
	// ExpiresMS is the connection's new expiry, in Unix milliseconds; 0:
	// never.
	ExpiresMS int64 `json:"expires_ms,omitempty"`
}

// MessageType implements Message.
func (Refreshed) MessageType() string { return "refreshed" }

// Kicked is sent just before the server closes a connection on purpose
// (close code CloseKicked). Clients must not reconnect automatically.
type Kicked struct {
	// Reason is a human sentence shown to the user.
	Reason string `json:"reason"`
}

// MessageType implements Message.
func (Kicked) MessageType() string { return "kicked" }

// Reply acknowledges a request whose handler returned no message.
type Reply struct {
	// OK is always true; failures are Error.
	OK bool `json:"ok"`
}

// MessageType implements Message.
func (Reply) MessageType() string { return "reply" }

// MaxRoomLen bounds a room name.
const MaxRoomLen = 128

// ValidRoom checks a room name: 1 to MaxRoomLen printable ASCII characters
// without spaces.
func ValidRoom(room string) error {
	if room == "" {
		return &FieldError{Field: "room", Problem: "is required"}
	}
	if len(room) > MaxRoomLen {
		return &FieldError{Field: "room", Problem: "is longer than 128 characters"} // ASCII: characters are bytes
	}
	for i := 0; i < len(room); i++ {
		if c := room[i]; c <= ' ' || c > '~' {
			return &FieldError{Field: "room", Problem: "must be printable ASCII without spaces"}
		}
	}
	return nil
}

// WebSocket close codes used by Tether. 1000–1011 are RFC 6455's; 4000–4999
// are Tether's own.
const (
	CloseNormal          = 1000 // client or server closed on purpose
	CloseGoingAway       = 1001 // server shutting down; reconnect
	CloseProtocolError   = 1002 // WebSocket protocol violation
	CloseInvalidPayload  = 1007 // text frame not valid UTF-8
	ClosePolicyViolation = 1008 // policy: rate limit abuse, token expired
	CloseTooBig          = 1009 // message over the read limit
	CloseInternalError   = 1011 // server bug
	CloseKicked          = 4000 // kicked by the server; do not reconnect
	CloseRejected        = 4001 // refused by the connect hook; do not reconnect
	CloseSlowConsumer    = 4002 // send queue overflowed; reconnect and resume
	CloseHeartbeat       = 4003 // no pong within the heartbeat timeout
)

// --- History paging (docs/protocol.md §4 "history") ---

// History limits: a history request without a limit gets
// DefaultHistoryLimit messages, and may ask for at most MaxHistoryLimit.
const (
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 100
)

// CodeTooManyRooms refuses a join over the connection's room limit.
const CodeTooManyRooms = "too_many_rooms"

// History asks for (client → server: Room, Before, Limit, Epoch) or carries
// (server → client: Room, Epoch, Seq, Publications, More, Dropped) a page of
// a joined room's kept messages: the newest Limit with a seq below Before.
type History struct {
	// Room is the room; the requesting connection must have joined it.
	Room string `json:"room"`
	// Before asks for messages with a seq below it; 0 means the newest.
	Before uint64 `json:"before,omitempty"`
	// Limit is how many messages to return at most; 0 means
	// DefaultHistoryLimit, and it may not exceed MaxHistoryLimit.
	Limit int `json:"limit,omitempty"`
	// Epoch is, in a request, the epoch that Before belongs to (optional);
	// in a reply, the room's epoch.
	Epoch string `json:"epoch,omitempty"`
	// Seq is the room's head (its last seq) at the read.
	Seq uint64 `json:"seq,omitempty"`
	// Publications are the messages, oldest first, each the envelope it was
	// published as (with room and seq), with consecutive seqs.
	Publications []json.RawMessage `json:"publications,omitempty"`
	// More is set when the room keeps messages older than the first one
	// here: ask again with Before set to its seq.
	More bool `json:"more,omitempty"`
	// Dropped is set when More is not and messages of this epoch older than
	// the first one here (or than Before when there is none) existed but are
	// no longer kept, or when the request's Epoch is not the room's.
	Dropped bool `json:"dropped,omitempty"`
}

// MessageType implements Message.
func (History) MessageType() string { return "history" }

// Validate implements Validator.
func (h History) Validate() error {
	if err := ValidRoom(h.Room); err != nil {
		return err
	}
	if h.Limit < 0 || h.Limit > MaxHistoryLimit {
		return &FieldError{Field: "limit", Problem: fmt.Sprintf("must be between 1 and %d (0 or omitted: %d)", MaxHistoryLimit, DefaultHistoryLimit)}
	}
	return nil
}
