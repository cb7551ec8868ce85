package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// Target kinds accepted by POST /api/push.
const (
	TargetConn = "conn"
	TargetUser = "user"
	TargetRoom = "room"
	TargetAll  = "all"
)

// Target says who receives a push.
type Target struct {
	// Kind is "conn", "user", "room" or "all".
	Kind string `json:"kind"`
	// ID is the connection id, user id or room name; empty for "all".
	ID string `json:"id,omitempty"`
}

// PushRequest is the body of POST /api/push.
type PushRequest struct {
	// Target says who receives the message.
	Target Target `json:"target"`
	// Type is a registered message type, e.g. "notification".
	Type string `json:"type"`
	// Data is the message, shaped like the type's struct.
	Data json.RawMessage `json:"data"`
	// Ephemeral, for room targets only, delivers the message to the room's
	// members now without a seq and without keeping it in the history
	// ("is typing"): members that are not connected never get it.
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// PushResponse is the reply to POST /api/push.
type PushResponse struct {
	// Delivered is how many connections the message was queued to.
	Delivered int `json:"delivered"`
	// Seq is the room sequence number assigned, for room targets.
	Seq uint64 `json:"seq,omitempty"`
	// Ephemeral is true for an ephemeral room push, whose deliveries are
	// not counted (Delivered is 0): the room may span several servers.
	Ephemeral bool `json:"ephemeral,omitempty"`
	// Partial is true when some node of a cluster did not answer in time:
	// it may still deliver, but its count is missing from Delivered.
	Partial bool `json:"partial,omitempty"`
}

// KickRequest is the body of POST /api/kick.
type KickRequest struct {
	// User is the user id to disconnect.
	User string `json:"user"`
	// Reason is shown to the user.
	Reason string `json:"reason"`
	// Ban, when set, is how long the user's handshakes are refused
	// afterwards (HTTP 403 with the reason), as a Go duration: "10m", "2h".
	// At most 720h. Empty: no ban.
	Ban string `json:"ban,omitempty"`
}

// KickResponse is the reply to POST /api/kick.
type KickResponse struct {
	// Closed is how many connections were closed (0: the user was not
	// online).
	Closed int `json:"closed"`
	// BannedUntil is when the ban ends, for a kick with a ban.
	BannedUntil *time.Time `json:"banned_until,omitempty"`
	// Partial is true when some node of a cluster did not answer in time:
	// it may still kick (and ban), but its count is missing from Closed.
	Partial bool `json:"partial,omitempty"`
}

// ErrorBody is the JSON shape of every API error.
type ErrorBody struct {
	// Error describes the failure with a stable code.
	Error shared.Error `json:"error"`
}

// decodeBody strictly decodes a JSON body into dst, naming the bad field.
func (h *Handler) decodeBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, &shared.Error{Code: shared.CodeMalformed, Message: "Content-Type must be application/json"})
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, &shared.Error{Code: shared.CodeMalformed, Message: fmt.Sprintf("body is larger than %d bytes", tooBig.Limit)})
			return false
		}
		writeError(w, http.StatusBadRequest, &shared.Error{Code: shared.CodeMalformed, Message: "reading body: " + err.Error()})
		return false
	}
	// encoding/json keeps the last of a key given twice: refuse instead, as
	// the WebSocket does (docs/api.md).
	var dk *shared.DuplicateKeyError
	if errors.As(shared.DuplicateKey(body, 0), &dk) {
		code := shared.CodeMalformed
		if strings.HasPrefix(dk.Path, "data.") {
			code = shared.CodeBadData // in the pushed message, as in a frame's data
		}
		writeError(w, http.StatusBadRequest, &shared.Error{Code: code, Field: dk.Path,
			Message: fmt.Sprintf("The key %q appears twice; send each key once.", dk.Path)})
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		writeError(w, http.StatusBadRequest, &shared.Error{Code: shared.CodeMalformed,
			Message: "body is not valid JSON for this endpoint: " + err.Error(), Field: shared.JSONField(err)})
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, &shared.Error{Code: shared.CodeMalformed, Message: "trailing data after the JSON body"})
		return false
	}
	return true
}

// ParsePush validates a push request against the registry and returns the
// typed message. Errors are *shared.Error naming the offending field.
func ParsePush(reg *shared.Registry, req PushRequest) (shared.Message, error) {
	switch req.Target.Kind {
	case TargetConn, TargetUser:
		if req.Target.ID == "" {
			return nil, &shared.Error{Code: shared.CodeBadData, Field: "target.id", Message: "target.id is required for kind " + strconv.Quote(req.Target.Kind)}
		}
	case TargetRoom:
		if err := shared.ValidRoom(req.Target.ID); err != nil {
			return nil, &shared.Error{Code: shared.CodeBadData, Field: "target.id", Message: "target.id: " + err.Error()}
		}
	case TargetAll:
		if req.Target.ID != "" {
			return nil, &shared.Error{Code: shared.CodeBadData, Field: "target.id", Message: `target.id must be empty for kind "all"`}
		}
	case "":
		return nil, &shared.Error{Code: shared.CodeBadData, Field: "target.kind", Message: `target.kind is required: "conn", "user", "room" or "all"`}
	default:
		return nil, &shared.Error{Code: shared.CodeBadData, Field: "target.kind", Message: fmt.Sprintf(`target.kind %q is not one of "conn", "user", "room", "all"`, req.Target.Kind)}
	}
	if req.Type == "" {
		return nil, &shared.Error{Code: shared.CodeBadData, Field: "type", Message: "type is required"}
	}
	m, err := reg.Decode(shared.Envelope{Type: req.Type, Data: req.Data})
	if err != nil {
		var de *shared.DecodeError
		e := &shared.Error{Code: shared.CodeBadData, Message: err.Error()}
		if errors.As(err, &de) {
			e.Message, e.Field = de.Sentence(), de.Field
			if errors.Is(err, shared.ErrUnknownType) {
				e.Code, e.Field = shared.CodeUnknownType, "type"
			}
		}
		return nil, e
	}
	return m, nil
}

func (h *Handler) push(w http.ResponseWriter, r *http.Request) {
	var req PushRequest
	if !h.decodeBody(w, r, &req) {
		return
	}
	m, err := ParsePush(h.cfg.Hub.Registry(), req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var resp PushResponse
	if req.Ephemeral {
		if req.Target.Kind != TargetRoom {
			writeError(w, http.StatusBadRequest, &shared.Error{Code: shared.CodeBadData, Field: "ephemeral",
				Message: "only a room push can be ephemeral"})
			return
		}
		if err := h.cfg.Hub.PublishEphemeral(r.Context(), req.Target.ID, m); err != nil {
			h.internalError(w, "ephemeral push to room", err)
			return
		}
		writeJSON(w, http.StatusOK, PushResponse{Ephemeral: true})
		return
	}
	switch req.Target.Kind {
	case TargetConn:
		if err := h.cfg.Hub.Send(r.Context(), req.Target.ID, m); err != nil {
			if errors.Is(err, server.ErrNotFound) || errors.Is(err, server.ErrClosed) {
				writeJSON(w, http.StatusOK, resp) // not delivered: reported as 0, not an error
				return
			}
			h.internalError(w, "push to connection", err)
			return
		}
		resp.Delivered = 1
	case TargetUser:
		resp.Delivered, err = h.cfg.Hub.SendToUser(r.Context(), req.Target.ID, m)
		resp.Partial = h.partial("push to user", err)
	case TargetRoom:
		seq, n, err := h.cfg.Hub.Publish(r.Context(), req.Target.ID, m)
		if err != nil {
			h.internalError(w, "push to room", err)
			return
		}
		resp.Seq, resp.Delivered = seq, n
	case TargetAll:
		resp.Delivered, err = h.cfg.Hub.Broadcast(r.Context(), m)
		resp.Partial = h.partial("push to all", err)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *Handler) kick(w http.ResponseWriter, r *http.Request) {
	var req KickRequest
	if !h.decodeBody(w, r, &req) {
		return
	}
	if req.User == "" {
		writeError(w, http.StatusBadRequest, &shared.Error{Code: shared.CodeBadData, Field: "user", Message: "user is required"})
		return
	}
	if len(req.Reason) > 200 {
		writeError(w, http.StatusBadRequest, &shared.Error{Code: shared.CodeBadData, Field: "reason", Message: "reason is longer than 200 bytes"})
		return
	}
	var ban time.Duration
	if req.Ban != "" {
		d, err := time.ParseDuration(req.Ban)
		if err != nil || d <= 0 || d > server.MaxBan {
			writeError(w, http.StatusBadRequest, &shared.Error{Code: shared.CodeBadData, Field: "ban",
				Message: fmt.Sprintf("ban is a duration such as \"10m\" or \"2h\", more than 0 and at most %v", server.MaxBan)})
			return
		}
		ban = d
	}
	if req.Reason == "" {
		req.Reason = "kicked by an administrator"
	}
	closed, err := h.cfg.Hub.Kick(r.Context(), req.User, server.KickOptions{Reason: req.Reason, Ban: ban})
	resp := KickResponse{Closed: closed, Partial: h.partial("kick", err)}
	if ban > 0 {
		until := time.Now().Add(ban).UTC().Truncate(time.Second)
		resp.BannedUntil = &until
	}
	writeJSON(w, http.StatusOK, resp)
}
