package ui

import (
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Nickname limits.
const (
	maxNickLen = 32 // characters
	maxUserLen = 64 // bytes, docs/protocol.md §1
)

// cleanNick trims a typed nickname and bounds its length; "" means invalid.
func cleanNick(nick string) string {
	nick = strings.Join(strings.Fields(nick), " ")
	if utf8.RuneCountInString(nick) > maxNickLen {
		nick = string([]rune(nick)[:maxNickLen])
	}
	return nick
}

// userID derives the placeholder user id (docs/protocol.md §1: 1–64
// characters of [A-Za-z0-9._-]) from a nickname: lower case, every other run
// of characters becomes one "-". A nickname without any such character
// ("李雷") gets "u-" and a hash, so it is stable too.
func userID(nick string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(nick) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	id := strings.Trim(b.String(), "-.")
	if len(id) > maxUserLen {
		id = strings.TrimRight(id[:maxUserLen], "-.")
	}
	if id == "" {
		h := fnv.New32a()
		h.Write([]byte(nick))
		id = "u-" + strconv.FormatUint(uint64(h.Sum32()), 36)
	}
	return id
}

// socketURL is the WebSocket endpoint of the server that served page, with
// the placeholder identity of docs/protocol.md §1 when user is not empty.
func socketURL(page *url.URL, user, nick string) string {
	scheme := "ws"
	if page.Scheme == "https" {
		scheme = "wss"
	}
	u := url.URL{Scheme: scheme, Host: page.Host, Path: "/ws"}
	if user != "" {
		u.RawQuery = url.Values{"user": {user}, "name": {nick}}.Encode()
	}
	return u.String()
}
