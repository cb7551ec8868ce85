// Command hello is a tiny wasm main: tether-build's tests build it.
package main

func main() { println("hello from wasm") }
