// Package agenttest runs in-process clusters of whole concord members (node,
// kv, client port) on loopback, for tests that talk to concord as clients
// do: through etcd's clientv3 or the REST API.
package agenttest

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/node"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Options tune a test cluster.
type Options struct {
	// Timeout is the heartbeat and election timeout. Default 300ms: short,
	// but not so short that a loaded 2-core machine keeps electing.
	Timeout time.Duration
	// TLS runs both ports over TLS with client certificate authentication
	// (Cluster.TLS holds the files, and Client uses them).
	TLS bool
	// Configure, if set, adjusts each member's config before it starts.
	Configure func(i int, cfg *agent.Config)
}

// Cluster is a set of in-process members.
type Cluster struct {
	t      testing.TB
	opts   Options
	mu     sync.Mutex
	agents []*agent.Agent // nil while crashed
	cfgs   []agent.Config
	// TLS holds the certificates when Options.TLS is set.
	TLS *TLSFiles
}

// Start starts n members: the first bootstraps, the others join it. It
// returns once every member is ready.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 300 * time.Millisecond
	}
	c := &Cluster{t: t, opts: opts}
	if opts.TLS {
		c.TLS = newTLSFiles(c)
	}
	for i := range n {
		cfg := c.config(i)
		if i == 0 {
			cfg.Node.Bootstrap = true
		} else {
			cfg.Node.Join = []string{c.agents[0].Node.AdvertisePeerAddr()}
		}
		a := c.start(cfg)
		// Pin the ports the member got, so a restart reuses them.
		cfg.ClientAddr, cfg.Node.PeerAddr, cfg.Node.AdvertisePeerAddr = a.ClientAddr(), a.Node.PeerAddr(), a.Node.PeerAddr()
		c.cfgs = append(c.cfgs, cfg)
		c.agents = append(c.agents, a)
	}
	t.Cleanup(c.stopAll)
	c.WaitReady()
	return c
}

func (c *Cluster) config(i int) agent.Config {
	id := "m" + strconv.Itoa(i)
	cfg := agent.Config{ClientAddr: "127.0.0.1:0", Logger: testLogger(c.t, id)}
	cfg.Node = node.DefaultConfig()
	cfg.Node.ID = id
	cfg.Node.DataDir = filepath.Join(c.t.TempDir(), id)
	cfg.Node.PeerAddr = "127.0.0.1:0"
	cfg.Node.HeartbeatTimeout, cfg.Node.ElectionTimeout = c.opts.Timeout, c.opts.Timeout
	cfg.Node.LeaderTimeout = 10 * time.Second
	// Generous: with -race on a loaded 2-core machine a commit can take
	// seconds, and a timeout there is noise, not a finding.
	cfg.Node.ApplyTimeout = 10 * time.Second
	if c.TLS != nil {
		c.TLS.configureTLS(&cfg)
	}
	if c.opts.Configure != nil {
		c.opts.Configure(i, &cfg)
	}
	return cfg
}

func (c *Cluster) start(cfg agent.Config) *agent.Agent {
	c.t.Helper()
	a, err := agent.Start(cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", cfg.Node.ID, err)
	}
	return a
}

// Agent returns member i (nil while it is crashed).
func (c *Cluster) Agent(i int) *agent.Agent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agents[i]
}

// Size is the number of members, running or not.
func (c *Cluster) Size() int { return len(c.cfgs) }

// Endpoint returns member i's client address.
func (c *Cluster) Endpoint(i int) string { return c.cfgs[i].ClientAddr }

// Endpoints returns the client addresses of the running members.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for i := range c.cfgs {
		if a := c.Agent(i); a != nil {
			eps = append(eps, a.ClientAddr())
		}
	}
	return eps
}

// Client returns a clientv3 client of the given members (all running
// members if none are named), closed when the test ends.
func (c *Cluster) Client(members ...int) *clientv3.Client {
	c.t.Helper()
	return c.ClientWith(clientv3.Config{}, members...)
}

// ClientWith is Client with a base configuration (dial options, keep-alive
// settings...): Endpoints are filled in as Client does, and DialTimeout and
// Logger when unset.
func (c *Cluster) ClientWith(cfg clientv3.Config, members ...int) *clientv3.Client {
	c.t.Helper()
	var eps []string
	if len(members) == 0 {
		eps = c.Endpoints()
	}
	for _, i := range members {
		eps = append(eps, c.Endpoint(i))
	}
	cfg.Endpoints = eps
	if cfg.TLS == nil {
		cfg.TLS = c.ClientTLS()
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		c.t.Fatalf("client: %v", err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

// WaitReady waits until every running member is ready.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	for i := range c.cfgs {
		a := c.Agent(i)
		if a == nil {
			continue
		}
		select {
		case <-a.Node.Ready():
		case <-time.After(30 * time.Second):
			c.t.Fatalf("member %d not ready after 30s: %+v", i, a.Node.Status())
		}
	}
}

// Leader waits for a leader among the running members and returns its index.
func (c *Cluster) Leader() int {
	c.t.Helper()
	var leader int
	c.WaitFor(30*time.Second, "a leader", func() bool {
		for i := range c.cfgs {
			if a := c.Agent(i); a != nil && a.Node.IsLeader() {
				leader = i
				return true
			}
		}
		return false
	})
	return leader
}

// Follower returns the index of a running member that is not the leader.
func (c *Cluster) Follower() int {
	c.t.Helper()
	l := c.Leader()
	for i := range c.cfgs {
		if i != l && c.Agent(i) != nil {
			return i
		}
	}
	c.t.Fatal("no running follower")
	return -1
}

// WaitFor polls cond until it holds or timeout passes.
func (c *Cluster) WaitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Crash kills member i as if its process died.
func (c *Cluster) Crash(i int) {
	c.mu.Lock()
	a := c.agents[i]
	c.agents[i] = nil
	c.mu.Unlock()
	if a != nil {
		a.Crash()
	}
}

// Stop stops member i gracefully.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	a := c.agents[i]
	c.agents[i] = nil
	c.mu.Unlock()
	if a != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Stop(ctx)
	}
}

// Restart starts a stopped or crashed member again on its data dir and
// client and peer addresses, with no bootstrap or join settings.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	cfg := c.cfgs[i]
	old := c.Agent(i)
	if old != nil {
		c.t.Fatalf("member %d is running", i)
	}
	cfg.Node.Bootstrap, cfg.Node.Join = false, nil
	a := c.start(cfg)
	c.mu.Lock()
	c.agents[i] = a
	c.mu.Unlock()
}

func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for i := range c.cfgs {
		wg.Add(1)
		go func() { defer wg.Done(); c.Crash(i) }()
	}
	wg.Wait()
}

// testLogger sends a member's logs to t.Log, shown only on failure.
func testLogger(t testing.TB, id string) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("member", id)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
