package server

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// Queries a node answers for the cluster-wide views.
const (
	queryStats       = "stats"
	queryConnections = "connections"
)

// Coverage says how much of a cluster a cluster-wide answer covers.
type Coverage struct {
	// Nodes is how many nodes the cluster has, this one included.
	Nodes int `json:"nodes"`
	// Answered is how many of them answered in time, this one included.
	Answered int `json:"answered"`
}

// Partial reports whether some node did not answer.
func (c Coverage) Partial() bool { return c.Answered < c.Nodes }

// nodeStats is one node's answer to queryStats: its counters and the users
// and rooms it has, so that the cluster counts each once.
type nodeStats struct {
	Stats Stats    `json:"stats"`
	Users []string `json:"users"`
	Rooms []string `json:"rooms"`
}

// HandleQuery implements BrokerHandler.
func (h nodeHandler) HandleQuery(kind string) ([]byte, error) {
	switch kind {
	case queryStats:
		return json.Marshal(h.s.localStats())
	case queryConnections:
		return json.Marshal(h.s.Connections())
	}
	return nil, fmt.Errorf("unknown query %q", kind)
}

// localStats is this node's counters with its users and rooms.
func (s *Server) localStats() nodeStats {
	st := s.Stats()
	st.Rooms = s.rooms.len()
	users := make([]string, 0)
	s.hub.mu.RLock()
	for u := range s.hub.users {
		users = append(users, u)
	}
	s.hub.mu.RUnlock()
	rooms := make([]string, 0)
	s.rooms.mu.Lock()
	for name := range s.rooms.m {
		rooms = append(rooms, name)
	}
	s.rooms.mu.Unlock()
	return nodeStats{Stats: st, Users: users, Rooms: rooms}
}

// ClusterStats returns the counters of every node of the cluster added up,
// users and rooms (with members) counted once, and how many nodes answered.
// On a single node it is Stats.
func (s *Server) ClusterStats(ctx context.Context) (Stats, Coverage, error) {
	if s.mem != nil {
		return s.Stats(), Coverage{Nodes: 1, Answered: 1}, nil
	}
	answers, nodes, err := s.broker.Gather(ctx, queryStats)
	own := s.localStats()
	all := []nodeStats{own}
	for _, a := range answers {
		var ns nodeStats
		if json.Unmarshal(a, &ns) == nil {
			all = append(all, ns)
		}
	}
	users, rooms := map[string]bool{}, map[string]bool{}
	var st Stats
	for _, ns := range all {
		st.Connections += ns.Stats.Connections
		st.MessagesIn += ns.Stats.MessagesIn
		st.MessagesOut += ns.Stats.MessagesOut
		st.Dropped += ns.Stats.Dropped
		for _, u := range ns.Users {
			users[u] = true
		}
		for _, r := range ns.Rooms {
			rooms[r] = true
		}
	}
	st.Users, st.Rooms = len(users), len(rooms)
	return st, Coverage{Nodes: nodes + 1, Answered: len(all)}, err
}

// ClusterConnections describes every open connection of every node that
// answered, sorted by user, then id. On a single node it is Connections.
func (s *Server) ClusterConnections(ctx context.Context) ([]ConnInfo, Coverage, error) {
	if s.mem != nil {
		return s.Connections(), Coverage{Nodes: 1, Answered: 1}, nil
	}
	answers, nodes, err := s.broker.Gather(ctx, queryConnections)
	infos := s.Connections()
	answered := 1
	for _, a := range answers {
		var more []ConnInfo
		if json.Unmarshal(a, &more) == nil {
			infos = append(infos, more...)
			answered++
		}
	}
	slices.SortFunc(infos, func(a, b ConnInfo) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.ID, b.ID))
	})
	return infos, Coverage{Nodes: nodes + 1, Answered: answered}, err
}
