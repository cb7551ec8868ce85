// Package shared is Tether's message contract: the typed messages that the
// server and the browser client both compile, and the codec that puts them on
// the wire.
//
// A message is a plain Go struct with a method that names it on the wire:
//
//	type ChatSend struct {
//		Room string `json:"room"`
//		Text string `json:"text"`
//	}
//
//	func (ChatSend) MessageType() string { return "chat.send" }
//
// and one line in [RegisterDemo] (demo.go) makes both sides of Tether's demo
// app understand it. A program of its own starts from [NewSystemRegistry],
// registers its types with [Register] and hands the registry to the server
// and its clients (see the example). Every frame is an [Envelope] encoded as
// JSON; see docs/protocol.md for the full protocol.
//
// The protocol's own messages are in system.go; the demo app's in demo.go
// and dice.go. This package imports only the standard library and builds
// for linux and js/wasm.
package shared
