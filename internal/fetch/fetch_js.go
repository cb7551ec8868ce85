//go:build js && wasm

package fetch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall/js"

	"github.com/tetherkit/tether/internal/jsexc"
)

// do calls the browser's fetch with the page's cookies (same origin) and no
// cache. It blocks until the answer: call it from a goroutine, never from a
// JavaScript callback.
func do(ctx context.Context, r Request) (Response, error) {
	global := js.Global()
	if global.Get("fetch").Type() != js.TypeFunction {
		return Response{}, errors.New("fetch: this JavaScript runtime has no fetch")
	}
	headers := map[string]any{}
	for k, v := range r.Header {
		headers[k] = v
	}
	init := map[string]any{"method": r.Method, "credentials": "same-origin", "cache": "no-store", "headers": headers}
	if r.Body != nil {
		init["body"] = string(r.Body)
	}
	abort := global.Get("AbortController").New()
	init["signal"] = abort.Get("signal")

	// Exactly one of onText and onErr runs, once; their sends never block.
	type result struct {
		resp Response
		err  error
	}
	done := make(chan result, 1)
	var resp Response
	onText := js.FuncOf(func(_ js.Value, args []js.Value) any {
		b := args[0].String()
		if len(b) > MaxBody {
			b = b[:MaxBody]
		}
		resp.Body = []byte(b)
		done <- result{resp: resp}
		return nil
	})
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "network error"
		if len(args) > 0 && args[0].Truthy() {
			msg = args[0].Call("toString").String()
		}
		done <- result{err: errors.New(msg)}
		return nil
	})
	eachHeader := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resp.Header[strings.ToLower(args[1].String())] = args[0].String()
		return nil
	})
	onResp := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resp.Status = args[0].Get("status").Int()
		resp.Header = map[string]string{}
		args[0].Get("headers").Call("forEach", eachHeader)
		args[0].Call("text").Call("then", onText, onErr)
		return nil
	})
	defer func() {
		onResp.Release()
		eachHeader.Release()
		onText.Release()
		onErr.Release()
	}()
	var p js.Value
	if err := jsexc.Catch(func() { p = global.Call("fetch", r.URL, init) }); err != nil {
		return Response{}, fmt.Errorf("%s %s: %w", r.Method, r.URL, err)
	}
	p.Call("then", onResp, onErr)

	select {
	case res := <-done:
		if res.err != nil {
			return Response{}, fmt.Errorf("%s %s: %w", r.Method, r.URL, res.err)
		}
		return res.resp, nil
	case <-ctx.Done():
		abort.Call("abort") // rejects the promise: wait for it so no callback runs after Release
		<-done
		return Response{}, fmt.Errorf("%s %s: %w", r.Method, r.URL, ctx.Err())
	}
}
