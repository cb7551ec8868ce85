//go:build js && wasm

package client

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/tetherkit/tether/internal/jsexc"
)

// defaultOutboxStore is a BrowserOutboxStore when the page has
// localStorage, else none.
func defaultOutboxStore() OutboxStore {
	if s := NewBrowserOutboxStore(); s != nil {
		return s
	}
	return nil
}

// BrowserOutboxStore is the OutboxStore of browser pages: one localStorage
// item per owner (key "tether.outbox|<scope>|<owner>"), written by its owner
// only, and taken over by another page under a Web Lock
// (navigator.locks) named after the scope, so two tabs of one user never
// claim the same record. Where the browser has no Web Locks (an insecure
// origin) claims are not serialised between tabs: two tabs opened at the
// same moment could both send a left-over line, and the server then applies
// it once (same idempotency key) but both tabs see its answer. Create it
// with NewBrowserOutboxStore.
type BrowserOutboxStore struct {
	storage js.Value

	mu   sync.Mutex
	mine map[string]bool // items this store wrote and has not deleted
}

// NewBrowserOutboxStore returns a store on the page's localStorage, or nil
// when the page has none (or may not use it).
func NewBrowserOutboxStore() *BrowserOutboxStore {
	var storage js.Value
	if err := jsexc.Catch(func() { storage = js.Global().Get("localStorage") }); err != nil || !storage.Truthy() {
		return nil
	}
	return &BrowserOutboxStore{storage: storage, mine: make(map[string]bool)}
}

// storedRecord is one owner's item.
type storedRecord struct {
	Lease int64        `json:"lease"` // Unix ms; the record is its owner's until then
	Since int64        `json:"since"` // Unix ms when the record was first written: claims keep this order
	Sends []StoredSend `json:"sends"`
}

func recordPrefix(scope string) string { return "tether.outbox|" + scope + "|" }

// get reads the item key; ok is false when there is none (or it is not a
// record).
func (s *BrowserOutboxStore) get(key string) (rec storedRecord, ok bool, err error) {
	var v js.Value
	if err := jsexc.Catch(func() { v = s.storage.Call("getItem", key) }); err != nil {
		return rec, false, fmt.Errorf("localStorage.getItem: %w", err)
	}
	if v.Type() != js.TypeString {
		return rec, false, nil
	}
	if json.Unmarshal([]byte(v.String()), &rec) != nil {
		return rec, false, nil
	}
	return rec, true, nil
}

func (s *BrowserOutboxStore) put(key string, rec storedRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := jsexc.Catch(func() { s.storage.Call("setItem", key, string(b)) }); err != nil {
		return fmt.Errorf("localStorage.setItem: %w", err) // QuotaExceededError
	}
	return nil
}

func (s *BrowserOutboxStore) remove(key string) {
	_ = jsexc.Catch(func() { s.storage.Call("removeItem", key) })
}

// keys returns the items of scope.
func (s *BrowserOutboxStore) keys(scope string) []string {
	prefix := recordPrefix(scope)
	var out []string
	_ = jsexc.Catch(func() {
		n := s.storage.Get("length").Int()
		for i := range n {
			if k := s.storage.Call("key", i); k.Type() == js.TypeString && strings.HasPrefix(k.String(), prefix) {
				out = append(out, k.String())
			}
		}
	})
	return out
}

// Save implements OutboxStore.
func (s *BrowserOutboxStore) Save(scope, owner string, sends []StoredSend) error {
	key := recordPrefix(scope) + owner
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok, err := s.get(key)
	if err != nil {
		return err
	}
	if s.mine[key] && !ok {
		delete(s.mine, key)
		return ErrOutboxTaken
	}
	if len(sends) == 0 {
		s.remove(key)
		delete(s.mine, key)
		return nil
	}
	now := time.Now().UnixMilli()
	since := now
	if ok {
		since = cur.Since
	}
	if err := s.put(key, storedRecord{Lease: now + OutboxLease.Milliseconds(), Since: since, Sends: sends}); err != nil {
		return err
	}
	s.mine[key] = true
	return nil
}

// Release implements OutboxStore.
func (s *BrowserOutboxStore) Release(scope, owner string) {
	key := recordPrefix(scope) + owner
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok, _ := s.get(key); ok {
		rec.Lease = 0
		_ = s.put(key, rec)
	}
}

// Claim implements OutboxStore.
func (s *BrowserOutboxStore) Claim(ctx context.Context, scope, owner string) ([]StoredSend, error) {
	var (
		claimed []StoredSend
		err     error
	)
	lockErr := withWebLock(ctx, "tether.outbox|"+scope, func() {
		claimed, err = s.claim(scope, owner)
	})
	if lockErr != nil {
		return nil, lockErr
	}
	return claimed, err
}

// claim is Claim under the scope's lock.
func (s *BrowserOutboxStore) claim(scope, owner string) ([]StoredSend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	own := recordPrefix(scope) + owner
	now := time.Now().UnixMilli()
	type orphan struct {
		key string
		rec storedRecord
	}
	var orphans []orphan
	for _, k := range s.keys(scope) {
		if k == own {
			continue
		}
		rec, ok, err := s.get(k)
		if err != nil {
			return nil, err
		}
		if !ok || rec.Lease <= now {
			orphans = append(orphans, orphan{k, rec})
		}
	}
	if len(orphans) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(orphans, func(a, b orphan) int { return cmp.Compare(a.rec.Since, b.rec.Since) })
	var claimed []StoredSend
	for _, o := range orphans {
		claimed = append(claimed, o.rec.Sends...)
	}
	mine, _, err := s.get(own)
	if err != nil {
		return nil, err
	}
	rec := storedRecord{Lease: now + OutboxLease.Milliseconds(), Since: now,
		Sends: append(slices.Clip(claimed), mine.Sends...)}
	if orphans[0].rec.Since != 0 {
		rec.Since = orphans[0].rec.Since
	}
	// Written before the orphans are deleted: a page closed right now
	// loses nothing (at worst a line is stored twice, and the server
	// applies its key once).
	if err := s.put(own, rec); err != nil {
		return nil, err
	}
	s.mine[own] = true
	for _, o := range orphans {
		s.remove(o.key)
	}
	return claimed, nil
}

// Drop implements OutboxStore.
func (s *BrowserOutboxStore) Drop(scope string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys(scope) {
		s.remove(k)
		delete(s.mine, k)
	}
	return nil
}

// withWebLock runs fn while holding the Web Lock name (navigator.locks),
// or at once when the browser has no Web Locks. It must not be called from
// a JavaScript event handler: the lock's callback runs as a later task.
func withWebLock(ctx context.Context, name string, fn func()) error {
	var locks js.Value
	_ = jsexc.Catch(func() { locks = js.Global().Get("navigator").Get("locks") })
	if !locks.Truthy() {
		fn()
		return nil
	}
	var (
		mu        sync.Mutex
		cancelled bool
		failure   error
	)
	done := make(chan struct{})
	finish := sync.OnceFunc(func() { close(done) })
	ran := false
	granted := js.FuncOf(func(js.Value, []js.Value) any {
		mu.Lock() // held while fn runs: a cancel waits for it
		if !cancelled {
			fn()
			ran = true
		}
		mu.Unlock()
		finish()
		return nil
	})
	failed := js.FuncOf(func(_ js.Value, args []js.Value) any {
		mu.Lock()
		failure = errors.New("the lock was refused")
		if len(args) > 0 && args[0].Truthy() {
			failure = fmt.Errorf("the lock was refused: %s", args[0].Call("toString").String())
		}
		mu.Unlock()
		finish()
		return nil
	})
	if err := jsexc.Catch(func() { locks.Call("request", name, granted).Call("catch", failed) }); err != nil {
		granted.Release()
		failed.Release()
		return fmt.Errorf("web lock %s: %w", name, err)
	}
	select {
	case <-done:
		granted.Release()
		failed.Release()
		mu.Lock()
		defer mu.Unlock()
		if failure != nil {
			return fmt.Errorf("web lock %s: %w", name, failure)
		}
		return nil
	case <-ctx.Done():
		// The callbacks may still run: they stay (a few bytes) and do
		// nothing.
		mu.Lock()
		defer mu.Unlock()
		if ran {
			return nil
		}
		cancelled = true
		return fmt.Errorf("web lock %s: %w", name, ctx.Err())
	}
}
