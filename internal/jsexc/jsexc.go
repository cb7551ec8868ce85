// Package jsexc turns a JavaScript exception into a Go error. In a
// js/wasm program, a syscall/js call whose JavaScript throws panics with a
// js.Error; the code that calls into the browser (the client's socket and
// storage, the fetch wrapper, the demo's storage) must not crash the
// program for it.
package jsexc

import "fmt"

// Catch runs fn and returns what it panicked with as an error: the
// js.Error itself (an error) when JavaScript threw, or the value wrapped
// in one. It returns nil when fn returned.
func Catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	fn()
	return nil
}
