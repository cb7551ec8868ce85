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
// and one line in [NewRegistry] makes both sides understand it. Every frame is
// an [Envelope] encoded as JSON; see docs/protocol.md for the full protocol.
//
// This package imports only the standard library and builds for linux and
// js/wasm.
package shared
