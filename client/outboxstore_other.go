//go:build !(js && wasm)

package client

// defaultOutboxStore: a native client's outbox lives in memory only unless
// Config.OutboxStore names a store.
func defaultOutboxStore() OutboxStore { return nil }
