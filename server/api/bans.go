package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// UnbanRequest is the body of POST /api/unban.
type UnbanRequest struct {
	// User is the user whose ban to lift.
	User string `json:"user"`
}

// UnbanResponse answers POST /api/unban.
type UnbanResponse struct {
	// Lifted reports whether the user was banned (false: nothing to lift).
	Lifted bool `json:"lifted"`
	// Partial is true when some node of a cluster did not answer in time:
	// the ban is lifted in the store and on the nodes that answered; send
	// the unban again to be sure (it is safe to repeat).
	Partial bool `json:"partial,omitempty"`
}

// BanInfo is one ban in GET /api/bans.
type BanInfo struct {
	// User is the banned user's id.
	User string `json:"user"`
	// Until is when the ban ends (UTC).
	Until time.Time `json:"until"`
	// Reason is what the user is told.
	Reason string `json:"reason,omitempty"`
}

// BansResponse answers GET /api/bans.
type BansResponse struct {
	// Bans are the bans in force, sorted by user.
	Bans []BanInfo `json:"bans"`
}

func (h *Handler) unban(w http.ResponseWriter, r *http.Request) {
	var req UnbanRequest
	if !h.decodeBody(w, r, &req) {
		return
	}
	if req.User == "" {
		writeError(w, http.StatusBadRequest, &shared.Error{Code: shared.CodeBadData, Field: "user", Message: "user is required"})
		return
	}
	lifted, err := h.cfg.Hub.Unban(r.Context(), req.User)
	if errors.Is(err, server.ErrUnavailable) {
		h.internalError(w, "unban", err) // the store could not be reached: not lifted
		return
	}
	writeJSON(w, http.StatusOK, UnbanResponse{Lifted: lifted, Partial: h.partial("unban", err)})
}

func (h *Handler) bans(w http.ResponseWriter, r *http.Request) {
	bans, err := h.cfg.Hub.Bans(r.Context())
	if err != nil {
		h.internalError(w, "bans", err)
		return
	}
	resp := BansResponse{Bans: make([]BanInfo, 0, len(bans))}
	for _, b := range bans {
		resp.Bans = append(resp.Bans, BanInfo{User: b.User, Until: b.Until.UTC(), Reason: b.Reason})
	}
	writeJSON(w, http.StatusOK, resp)
}

// Unban lifts the ban of user (POST /api/unban) and reports whether there
// was one.
func (c *Client) Unban(ctx context.Context, user string) (bool, error) {
	var resp UnbanResponse
	err := c.do(ctx, http.MethodPost, "/api/unban", UnbanRequest{User: user}, &resp)
	return resp.Lifted, err
}

// Bans returns the bans in force (GET /api/bans).
func (c *Client) Bans(ctx context.Context) ([]BanInfo, error) {
	var resp BansResponse
	err := c.do(ctx, http.MethodGet, "/api/bans", nil, &resp)
	return resp.Bans, err
}
