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

// HandleQuery implements broker.Handler.
func (h nodeHandler) HandleQuery(kind string) ([]byte, error) {
	switch kind {
	case queryStats:
		return json.Marshal(h.s.localStats())
	case queryConnections:
		return json.Marshal(h.s.localConnections())
	}
	return nil, fmt.Errorf("unknown query %q", kind)
}

// localStats is this node's counters with its users and rooms.
func (s *Server) localStats() nodeStats {
	conns, _ := s.hub.counts()
	st := Stats{
		Connections: conns,
		MessagesIn:  s.stats.messagesIn.Load(),
		MessagesOut: s.stats.messagesOut.Load(),
		Dropped:     s.stats.dropped.Load(),
	}
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
	st.Users, st.Rooms = len(users), len(rooms)
	return nodeStats{Stats: st, Users: users, Rooms: rooms}
}

// Stats returns the counters of every node of the cluster added up, users
// and rooms (with members) counted once, and how many nodes answered before
// ctx was done. A single node is a one-node cluster: its own counters, and
// Coverage{1, 1}. With the nodes that answered it returns the error of the
// others, if any.
func (s *Server) Stats(ctx context.Context) (Stats, Coverage, error) {
	answers, nodes, err := s.broker.Gather(ctx, queryStats)
	all := []nodeStats{s.localStats()}
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
	if err != nil {
		err = fmt.Errorf("stats: %w", err)
	}
	return st, Coverage{Nodes: nodes + 1, Answered: len(all)}, err
}

// Connections describes every open connection of every node that answered
// before ctx was done, sorted by user, then id, and how many nodes answered.
// A single node is a one-node cluster: its own connections, and
// Coverage{1, 1}.
func (s *Server) Connections(ctx context.Context) ([]ConnInfo, Coverage, error) {
	answers, nodes, err := s.broker.Gather(ctx, queryConnections)
	infos := s.localConnections()
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
	if err != nil {
		err = fmt.Errorf("connections: %w", err)
	}
	return infos, Coverage{Nodes: nodes + 1, Answered: answered}, err
}

// localConnections describes this node's open connections.
func (s *Server) localConnections() []ConnInfo {
	conns := s.hub.all()
	infos := make([]ConnInfo, 0, len(conns))
	for _, c := range conns {
		infos = append(infos, c.info())
	}
	return infos
}
