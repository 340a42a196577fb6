package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Config configures a Node. Start from DefaultConfig and set at least ID,
// DataDir and PeerAddr; zero durations and counts mean "use the default".
type Config struct {
	// ID names this node in the cluster. It must be unique and stable across
	// restarts. Required.
	ID string
	// DataDir holds the log, the stable state and snapshots (see docs/operations.md
	// for the layout). Required; created if missing.
	DataDir string
	// PeerAddr is the address the peer port (raft traffic and internal RPC)
	// listens on, e.g. "127.0.0.1:2380". Required.
	PeerAddr string
	// AdvertisePeerAddr is the peer address other nodes dial. Default: PeerAddr
	// (which then must not be an unspecified address such as 0.0.0.0), or,
	// if PeerAddr's port is 0, the address the listener got.
	AdvertisePeerAddr string
	// ClientAddr is the advertised client URL of this node, shared with the
	// cluster so Members can report it. Optional.
	ClientAddr string

	// Bootstrap forms a new one-node cluster if DataDir holds no state.
	Bootstrap bool
	// Join lists peer addresses of existing members; if DataDir holds no state
	// the node asks them, in turn, to add it as a voter.
	Join []string
	// InitialCluster lists every voter of a new cluster (including this node)
	// so that all of them can start at once; ignored when DataDir holds state.
	InitialCluster []Peer
	// ForceNewCluster (etcd's --force-new-cluster) makes this node, on a
	// data dir that holds state, a one-voter cluster with all its data:
	// the recovery when a majority is lost for good (recover.go).
	ForceNewCluster bool

	// LeaderTimeout bounds how long an operation waits for a leader. Default 15s.
	LeaderTimeout time.Duration
	// ApplyTimeout bounds one attempt at committing a command. Default 10s.
	ApplyTimeout time.Duration
	// CommitRetries is how many times a command is retried after a leader
	// change. Retries never apply a command twice. Default 2.
	CommitRetries int
	// HeartbeatTimeout and ElectionTimeout are raft's. Default 1s each: the
	// shared 2-core machines this runs on stall for hundreds of milliseconds.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// CommitTimeout is how long an idle leader waits before sending followers
	// an AppendEntries that carries the latest commit index. It bounds how
	// long after a commit a follower applies it when no other writes follow.
	// Default 5ms (raft's own default is 50ms).
	CommitTimeout time.Duration
	// SnapshotThreshold is how many log entries since the last snapshot
	// trigger a new one. Default 8192.
	SnapshotThreshold uint64
	// SnapshotInterval is how often the threshold is checked. Default 30s.
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries are kept after a snapshot so that
	// slightly lagging followers catch up without a snapshot. Default 10240.
	TrailingLogs uint64
	// MaxSnapshots is how many snapshots are kept on disk. Default 2.
	MaxSnapshots int
	// MaxAppendEntries caps entries per AppendEntries RPC and per apply batch.
	// Default 512.
	MaxAppendEntries int
	// SlowApply is how long one log entry may take to apply before it is
	// counted in concord_node_slow_applies_total and logged at warn level
	// (at most one line per 10s). Default 100ms (etcd's).
	SlowApply time.Duration

	// Logger receives the node's and raft's logs. Default: discard.
	Logger *slog.Logger
	// Network opens the peer listener and dials peers. Default: TCP. Tests
	// pass a network that can partition, drop and delay links.
	Network Network
}

// Peer is a voter of an initial cluster.
type Peer struct {
	ID   string
	Addr string
}

// Network is how a node reaches its peers.
type Network interface {
	Listen(addr string) (net.Listener, error)
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// Defaults.
const (
	DefaultLeaderTimeout     = 15 * time.Second
	DefaultApplyTimeout      = 10 * time.Second
	DefaultCommitRetries     = 2
	DefaultHeartbeatTimeout  = time.Second
	DefaultElectionTimeout   = time.Second
	DefaultCommitTimeout     = 5 * time.Millisecond
	DefaultSnapshotThreshold = 8192
	DefaultSnapshotInterval  = 30 * time.Second
	DefaultTrailingLogs      = 10240
	DefaultMaxSnapshots      = 2
	DefaultMaxAppendEntries  = 512
)

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	setDefault(&c.LeaderTimeout, DefaultLeaderTimeout)
	setDefault(&c.ApplyTimeout, DefaultApplyTimeout)
	setDefault(&c.CommitRetries, DefaultCommitRetries)
	setDefault(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDefault(&c.ElectionTimeout, DefaultElectionTimeout)
	setDefault(&c.CommitTimeout, DefaultCommitTimeout)
	setDefault(&c.SnapshotThreshold, DefaultSnapshotThreshold)
	setDefault(&c.SnapshotInterval, DefaultSnapshotInterval)
	setDefault(&c.TrailingLogs, DefaultTrailingLogs)
	setDefault(&c.MaxSnapshots, DefaultMaxSnapshots)
	setDefault(&c.MaxAppendEntries, DefaultMaxAppendEntries)
	setDefault(&c.SlowApply, DefaultSlowApply)
	if _, port, _ := net.SplitHostPort(c.PeerAddr); c.AdvertisePeerAddr == "" && port != "0" {
		c.AdvertisePeerAddr = c.PeerAddr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Network == nil {
		c.Network = TCPNetwork{}
	}
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Validate reports every problem with c at once. It expects defaults to have
// been applied (New does that before calling it).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ID == "" {
		bad("node ID is required")
	} else if strings.ContainsAny(c.ID, "=, \t\n") {
		bad("node ID %q may not contain '=', ',' or whitespace", c.ID)
	}
	if c.DataDir == "" {
		bad("data dir is required")
	}
	if err := checkHostPort("peer address", c.PeerAddr); err != nil {
		errs = append(errs, err)
	}
	// What New will advertise: Validate may run before defaults are filled
	// in for the fields set after DefaultConfig.
	adv := c.AdvertisePeerAddr
	if _, port, _ := net.SplitHostPort(c.PeerAddr); adv == "" && port != "0" {
		adv = c.PeerAddr
	}
	if adv == "" {
		// PeerAddr has port 0: New advertises the port it gets.
	} else if err := checkHostPort("advertise peer address", adv); err != nil {
		errs = append(errs, err)
	} else if host, _, _ := net.SplitHostPort(adv); host == "" || net.ParseIP(host).IsUnspecified() {
		bad("advertise peer address %q must name a reachable host, not an unspecified one; set it explicitly", adv)
	}
	modes := 0
	for _, set := range []bool{c.Bootstrap, len(c.Join) > 0, len(c.InitialCluster) > 0} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		bad("bootstrap, join and initial cluster are mutually exclusive (got %d of them)", modes)
	}
	if len(c.InitialCluster) > 0 {
		errs = append(errs, c.validateInitialCluster(adv)...)
	}
	for _, a := range c.Join {
		if err := checkHostPort("join address", a); err != nil {
			errs = append(errs, err)
		}
	}
	if c.CommitRetries < 0 {
		bad("commit retries must be >= 0, got %d", c.CommitRetries)
	}
	if c.MaxSnapshots < 1 {
		bad("max snapshots must be >= 1, got %d", c.MaxSnapshots)
	}
	if c.MaxAppendEntries < 1 || c.MaxAppendEntries > 1024 {
		bad("max append entries must be in [1, 1024], got %d", c.MaxAppendEntries)
	}
	for name, d := range map[string]time.Duration{
		"leader timeout": c.LeaderTimeout, "apply timeout": c.ApplyTimeout,
		"heartbeat timeout": c.HeartbeatTimeout, "election timeout": c.ElectionTimeout,
		"snapshot interval": c.SnapshotInterval, "commit timeout": c.CommitTimeout,
	} {
		if d < 0 {
			bad("%s must be positive, got %s", name, d)
		}
	}
	if c.HeartbeatTimeout > 0 && c.HeartbeatTimeout < 5*time.Millisecond {
		bad("heartbeat timeout must be at least 5ms, got %s", c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		bad("election timeout (%s) must be at least the heartbeat timeout (%s)", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	return errors.Join(errs...)
}

func (c *Config) validateInitialCluster(adv string) []error {
	var errs []error
	seenID, seenAddr, self := map[string]bool{}, map[string]bool{}, false
	for _, p := range c.InitialCluster {
		if p.ID == "" {
			errs = append(errs, fmt.Errorf("initial cluster: member with address %q has no ID", p.Addr))
		}
		if err := checkHostPort("initial cluster address of "+p.ID, p.Addr); err != nil {
			errs = append(errs, err)
		}
		if seenID[p.ID] || seenAddr[p.Addr] {
			errs = append(errs, fmt.Errorf("initial cluster: member %s=%s is listed twice", p.ID, p.Addr))
		}
		seenID[p.ID], seenAddr[p.Addr] = true, true
		if p.ID == c.ID {
			self = true
			if p.Addr != adv {
				errs = append(errs, fmt.Errorf("initial cluster lists this node (%s) at %s but its advertise peer address is %s", c.ID, p.Addr, adv))
			}
		}
	}
	if !self {
		errs = append(errs, fmt.Errorf("initial cluster does not list this node (%s)", c.ID))
	}
	return errs
}

func checkHostPort(what, addr string) error {
	if addr == "" {
		return fmt.Errorf("%s is required", what)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("%s %q is not host:port", what, addr)
	}
	return nil
}

// ParseInitialCluster parses "id1=host1:port1,id2=host2:port2".
func ParseInitialCluster(s string) ([]Peer, error) {
	var peers []Peer
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("initial cluster entry %q is not id=host:port", part)
		}
		peers = append(peers, Peer{ID: id, Addr: addr})
	}
	return peers, nil
}
