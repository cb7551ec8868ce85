package client

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Under js/wasm the runtime parks a goroutine of its own there to
		// receive JavaScript events (timers); it is not the client's.
		goleak.IgnoreAnyFunction("runtime.handleEvent"),
	)
}
