package natsbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tetherkit/tether/broker"
)

// controlTimeout bounds how long a send waits for the other nodes' counts.
const controlTimeout = 2 * time.Second

// controlMsg is a control message on the wire.
type controlMsg struct {
	Origin  string         `json:"origin"`
	Control broker.Control `json:"control"`
}

// Control implements broker.Broker: a request to every node; each other node
// answers with how many of its connections it reached. It waits for the live
// nodes' answers, at most controlTimeout.
func (b *Broker) Control(ctx context.Context, c broker.Control) (int, error) {
	data, err := json.Marshal(controlMsg{Origin: b.node, Control: c})
	if err != nil {
		return 0, fmt.Errorf("control %s: %w", c.Kind, err)
	}
	want := b.pres.otherNodes()
	if want == 0 {
		return 0, nil
	}
	replies, err := b.newReplies(want)
	if err != nil {
		return 0, fmt.Errorf("control %s: %w", c.Kind, err)
	}
	defer replies.close()
	if err := b.nc.PublishRequest(controlSubj, replies.inbox, data); err != nil {
		return 0, fmt.Errorf("control %s: %w", c.Kind, err)
	}
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	total := 0
	for range want {
		m, err := replies.next(ctx)
		if err != nil {
			return total, fmt.Errorf("control %s: %w", c.Kind, errNoAnswer)
		}
		n, _ := strconv.Atoi(string(m.Data))
		total += n
	}
	return total, nil
}

// onControl acts on another node's control message and answers its count.
func (b *Broker) onControl(m *nats.Msg) {
	var cm controlMsg
	if err := json.Unmarshal(m.Data, &cm); err != nil {
		b.log.Warn("bad control message", "err", err)
		return
	}
	if cm.Origin == b.node {
		return
	}
	n := 0
	if h := b.handler(); h != nil {
		n = h.HandleControl(cm.Control)
	}
	if m.Reply != "" {
		_ = m.Respond([]byte(strconv.Itoa(n)))
	}
}

// queryMsg is a Gather request on the wire.
type queryMsg struct {
	Origin string `json:"origin"`
	Kind   string `json:"kind"`
}

// Gather implements broker.Broker: a request to every node on core NATS,
// answered by each other node's HandleQuery, collected until every live node
// answered or controlTimeout.
func (b *Broker) Gather(ctx context.Context, kind string) ([][]byte, int, error) {
	want := b.pres.otherNodes()
	if want == 0 {
		return nil, 0, nil
	}
	data, err := json.Marshal(queryMsg{Origin: b.node, Kind: kind})
	if err != nil {
		return nil, want, fmt.Errorf("gather %s: %w", kind, err)
	}
	replies, err := b.newReplies(want)
	if err != nil {
		return nil, want, fmt.Errorf("gather %s: %w", kind, err)
	}
	defer replies.close()
	if err := b.nc.PublishRequest(querySubj, replies.inbox, data); err != nil {
		return nil, want, fmt.Errorf("gather %s: %w", kind, err)
	}
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	var answers [][]byte
	for len(answers) < want {
		m, err := replies.next(ctx)
		if err != nil {
			return answers, want, fmt.Errorf("gather %s: %w", kind, errNoAnswer)
		}
		answers = append(answers, m.Data)
	}
	return answers, want, nil
}

// onQuery answers another node's Gather.
func (b *Broker) onQuery(m *nats.Msg) {
	var q queryMsg
	if err := json.Unmarshal(m.Data, &q); err != nil || q.Origin == b.node || m.Reply == "" {
		return
	}
	h := b.handler()
	if h == nil {
		return
	}
	answer, err := h.HandleQuery(q.Kind)
	if err != nil {
		b.log.Warn("query not answered", "kind", q.Kind, "err", err)
		return
	}
	_ = m.Respond(answer)
}
