// Package layout holds the test that keeps the kit apart from its apps:
// no package of the kit (shared, server, client, broker, internal, …),
// tests included, imports the demo, an example or a command, for linux and
// for js/wasm alike (`go list -deps` shows it). It has no code.
package layout
