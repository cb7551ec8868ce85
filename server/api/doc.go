// Package api is Tether's HTTP API for backends: push typed messages to a
// connection, a user, a room or everyone, kick a user, and read presence,
// connections and statistics. It is documented, with curl examples, in
// docs/api.md.
//
// Every request is authenticated by an API key (Authorization: Bearer KEY)
// when keys are configured, and rate limited per key (or per remote address
// when the API is open).
package api
