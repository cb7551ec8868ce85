// Package notmain is a library: tether-build refuses to build it.
package notmain

// Answer is here so that the package has something in it.
const Answer = 42
