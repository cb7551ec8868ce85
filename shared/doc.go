// Package shared is Tether's protocol: the envelope every frame travels in,
// the registry of message types, the system messages (hello, join, error,
// …) and the strict decoding that both the server and the browser client
// compile. An app's own message types live in the app's own package.
//
// A message is a plain Go struct with a method that names it on the wire:
//
//	type Vote struct {
//		Poll   string `json:"poll"`
//		Choice string `json:"choice"`
//	}
//
//	func (Vote) MessageType() string { return "poll.vote" }
//
// An app starts from [NewRegistry] (the system messages), registers its
// types with [Register] and hands the registry to its server and its
// clients (see the example); a nil registry anywhere means NewRegistry().
// Every frame is an [Envelope] encoded as JSON; see docs/protocol.md for the
// full protocol.
//
// The protocol's own messages are in system.go. This package imports only
// the standard library and builds for linux and js/wasm.
package shared
