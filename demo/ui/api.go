package ui

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// apiTimeout bounds one HTTP API call.
const apiTimeout = 15 * time.Second

// apiResult is the outcome of an HTTP API call.
type apiResult struct {
	Status int
	Body   []byte
	Err    error // network failure; HTTP errors are in Status and Body
}

// apiError is the error body of the HTTP API (docs/api.md).
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// Problem is a sentence for a failed call, or "" when it succeeded.
func (r apiResult) Problem() string {
	if r.Err != nil {
		return "Request failed: " + r.Err.Error()
	}
	if r.Status >= 200 && r.Status < 300 {
		return ""
	}
	var e apiError
	if json.Unmarshal(r.Body, &e) == nil && e.Error.Message != "" {
		msg := e.Error.Message
		if e.Error.Field != "" {
			msg += " (" + e.Error.Field + ")"
		}
		return msg
	}
	switch r.Status {
	case 401:
		return "The API needs a key: enter it in the API key field."
	case 403:
		return "The API key was refused."
	case 404:
		return "The server has no HTTP API at this address."
	}
	return "HTTP " + strconv.Itoa(r.Status)
}

// callAPI calls the server's HTTP API with the browser's fetch (the wasm
// bundle leaves net/http's client out). body, when not nil, is sent as JSON.
// It blocks until the answer: call it from a goroutine, never from a
// JavaScript callback.
func callAPI(ctx context.Context, method, path, key string, body any) apiResult {
	if !app.IsClient {
		return apiResult{Err: errors.New("not in a browser")}
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()

	headers := map[string]any{"Accept": "application/json"}
	init := map[string]any{"method": method, "credentials": "same-origin", "cache": "no-store"}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiResult{Err: err}
		}
		headers["Content-Type"] = "application/json"
		init["body"] = string(b)
	}
	if key != "" {
		headers["Authorization"] = "Bearer " + key
	}
	init["headers"] = headers
	abort := app.Window().Get("AbortController").New()
	init["signal"] = abort.Get("signal")

	// Exactly one of onText and onErr runs, once; their sends never block.
	done := make(chan apiResult, 1)
	status := 0
	onText := app.FuncOf(func(_ app.Value, args []app.Value) any {
		done <- apiResult{Status: status, Body: []byte(args[0].String())}
		return nil
	})
	onErr := app.FuncOf(func(_ app.Value, args []app.Value) any {
		msg := "network error"
		if len(args) > 0 && args[0].Truthy() {
			msg = args[0].Call("toString").String()
		}
		done <- apiResult{Err: errors.New(msg)}
		return nil
	})
	onResp := app.FuncOf(func(_ app.Value, args []app.Value) any {
		status = args[0].Get("status").Int()
		args[0].Call("text").Call("then", onText, onErr)
		return nil
	})
	defer func() {
		onResp.Release()
		onText.Release()
		onErr.Release()
	}()
	app.Window().Call("fetch", path, init).Call("then", onResp, onErr)

	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		abort.Call("abort") // rejects the promise: wait for it so no callback runs after Release
		<-done
		return apiResult{Err: errors.New("no answer from the server in time")}
	}
}

// apiKey is the HTTP API key typed on the Admin page. It lives in the tab's
// memory only, never in localStorage or sessionStorage, where any script of
// the origin (and anyone at the machine, later) could read it: a reload
// forgets it.
type apiKey struct {
	mu  sync.Mutex
	key string
}

// get returns the key ("" when none was typed).
func (k *apiKey) get() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.key
}

// set replaces the key; "" forgets it.
func (k *apiKey) set(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.key = key
}
