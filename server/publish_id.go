package server

import (
	"context"
	"strconv"
	"sync/atomic"
)

// keyedRunKey is the context key of the keyed request a handler runs.
type keyedRunKey struct{}

// keyedRunIDs numbers the publications of one run of a keyed request.
type keyedRunIDs struct {
	base string // the user and the key
	n    atomic.Uint64
}

// withKeyedRun returns the handler's ctx for a run of user's request with
// key: the publications it makes get ids base.1, base.2… in their order,
// the same ids when the request runs again after an unavailable answer.
func withKeyedRun(ctx context.Context, user, key string) context.Context {
	return context.WithValue(ctx, keyedRunKey{}, &keyedRunIDs{base: strconv.Itoa(len(user)) + ":" + user + ":" + key})
}

// nextPublishID is the id of the next publication of the keyed run in ctx,
// "" outside a keyed run.
func nextPublishID(ctx context.Context) string {
	r, _ := ctx.Value(keyedRunKey{}).(*keyedRunIDs)
	if r == nil {
		return ""
	}
	return r.base + ":" + strconv.FormatUint(r.n.Add(1), 10)
}
