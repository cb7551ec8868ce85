package msg

import "unicode/utf8"

// WhereMap is the demo's keyed-state room (docs/protocol.md §11) of who is
// on which page: one key per user id, the value a Whereabouts.
const WhereMap = "where"

// WhereTTL is how long a user's entry lives unless written again: the web
// app writes it on every navigation and every WhereTTL/2, so a user whose
// app is gone drops off the board within WhereTTL.
const WhereTTL = 60_000 // ms

// Whereabouts is a user's entry in WhereMap: where the user is in the web
// app. It is a map value, not a message: it travels in map.* messages.
type Whereabouts struct {
	// Name is the user's display name (set by the server from the
	// connection's identity).
	Name string `json:"name"`
	// Page is the app page the user is on, e.g. "/ticker".
	Page string `json:"page"`
}

// ValidPage checks a Whereabouts page: 1 to 32 bytes starting with '/'.
func ValidPage(p string) bool {
	return len(p) >= 1 && len(p) <= 32 && p[0] == '/' && utf8.ValidString(p)
}
