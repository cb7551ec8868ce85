package api

import (
	"net/http"
	"strconv"

	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// PresenceResponse is the reply to GET /api/presence.
type PresenceResponse struct {
	// Room is the room asked about.
	Room string `json:"room"`
	// Members are its users, sorted by id.
	Members []shared.Member `json:"members"`
}

// ConnectionsResponse is one page of GET /api/connections.
type ConnectionsResponse struct {
	// Total is the number of connections.
	Total int `json:"total"`
	// Offset is the index of the first connection in this page.
	Offset int `json:"offset"`
	// Connections is the page.
	Connections []server.ConnInfo `json:"connections"`
	// Nodes and Partial are set in a cluster: how many nodes there are, and
	// whether some did not answer in time (their connections are missing).
	Nodes   int  `json:"nodes,omitempty"`
	Partial bool `json:"partial,omitempty"`
}

// StatsResponse is the reply to GET /api/stats: the counters of every node
// of the cluster (one node is a one-node cluster).
type StatsResponse struct {
	server.Stats
	// Nodes and Partial are set in a cluster, as in ConnectionsResponse.
	Nodes   int  `json:"nodes,omitempty"`
	Partial bool `json:"partial,omitempty"`
}

// Paging limits of GET /api/connections.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

func (h *Handler) presence(w http.ResponseWriter, r *http.Request) {
	room := r.URL.Query().Get("room")
	if err := shared.ValidRoom(room); err != nil {
		writeError(w, http.StatusBadRequest, &shared.Error{Code: shared.CodeBadData, Field: "room", Message: err.Error()})
		return
	}
	members, err := h.cfg.Hub.Presence(r.Context(), room)
	if err != nil {
		h.unavailable(w, "presence of "+room, err)
		return
	}
	if members == nil {
		members = []shared.Member{}
	}
	writeJSON(w, http.StatusOK, PresenceResponse{Room: room, Members: members})
}

func (h *Handler) connections(w http.ResponseWriter, r *http.Request) {
	offset, err := queryInt(r, "offset", 0, 0, 1<<31)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	limit, err := queryInt(r, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	all, cov, err := h.cfg.Hub.Connections(r.Context())
	if err != nil {
		h.cfg.Logger.Warn("connections: not every node answered", "err", err)
	}
	page := []server.ConnInfo{}
	if offset < len(all) {
		page = all[offset:min(len(all), offset+limit)]
	}
	writeJSON(w, http.StatusOK, ConnectionsResponse{Total: len(all), Offset: offset, Connections: page, Nodes: clusterNodes(cov), Partial: cov.Partial()})
}

func (h *Handler) stats(w http.ResponseWriter, r *http.Request) {
	st, cov, err := h.cfg.Hub.Stats(r.Context())
	if err != nil {
		h.cfg.Logger.Warn("stats: not every node answered", "err", err)
	}
	writeJSON(w, http.StatusOK, StatsResponse{Stats: st, Nodes: clusterNodes(cov), Partial: cov.Partial()})
}

// clusterNodes is the node count to report: none for a single node.
func clusterNodes(cov server.Coverage) int {
	if cov.Nodes <= 1 {
		return 0
	}
	return cov.Nodes
}

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, &shared.Error{Code: shared.CodeBadData, Field: name, Message: name + " must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)}
	}
	return n, nil
}
