package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/tetherkit/tether/shared"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// writeError writes err as an ErrorBody. A *shared.Error is sent as is;
// anything else is an internal error whose text is not revealed.
func writeError(w http.ResponseWriter, status int, err error) {
	var e *shared.Error
	if !errors.As(err, &e) {
		e = &shared.Error{Code: shared.CodeInternal, Message: "internal error"}
	}
	writeJSON(w, status, ErrorBody{Error: *e})
}

// internalError logs err (the client only learns "internal error") and
// answers 500.
func (h *Handler) internalError(w http.ResponseWriter, what string, err error) {
	h.cfg.Logger.Error("api: "+what, "err", err)
	writeError(w, http.StatusInternalServerError, err)
}

// partial logs err, a failure to reach every node of a cluster after this
// node did its part, and reports whether there was one: the answer is then
// partial, not an error.
func (h *Handler) partial(what string, err error) bool {
	if err == nil {
		return false
	}
	h.cfg.Logger.Warn("api: "+what+": not every node answered", "err", err)
	return true
}

// unavailable logs err and answers 503 with code unavailable: the server
// cannot answer now (in a cluster, NATS is unreachable), and an empty answer
// would be a lie.
func (h *Handler) unavailable(w http.ResponseWriter, what string, err error) {
	h.cfg.Logger.Warn("api: "+what, "err", err)
	writeError(w, http.StatusServiceUnavailable, &shared.Error{Code: shared.CodeUnavailable, Message: "the server cannot answer this now, try again"})
}
