package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tetherkit/tether/broker"
	"github.com/tetherkit/tether/broker/memory"
	natsbroker "github.com/tetherkit/tether/broker/nats"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/server/auth"
)

// natsEmbedded is the -nats value that runs NATS inside the process.
const natsEmbedded = "embedded"

// defaultDataDir is where the server keeps its state without -data-dir:
// $XDG_STATE_HOME/tether, else ~/.local/state/tether; "" (keep nothing)
// when neither variable is set.
func defaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "tether")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "tether")
	}
	return ""
}

// ensureDataDir creates dir, readable by its owner only.
func ensureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}

// secretFile is the name of the persisted signing secret in the data dir.
const secretFile = "secret"

// loadSecret returns the signing secret kept in dir, generating and keeping
// one when there is none, so that a restart does not sign everyone out.
func loadSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, secretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("secret in %s is shorter than 32 bytes: remove it to get a new one", path)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if err := ensureDataDir(dir); err != nil {
		return nil, err
	}
	secret, err := auth.RandomSecret()
	if err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	// Written to a temporary file and renamed, so that a crash never leaves
	// half a secret.
	tmp, err := os.CreateTemp(dir, secretFile+".*")
	if err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(secret); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	return secret, nil
}

// cluster is the NATS side of a node: the broker, its connection and, with
// -nats embedded, the in-process nats-server.
type cluster struct {
	broker *natsbroker.Broker
	nc     *nats.Conn
	ns     *natsserver.Server
}

// startCluster connects to NATS per -nats (nil without it).
func startCluster(ctx context.Context, o options, log *slog.Logger) (*cluster, error) {
	if o.nats == "" {
		return nil, nil
	}
	c := &cluster{}
	natsURL, opts := o.nats, []nats.Option{
		nats.Name("tether " + o.node), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("NATS disconnected", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	if o.nats == natsEmbedded {
		if o.dataDir == "" {
			return nil, errors.New("-nats embedded needs a -data-dir (or HOME) for JetStream")
		}
		if err := ensureDataDir(o.dataDir); err != nil {
			return nil, err
		}
		ns, err := natsserver.NewServer(&natsserver.Options{
			ServerName: "tether-embedded", JetStream: true, StoreDir: filepath.Join(o.dataDir, "nats"),
			DontListen: true, NoSigs: true, NoLog: true,
		})
		if err != nil {
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
		ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			ns.Shutdown()
			return nil, errors.New("embedded NATS did not start within 10s")
		}
		c.ns, natsURL = ns, ""
		opts = append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(natsURL, opts...)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	c.nc = nc
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c.broker, err = natsbroker.New(cctx, natsbroker.Config{
		Conn: nc, Node: o.node, HistorySize: o.history, HistoryTTL: o.historyTTL, Logger: log, Replicas: o.replicas,
		MaxBytes: max(o.historyMemory, 0), // -history-memory bounds the stream (0: natsbroker's default)
	})
	if err != nil {
		c.close()
		return nil, err
	}
	log.Info("cluster mode", "nats", redactNATS(o.nats), "node", c.broker.Node(), "replicas", o.replicas)
	return c, nil
}

// nodeBroker is the broker for server.Config: the cluster's with NATS;
// otherwise a memory broker configured by the -history flags, which the
// caller closes after the server's Shutdown (mem, nil in cluster mode).
func (c *cluster) nodeBroker(o options) (b broker.Broker, mem *memory.Broker) {
	if c != nil {
		return c.broker, nil
	}
	mem = memory.New(memory.Config{
		HistorySize:   o.history,
		HistoryTTL:    o.historyTTL,
		HistoryBytes:  o.historyBytes,
		HistoryMemory: o.historyMemory,
	})
	return mem, mem
}

// bansFile is the name of the bans kept in the data dir of a single node.
const bansFile = "bans.json"

// banStore is where the server keeps its bans: the cluster's bucket, else
// the data dir's bans.json, else nowhere (nil: in memory). A data dir that
// cannot hold them is logged and the bans stay in memory: the server still
// serves, as with the signing secret.
func banStore(c *cluster, o options, log *slog.Logger) broker.BanStore {
	switch {
	case c != nil:
		return c.broker
	case o.dataDir != "":
		path := filepath.Join(o.dataDir, bansFile)
		err := ensureDataDir(o.dataDir)
		var fb *server.FileBans
		if err == nil {
			fb, err = server.NewFileBans(path)
		}
		if err == nil {
			return fb
		}
		log.Warn("cannot keep bans in the data dir: they are kept in memory, a restart lifts them", "path", path, "err", err)
	}
	return nil
}

// close stops the broker, the connection and the embedded server, in that
// order. Call it after the server's Shutdown.
func (c *cluster) close() {
	if c == nil {
		return
	}
	if c.broker != nil {
		_ = c.broker.Close()
	}
	if c.nc != nil {
		c.nc.Close()
	}
	if c.ns != nil {
		c.ns.Shutdown()
		c.ns.WaitForShutdown()
	}
}

// redactNATS hides a password in a NATS URL for the log.
func redactNATS(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == natsEmbedded {
		return raw
	}
	return u.Redacted()
}
