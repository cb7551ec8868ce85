package natsbroker

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tetherkit/tether/broker"
)

// Names of the JetStream assets, shared by every node of a cluster.
const (
	StreamName  = "TETHER_ROOMS"
	EpochBucket = "TETHER_ROOM_EPOCHS"
	PresenceKV  = "TETHER_PRESENCE"
	roomPrefix  = "tether.r."
	livePrefix  = "tether.live."
	ephPrefix   = "tether.e."
	controlSubj = "tether.ctl"
	querySubj   = "tether.q"
	hdrEpoch    = "Tether-Epoch"
	hdrSeq      = "Tether-Seq"
	hdrType     = "Tether-Type"
	// A publish that lost the race to another node is retried at least
	// publishTries times and for at least publishContention, whichever is
	// later: under load one node can lose many races in a row, and giving
	// up after a count alone failed publishes that a moment later went
	// through.
	publishTries      = 32
	publishContention = 2 * time.Second
	// publishTimeout bounds a publish whose context has no deadline, as
	// jetstream does (its default API timeout).
	publishTimeout = 5 * time.Second
)

// Defaults of the zero Config fields.
const (
	DefaultHistorySize   = 1000
	DefaultHistoryTTL    = 2 * time.Minute
	DefaultMaxBytes      = 1 << 30
	DefaultNodeTTL       = 5 * time.Second
	DefaultCheckInterval = 2 * time.Second
	DefaultEpochTTL      = 24 * time.Hour
	DefaultReplicas      = 1
	// MaxReplicas is the most copies JetStream keeps of a stream.
	MaxReplicas = 5
	// DefaultDuplicates is the rooms stream's duplicate window: a
	// publication with an id (broker.WithPublishID) sent again within it is
	// not kept twice. It is the server's default idempotency window.
	DefaultDuplicates = 5 * time.Minute
)

// Config configures a Broker. Every node of a cluster must use the same
// HistorySize, HistoryTTL, MaxBytes, KeysBytes and Replicas: they are the
// stream's and the buckets'.
type Config struct {
	// Conn is the connection to NATS. Required; the broker does not close it.
	Conn *nats.Conn
	// Node names this node. Empty means a random id.
	Node string
	// HistorySize is how many messages each room keeps. Zero means 1000
	// (DefaultHistorySize); negative means none (the stream still keeps each
	// room's last message: its head).
	HistorySize int
	// HistoryTTL is how long a message is kept for replay. Zero means 2m
	// (DefaultHistoryTTL); negative means until pushed out by HistorySize.
	HistoryTTL time.Duration
	// MaxBytes bounds the stream; the oldest messages go first. Zero means
	// 1 GiB (DefaultMaxBytes).
	MaxBytes int64
	// Replicas is how many copies of the rooms stream and of every bucket
	// the NATS cluster keeps (JetStream's replicas): 3 on a 3-server cluster
	// keeps everything through the loss of any one server. Zero means 1
	// (DefaultReplicas); at most 5 (MaxReplicas). New checks it against the
	// cluster it is connected to and refuses, with an error that says so, a
	// count the cluster cannot place.
	Replicas int
	// NodeTTL is how long a node that stopped refreshing its liveness key
	// (it died, or lost NATS) keeps its members in presence. Zero means 5s
	// (DefaultNodeTTL).
	NodeTTL time.Duration
	// CheckInterval is how often each room's live feed is checked against
	// the stream's head for a lost tail. Zero means 2s
	// (DefaultCheckInterval).
	CheckInterval time.Duration
	// EpochTTL is how long a room that has no message keeps its epoch. Zero
	// means 24h (DefaultEpochTTL).
	EpochTTL time.Duration
	// KeysBytes bounds the TETHER_KEYS bucket, the cluster's idempotency
	// window (docs/cluster.md). Zero means 256 MiB (DefaultKeysBytes).
	KeysBytes int64
	// Logger receives the broker's logs. Nil means slog.Default().
	Logger *slog.Logger

	dropLive func() bool // test hook: drops a republished message when true
}

// Broker is a broker.Broker on NATS JetStream. Create it with New and stop
// it with Close, after the server's Shutdown.
type Broker struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	epochs jetstream.KeyValue
	log    *slog.Logger
	node   string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	hmu sync.RWMutex
	h   broker.Handler

	mu    sync.Mutex
	feeds map[string]*feed // subscribed rooms
	heads map[string]head  // last known head per room, for Publish

	checkNow chan struct{} // wakes the position check (NATS reconnected)

	// pubLocks serialise this node's publishes per room (by a hash of its
	// name): the per-room race is then between nodes only, not between
	// this node's own publishers too.
	pubLocks [256]sync.Mutex

	stats struct {
		published, retries, headReads, filled, resets, duplicates atomic.Uint64
	}

	lastMu sync.Mutex
	last   jetstream.KeyValue // TETHER_LAST, opened on first use

	mapsMu sync.Mutex
	maps   map[*natsMap]struct{} // open maps, rewatched when NATS reconnects

	pres    *presence
	keys    *keyStore
	bans    jetstream.KeyValue
	control *nats.Subscription
	query   *nats.Subscription
}

// head is a room's last message as known: its epoch, seq and stream seq.
type head struct {
	epoch string
	seq   uint64
	sseq  uint64
}

// New connects a Broker to the cluster: it creates or updates the stream and
// the buckets, starts watching presence and answering control messages.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	if cfg.Conn == nil {
		return nil, errors.New("natsbroker: Config.Conn is required")
	}
	if cfg.MaxBytes < 0 || cfg.Replicas < 0 || cfg.NodeTTL < 0 || cfg.CheckInterval < 0 || cfg.EpochTTL < 0 || cfg.KeysBytes < 0 {
		return nil, fmt.Errorf("natsbroker: MaxBytes %d, Replicas %d, NodeTTL %v, CheckInterval %v, EpochTTL %v, KeysBytes %d: none may be negative (0 is the default)",
			cfg.MaxBytes, cfg.Replicas, cfg.NodeTTL, cfg.CheckInterval, cfg.EpochTTL, cfg.KeysBytes)
	}
	if cfg.Node == "" {
		cfg.Node = randomID(6)
	}
	if !validNode(cfg.Node) {
		return nil, fmt.Errorf("natsbroker: node name %q: want 1-64 characters of [A-Za-z0-9_-]", cfg.Node)
	}
	if cfg.HistorySize == 0 {
		cfg.HistorySize = DefaultHistorySize
	}
	cfg.HistorySize = max(cfg.HistorySize, 0)
	if cfg.HistoryTTL == 0 {
		cfg.HistoryTTL = DefaultHistoryTTL
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = DefaultReplicas
	}
	if cfg.NodeTTL == 0 {
		cfg.NodeTTL = DefaultNodeTTL
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.EpochTTL == 0 {
		cfg.EpochTTL = DefaultEpochTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.KeysBytes == 0 {
		cfg.KeysBytes = DefaultKeysBytes
	}
	if err := checkReplicas(cfg.Conn, cfg.Replicas); err != nil {
		return nil, err
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: %w", err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              StreamName,
		Description:       "Tether rooms: history and live fan-out",
		Subjects:          []string{roomPrefix + "*"},
		MaxMsgsPerSubject: int64(max(cfg.HistorySize, 1)), // the last message is the room's head
		MaxBytes:          cfg.MaxBytes,
		MaxMsgs:           -1,
		Discard:           jetstream.DiscardOld,
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		AllowDirect:       true,
		// A keyed request's publications carry an id (server.PublishID):
		// a repeat within the idempotency window is not kept twice.
		Duplicates: DefaultDuplicates,
		RePublish:  &jetstream.RePublish{Source: roomPrefix + ">", Destination: livePrefix + ">"},
	})
	if err != nil {
		if cfg.Replicas > 1 {
			return nil, fmt.Errorf("natsbroker: stream %s with %d replicas: the NATS cluster could not place them (are %d of its JetStream servers up?): %w", StreamName, cfg.Replicas, cfg.Replicas, err)
		}
		return nil, fmt.Errorf("natsbroker: stream %s: %w", StreamName, err)
	}
	epochs, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      EpochBucket,
		Description: "Tether: the epoch of each room",
		TTL:         cfg.EpochTTL,
		Replicas:    cfg.Replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: bucket %s: %w", EpochBucket, err)
	}
	bctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		cfg: cfg, nc: cfg.Conn, js: js, stream: stream, epochs: epochs,
		log: cfg.Logger.With("node", cfg.Node), node: cfg.Node,
		ctx: bctx, cancel: cancel,
		feeds:    make(map[string]*feed),
		heads:    make(map[string]head),
		checkNow: make(chan struct{}, 1),
		maps:     make(map[*natsMap]struct{}),
	}
	if b.keys, err = newKeyStore(ctx, b); err != nil {
		cancel()
		return nil, err
	}
	if b.bans, err = newBansBucket(ctx, b); err != nil {
		cancel()
		return nil, err
	}
	if b.pres, err = newPresence(ctx, b); err != nil {
		cancel()
		return nil, err
	}
	if b.control, err = b.nc.Subscribe(controlSubj, b.onControl); err != nil {
		b.pres.stop()
		cancel()
		return nil, fmt.Errorf("natsbroker: subscribe %s: %w", controlSubj, err)
	}
	if b.query, err = b.nc.Subscribe(querySubj, b.onQuery); err != nil {
		_ = b.control.Unsubscribe()
		b.pres.stop()
		cancel()
		return nil, fmt.Errorf("natsbroker: subscribe %s: %w", querySubj, err)
	}
	b.nc.SetReconnectHandler(func(*nats.Conn) {
		b.pres.rewatch()
		b.rewatchMaps()
		b.wakeCheck()
	})
	prevErr := b.nc.ErrorHandler()
	b.nc.SetErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrSlowConsumer) {
			b.log.Warn("NATS slow consumer: messages dropped, checking every room", "err", err)
			b.wakeCheck()
		}
		if prevErr != nil {
			prevErr(nc, sub, err)
		}
	})
	b.wg.Add(1)
	go b.checkLoop()
	return b, nil
}

// checkReplicas refuses a replication that the NATS cluster nc is connected
// to cannot give: more than MaxReplicas, more than one on a server that is
// not in a cluster, more than the cluster's servers.
func checkReplicas(nc *nats.Conn, n int) error {
	switch {
	case n > MaxReplicas:
		return fmt.Errorf("natsbroker: Replicas %d: JetStream keeps at most %d copies", n, MaxReplicas)
	case n <= 1:
		return nil
	case nc.ConnectedClusterName() == "":
		return fmt.Errorf("natsbroker: Replicas %d: the NATS server at %s is not in a cluster, so it keeps one copy: use 1 replica, or a JetStream cluster of at least %d servers", n, nc.ConnectedUrlRedacted(), n)
	}
	if servers := len(nc.Servers()); servers < n {
		return fmt.Errorf("natsbroker: Replicas %d: the NATS cluster %q has %d servers: use at most %d replicas, or add servers", n, nc.ConnectedClusterName(), servers, servers)
	}
	return nil
}

// Stats are a broker's counters.
type Stats struct {
	// Published counts the messages this node published.
	Published uint64
	// Retries counts the publishes that lost the race to another node and
	// were tried again.
	Retries uint64
	// HeadReads counts the publishes that read the room's head from the
	// stream (the first one to a room, and those that lost the race before
	// the feed brought the winner's message).
	HeadReads uint64
	// Filled counts the messages delivered from the stream to fill a gap
	// in the live feed.
	Filled uint64
	// Resets counts the rooms whose members had to resume because a gap
	// could not be filled or the room's epoch changed.
	Resets uint64
	// Duplicates counts the publications the stream had kept already (a
	// keyed request run again after its answer was lost): not kept twice.
	Duplicates uint64
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	return Stats{
		Published: b.stats.published.Load(),
		Retries:   b.stats.retries.Load(),
		HeadReads: b.stats.headReads.Load(),
		Filled:    b.stats.filled.Load(),
		Resets:    b.stats.resets.Load(),

		Duplicates: b.stats.duplicates.Load(),
	}
}

// Node returns the node's id.
func (b *Broker) Node() string { return b.node }

// Close stops the broker's goroutines and subscriptions and removes this
// node's presence. Call it after the server's Shutdown.
func (b *Broker) Close() error {
	b.cancel()
	_ = b.control.Unsubscribe()
	_ = b.query.Unsubscribe()
	b.mu.Lock()
	for name, f := range b.feeds {
		f.stop()
		delete(b.feeds, name)
	}
	b.mu.Unlock()
	b.pres.stop()
	b.wg.Wait()
	st := b.Stats()
	b.log.Info("broker closed", "published", st.Published, "retries", st.Retries, "head_reads", st.HeadReads, "filled", st.Filled, "resets", st.Resets)
	return nil
}

// Register implements broker.Broker.
func (b *Broker) Register(h broker.Handler) {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	b.h = h
}

func (b *Broker) handler() broker.Handler {
	b.hmu.RLock()
	defer b.hmu.RUnlock()
	return b.h
}

// token encodes a room name as one NATS subject token and KV key part.
func token(room string) string { return base64.RawURLEncoding.EncodeToString([]byte(room)) }

// isWrongLastSeq reports whether err is a lost compare-and-swap.
func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// epochValue is a room's entry in the epoch bucket: the epoch, and whether
// a message was published in it (an epoch whose messages are all gone must
// not start again at seq 1).
type epochValue struct {
	epoch string
	used  bool
}

func parseEpoch(v []byte) epochValue {
	s := string(v)
	if len(s) > 2 && s[len(s)-2:] == ":u" {
		return epochValue{epoch: s[:len(s)-2], used: true}
	}
	return epochValue{epoch: s}
}

func (e epochValue) bytes() []byte {
	if e.used {
		return []byte(e.epoch + ":u")
	}
	return []byte(e.epoch)
}

// openEpoch returns the epoch of a room in the bucket and its revision,
// creating it when there is none (exactly one node wins the create).
func (b *Broker) openEpoch(ctx context.Context, room string) (epochValue, uint64, error) {
	key := token(room)
	for range publishTries {
		e, err := b.epochs.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			v := epochValue{epoch: randomID(8)}
			rev, err := b.epochs.Create(ctx, key, v.bytes())
			if err == nil {
				return v, rev, nil
			}
			if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongLastSeq(err) {
				return epochValue{}, 0, fmt.Errorf("open epoch of %q: %w", room, err)
			}
			continue // another node opened it
		case err != nil:
			return epochValue{}, 0, fmt.Errorf("read epoch of %q: %w", room, err)
		}
		return parseEpoch(e.Value()), e.Revision(), nil
	}
	return epochValue{}, 0, fmt.Errorf("open epoch of %q: too much contention", room)
}

// readHead reads a room's head from the stream: its last message, or when it
// has none its epoch from the bucket.
func (b *Broker) readHead(ctx context.Context, room string) (head, error) {
	for range publishTries {
		m, err := b.stream.GetLastMsgForSubject(ctx, roomPrefix+token(room))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			e, rev, err := b.openEpoch(ctx, room)
			if err != nil {
				return head{}, err
			}
			if !e.used {
				return head{epoch: e.epoch}, nil
			}
			// The epoch was used: "used" is written only after its first
			// message was stored, so if the subject is still empty its
			// messages are gone, and its seqs must not start again at 1.
			if _, err := b.stream.GetLastMsgForSubject(ctx, roomPrefix+token(room)); err == nil {
				continue // a message arrived meanwhile: read it
			} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
				return head{}, fmt.Errorf("read head of %q: %w", room, err)
			}
			v := epochValue{epoch: randomID(8)}
			if _, err := b.epochs.Update(ctx, token(room), v.bytes(), rev); err == nil {
				return head{epoch: v.epoch}, nil
			}
			continue // another node replaced it first: read again
		case err != nil:
			return head{}, fmt.Errorf("read head of %q: %w", room, err)
		}
		p, err := decode(m.Header, m.Data, m.Time)
		if err != nil {
			return head{}, fmt.Errorf("read head of %q: %w", room, err)
		}
		return head{epoch: p.Epoch, seq: p.Seq, sseq: m.Sequence}, nil
	}
	return head{}, fmt.Errorf("read head of %q: too much contention", room)
}

// markUsed records that epoch has had a message, after its first one was
// stored. Losing the race to another node that did it, or that replaced the
// epoch, is fine.
func (b *Broker) markUsed(ctx context.Context, room, epoch string) {
	for range 3 {
		e, rev, err := b.openEpoch(ctx, room)
		if err != nil || e.epoch != epoch || e.used {
			return
		}
		e.used = true
		if _, err := b.epochs.Update(ctx, token(room), e.bytes(), rev); err == nil {
			return
		}
	}
}

// decode reads a publication from a stream message.
func decode(h nats.Header, data []byte, at time.Time) (broker.Publication, error) {
	seq, err := strconv.ParseUint(h.Get(hdrSeq), 10, 64)
	if err != nil || h.Get(hdrEpoch) == "" {
		return broker.Publication{}, fmt.Errorf("message without %s/%s headers", hdrEpoch, hdrSeq)
	}
	return broker.Publication{Epoch: h.Get(hdrEpoch), Seq: seq, Type: h.Get(hdrType), Payload: data, Time: at}, nil
}

// Publish implements broker.Broker: the next seq of the room's epoch, kept
// only if no other node published to the room meanwhile (the stream checks
// the subject's last sequence), else retried on the new head.
func (b *Broker) Publish(ctx context.Context, room, typ string, encode func(seq uint64) ([]byte, error)) (broker.PublishResult, error) {
	subj := roomPrefix + token(room)
	lock := &b.pubLocks[roomShard(room)]
	lock.Lock()
	defer lock.Unlock()
	b.mu.Lock()
	h, known := b.heads[room]
	b.mu.Unlock()
	msgID := dedupID(broker.PublishID(ctx))
	start := time.Now()
	try := 0
	for ; try < publishTries || time.Since(start) < publishContention; try++ {
		if try > 1 && !backoff(ctx, try) { // the first retry at once, with the fresh head
			return broker.PublishResult{}, fmt.Errorf("publish to %q: %w", room, ctx.Err())
		}
		if !known {
			var err error
			b.stats.headReads.Add(1)
			if h, err = b.readHead(ctx, room); err != nil {
				return broker.PublishResult{}, err
			}
		}
		seq := h.seq + 1
		payload, err := encode(seq)
		if err != nil {
			return broker.PublishResult{}, fmt.Errorf("publish to %q: %w", room, err)
		}
		msg := &nats.Msg{Subject: subj, Data: payload, Header: nats.Header{
			hdrEpoch:                            {h.epoch},
			hdrSeq:                              {strconv.FormatUint(seq, 10)},
			hdrType:                             {typ},
			jetstream.ExpectedLastSubjSeqHeader: {strconv.FormatUint(h.sseq, 10)},
		}}
		if msgID != "" {
			msg.Header.Set(jetstream.MsgIDHeader, msgID)
		}
		sseq, dup, err := b.publishCAS(ctx, msg)
		if err == nil && dup {
			// Kept already, by an earlier run whose answer was lost: its
			// position is the answer.
			b.stats.duplicates.Add(1)
			return b.storedPosition(ctx, room, sseq)
		}
		if err != nil {
			if isWrongLastSeq(err) {
				b.stats.retries.Add(1)
				// The feed may have brought the winner's message meanwhile
				// (the error says which it is): then no read is needed.
				var nh head
				if nh, known = b.knownHead(room, h.sseq, lastSeqOf(err)); known {
					h = nh
				}
				continue
			}
			return broker.PublishResult{}, fmt.Errorf("publish to %q: %w", room, err)
		}
		b.noteHead(room, head{epoch: h.epoch, seq: seq, sseq: sseq})
		b.stats.published.Add(1)
		if seq == 1 {
			b.markUsed(ctx, room, h.epoch)
		}
		b.mu.Lock()
		if f := b.feeds[room]; f != nil {
			f.active.Store(true) // its republished copy is checked for
		}
		b.mu.Unlock()
		return broker.PublishResult{Position: broker.Position{Epoch: h.epoch, Seq: seq}}, nil
	}
	return broker.PublishResult{}, fmt.Errorf("publish to %q: gave up after %d tries in %v: too much contention", room, try, time.Since(start).Round(time.Millisecond))
}

// dedupID is the stream's message id of a publication with id (""
// without): a hash, so that any user id and key make one short header value.
func dedupID(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return "t1-" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// storedPosition is the position of the room message at stream sequence
// sseq: the answer to a publication the stream had kept already. When it is
// gone from the stream the position is unknown (zero), not an error: the
// message was published.
func (b *Broker) storedPosition(ctx context.Context, room string, sseq uint64) (broker.PublishResult, error) {
	m, err := b.stream.GetMsg(ctx, sseq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return broker.PublishResult{}, nil
	}
	if err != nil {
		return broker.PublishResult{}, fmt.Errorf("publish to %q: read the message kept already: %w", room, err)
	}
	p, err := decode(m.Header, m.Data, m.Time)
	if err != nil {
		return broker.PublishResult{}, fmt.Errorf("publish to %q: read the message kept already: %w", room, err)
	}
	return broker.PublishResult{Position: broker.Position{Epoch: p.Epoch, Seq: p.Seq}}, nil
}

// publishCAS stores msg, whose headers carry the expected last subject
// sequence, and returns its stream sequence and whether the stream had it
// already (its message id is a duplicate). It is jetstream's PublishMsg
// without its per-call costs: the usual ack is read without encoding/json,
// only an error or an unusual ack is decoded in full. Like PublishMsg it
// retries a "no responders" (a JetStream leader change) twice, 250ms apart.
func (b *Broker) publishCAS(ctx context.Context, msg *nats.Msg) (uint64, bool, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	resp, err := b.nc.RequestMsgWithContext(ctx, msg)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < jetstream.DefaultPubRetryAttempts; r++ {
		t := time.NewTimer(jetstream.DefaultPubRetryWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, false, ctx.Err()
		case <-t.C:
		}
		resp, err = b.nc.RequestMsgWithContext(ctx, msg)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return 0, false, jetstream.ErrNoStreamResponse
	}
	if err != nil {
		return 0, false, err
	}
	return parseAck(resp.Data)
}

// ackPrefix starts the stream's usual publish ack: JetStream writes the
// stream, then the sequence, and an error response starts with "error".
const ackPrefix = `{"stream":"` + StreamName + `","seq":`

// parseAck reads a JetStream publish ack: the stored message's stream
// sequence and whether it was a duplicate (kept already), or the API error.
func parseAck(data []byte) (uint64, bool, error) {
	if rest, ok := bytes.CutPrefix(data, []byte(ackPrefix)); ok {
		var seq uint64
		n := 0
		for ; n < len(rest) && n < 20 && rest[n] >= '0' && rest[n] <= '9'; n++ {
			seq = seq*10 + uint64(rest[n]-'0')
		}
		// Only the plain ack ends here: anything after the seq (a domain,
		// a duplicate flag) is read in full below.
		if n > 0 && n < 20 && n < len(rest) && rest[n] == '}' && seq > 0 {
			return seq, false, nil
		}
	}
	var ack struct {
		Error     *jetstream.APIError `json:"error"`
		Stream    string              `json:"stream"`
		Seq       uint64              `json:"seq"`
		Duplicate bool                `json:"duplicate"`
	}
	if err := json.Unmarshal(data, &ack); err != nil {
		return 0, false, jetstream.ErrInvalidJSAck
	}
	if ack.Error != nil {
		return 0, false, fmt.Errorf("nats: %w", ack.Error)
	}
	if ack.Stream == "" || ack.Seq == 0 {
		return 0, false, jetstream.ErrInvalidJSAck
	}
	return ack.Seq, ack.Duplicate, nil
}

// maxHeads bounds the head cache: past it, it starts again empty.
const maxHeads = 10000

// roomShard is the index of room's publish lock (FNV-1a).
func roomShard(room string) uint8 {
	h := uint32(2166136261)
	for i := 0; i < len(room); i++ {
		h ^= uint32(room[i])
		h *= 16777619
	}
	return uint8(h)
}

// noteHead records h as the room's head when it is newer than the one known.
func (b *Broker) noteHead(room string, h head) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.heads) >= maxHeads {
		clear(b.heads)
	}
	if old, ok := b.heads[room]; !ok || h.sseq > old.sseq {
		b.heads[room] = h
	}
}

// knownHead returns the room's cached head when it is past stale and at
// least at stream sequence want, the subject's last one that the stream
// reported when a publish lost the race (0: not reported). A cached head
// behind want would lose again: then the head must be read from the stream.
func (b *Broker) knownHead(room string, stale, want uint64) (head, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.heads[room]
	return h, ok && h.sseq > stale && h.sseq >= want
}

// lastSeqOf is the subject's last stream sequence that a wrong last
// sequence error reports ("wrong last sequence: 42"), or 0.
func lastSeqOf(err error) uint64 {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return 0
	}
	_, n, ok := strings.Cut(apiErr.Description, ": ")
	if !ok {
		return 0
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return 0
	}
	return seq
}

// PublishEphemeral implements broker.Broker, over core NATS.
func (b *Broker) PublishEphemeral(_ context.Context, room string, payload []byte) error {
	if err := b.nc.Publish(ephPrefix+token(room), payload); err != nil {
		return fmt.Errorf("publish ephemeral to %q: %w", room, err)
	}
	return nil
}

// HistorySince implements broker.Broker.
func (b *Broker) HistorySince(ctx context.Context, room string, since uint64, limit int) (broker.History, error) {
	h, pubs, err := b.history(ctx, room)
	if err != nil {
		return broker.History{}, err
	}
	start := len(pubs)
	for i, p := range pubs {
		if p.Seq > since {
			start = i
			break
		}
	}
	pubs = pubs[start:]
	if limit <= 0 {
		pubs = nil
	} else if len(pubs) > limit {
		pubs = pubs[:limit]
	}
	return broker.History{Position: h, Publications: pubs}, nil
}

// HistoryBefore implements broker.Broker.
func (b *Broker) HistoryBefore(ctx context.Context, room string, before uint64, limit int) (broker.History, error) {
	h, pubs, err := b.history(ctx, room)
	if err != nil {
		return broker.History{}, err
	}
	end := len(pubs)
	if before != 0 {
		end = 0
		for i, p := range pubs {
			if p.Seq >= before {
				break
			}
			end = i + 1
		}
	}
	pubs = pubs[max(end-limit, 0):end]
	if limit <= 0 {
		pubs = nil
	}
	return broker.History{Position: h, Publications: pubs}, nil
}

// history reads every kept message of room of its current epoch and not
// older than the TTL, oldest first, and the room's position.
func (b *Broker) history(ctx context.Context, room string) (broker.Position, []broker.Publication, error) {
	subj := roomPrefix + token(room)
	msgs, err := b.batchGet(ctx, subj, 1, max(b.cfg.HistorySize, 1))
	if err != nil {
		return broker.Position{}, nil, fmt.Errorf("history of %q: %w", room, err)
	}
	if len(msgs) == 0 {
		h, err := b.readHead(ctx, room)
		if err != nil {
			return broker.Position{}, nil, err
		}
		if h.seq == 0 {
			return broker.Position{Epoch: h.epoch}, nil, nil
		}
		// The first message arrived between the two reads: read again.
		if msgs, err = b.batchGet(ctx, subj, 1, max(b.cfg.HistorySize, 1)); err != nil {
			return broker.Position{}, nil, fmt.Errorf("history of %q: %w", room, err)
		}
		if len(msgs) == 0 {
			return broker.Position{Epoch: h.epoch, Seq: h.seq}, nil, nil
		}
	}
	last := msgs[len(msgs)-1]
	pos := broker.Position{Epoch: last.p.Epoch, Seq: last.p.Seq}
	b.noteHead(room, head{epoch: last.p.Epoch, seq: last.p.Seq, sseq: last.sseq})
	if b.cfg.HistorySize == 0 {
		return pos, nil, nil
	}
	var cut time.Time
	if b.cfg.HistoryTTL > 0 {
		cut = time.Now().Add(-b.cfg.HistoryTTL)
	}
	pubs := make([]broker.Publication, 0, len(msgs))
	for _, m := range msgs {
		if m.p.Epoch != pos.Epoch || m.p.Time.Before(cut) {
			pubs = pubs[:0] // keep only the consecutive run up to the head
			continue
		}
		pubs = append(pubs, m.p)
	}
	return pos, pubs, nil
}

// storedPub is a publication with its stream sequence.
type storedPub struct {
	p    broker.Publication
	sseq uint64
}

// batchGet reads up to n messages of subj from stream sequence from on, in
// one batched direct get.
func (b *Broker) batchGet(ctx context.Context, subj string, from uint64, n int) ([]storedPub, error) {
	replies, err := b.newReplies(n + 1) // the batch and its end-of-batch status
	if err != nil {
		return nil, err
	}
	defer replies.close()
	req := fmt.Sprintf(`{"seq":%d,"next_by_subj":%q,"batch":%d}`, from, subj, n)
	if err := b.nc.PublishRequest("$JS.API.DIRECT.GET."+StreamName, replies.inbox, []byte(req)); err != nil {
		return nil, err
	}
	var out []storedPub
	for range n + 1 {
		m, err := replies.next(ctx)
		if err != nil {
			return nil, err
		}
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			switch m.Header.Get("Status") {
			case "204", "404":
				return out, nil // end of batch, or nothing at all
			default:
				return nil, fmt.Errorf("direct get: %s %s", m.Header.Get("Status"), m.Header.Get("Description"))
			}
		}
		sseq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("direct get: bad %s header", jetstream.SequenceHeader)
		}
		at, _ := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
		p, err := decode(m.Header, m.Data, at)
		if err != nil {
			continue // not a room message of ours
		}
		out = append(out, storedPub{p: p, sseq: sseq})
	}
	return out, nil
}

// replies is a subscription to a new reply inbox whose messages are read in
// turn (next), for a request with several answers: a batched direct get,
// Control, Gather. Its channel has room for the answers expected: nats.go's
// SubscribeSync would allocate one of 65,536 messages (512 KiB) for each
// request, which a connection storm (a history read for each join) turns
// into gigabytes of garbage and a process that keeps the memory it grew to.
type replies struct {
	inbox string
	sub   *nats.Subscription
	ch    chan *nats.Msg
}

// repliesSlack is the room a replies channel has beyond the answers
// expected (an answer beyond would be dropped, and counted by NATS as a
// slow consumer).
const repliesSlack = 8

// newReplies subscribes to a new reply inbox for about n answers.
func (b *Broker) newReplies(n int) (*replies, error) {
	r := &replies{inbox: b.nc.NewRespInbox(), ch: make(chan *nats.Msg, n+repliesSlack)}
	sub, err := b.nc.ChanSubscribe(r.inbox, r.ch)
	if err != nil {
		return nil, err
	}
	r.sub = sub
	return r, nil
}

// next returns the next answer, or ctx's error.
func (r *replies) next(ctx context.Context) (*nats.Msg, error) {
	select {
	case m := <-r.ch:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close unsubscribes.
func (r *replies) close() { _ = r.sub.Unsubscribe() }

// wakeCheck asks the position check to run now.
func (b *Broker) wakeCheck() {
	select {
	case b.checkNow <- struct{}{}:
	default:
	}
}

// fullCheckEvery is how many position checks go by between two that look at
// every subscribed room, not only the active ones.
const fullCheckEvery = 15

// checkLoop compares each subscribed room's feed with the stream's head and
// fills a lost tail: every CheckInterval the rooms that had traffic since
// their last check (a lost tail is the end of some traffic), every
// fullCheckEvery intervals and after each NATS reconnect or slow-consumer
// error all of them. The checks are bounded by the active rooms, not by
// every room ever joined.
func (b *Broker) checkLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.CheckInterval)
	defer t.Stop()
	for n := 1; ; n++ {
		all := n%fullCheckEvery == 0
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		case <-b.checkNow:
			all = true
		}
		b.mu.Lock()
		feeds := make([]*feed, 0, len(b.feeds))
		for _, f := range b.feeds {
			feeds = append(feeds, f)
		}
		b.mu.Unlock()
		for _, f := range feeds {
			if all || f.active.Swap(false) {
				f.check(b.ctx)
			}
		}
	}
}

// backoff waits a random while that grows with try (up to 20 ms), so that
// writers that lost a race to the same room do not collide again at once. It reports
// false when ctx ended first.
func backoff(ctx context.Context, try int) bool {
	d := time.Duration(mrand.Int64N(int64(min(try, 20))*int64(time.Millisecond)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// validNode reports whether a node name is one safe KV key token.
func validNode(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func randomID(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return hex.EncodeToString(p)
}
