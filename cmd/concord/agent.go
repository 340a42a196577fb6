package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/server"
	"github.com/concord-db/concord/server/etcdapi"
	"github.com/concord-db/concord/sqlstore"
	"github.com/spf13/cobra"
)

// Agent defaults.
const (
	defaultClientAddr = "127.0.0.1:2379"
	defaultPeerAddr   = "127.0.0.1:2380"
	devDataDir        = "concord-data"
	devNodeID         = "dev"
	shutdownTimeout   = 20 * time.Second
)

// agentOptions are the flags of concord agent.
type agentOptions struct {
	nodeID              string
	dataDir             string
	clientAddr          string
	peerAddr            string
	advertiseClientAddr string
	advertisePeerAddr   string
	bootstrap           bool
	join                []string
	initialCluster      string
	dev                 bool
	logLevel            string
	logFormat           string
	forceNewCluster     bool

	leaderTimeout     time.Duration
	applyTimeout      time.Duration
	commitRetries     int
	heartbeatTimeout  time.Duration
	electionTimeout   time.Duration
	snapshotThreshold uint64
	snapshotInterval  time.Duration
	maxSnapshots      int
	catchupEntries    uint64

	maxRequestBytes         int
	maxTxnOps               int
	quotaBackendBytes       int64
	autoCompactionMode      string
	autoCompactionRetention string

	maxRestoreBytes  int64
	snapshotSpoolDir string
	pprof            bool

	tls      agentTLSOptions
	sql      agentSQLOptions
	resource agentResourceOptions
	auth     agentAuthOptions
	limits   agentLimitOptions
}

func newAgentCmd() *cobra.Command { return newAgentCmdWith(&agentOptions{}) }

// newAgentCmdWith returns the agent command with its flags bound to o.
func newAgentCmdWith(o *agentOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a concord server node",
		Long: `Run a concord server node: a raft peer on the peer port and the client API
(etcd's v3 gRPC API, REST/JSON, health, metrics) on the client port.

A new node either bootstraps a one-node cluster (--bootstrap), asks existing
members to add it (--join), or starts together with the other voters of a new
cluster (--initial-cluster). A node whose data dir already holds cluster state
rejoins with no such flag. --dev runs a single node with its data in
./` + devDataDir + `, for trying concord out.`,
		Example: `  concord agent --dev
  concord agent --node-id n1 --data-dir /var/lib/concord --bootstrap
  concord agent --node-id n2 --data-dir /var/lib/concord --peer-addr 10.0.0.2:2380 --join 10.0.0.1:2380`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.nodeID, "node-id", "", `this node's unique, stable id (required; "`+devNodeID+`" with --dev)`)
	f.StringVar(&o.dataDir, "data-dir", "", `directory for the log, stable state and snapshots (required; ./`+devDataDir+` with --dev)`)
	f.StringVar(&o.clientAddr, "client-addr", defaultClientAddr, "address the client API (HTTP, gRPC) listens on")
	f.StringVar(&o.peerAddr, "peer-addr", defaultPeerAddr, "address the peer port (raft and internal RPC) listens on")
	f.StringVar(&o.advertiseClientAddr, "advertise-client-addr", "", "client address other nodes and clients are told (default: --client-addr)")
	f.StringVar(&o.advertisePeerAddr, "advertise-peer-addr", "", "peer address other nodes dial (default: --peer-addr)")
	f.BoolVar(&o.bootstrap, "bootstrap", false, "form a new one-node cluster if the data dir holds no state")
	f.StringSliceVar(&o.join, "join", nil, "peer addresses of existing members to ask to add this node, ADDR[,ADDR]")
	f.StringVar(&o.initialCluster, "initial-cluster", "", "every voter of a new cluster, this node included: id=peeraddr,...")
	f.BoolVar(&o.dev, "dev", false, "development mode: one node, bootstrapped if new, data in ./"+devDataDir)
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text (key=value) or json (one JSON object a line)")
	f.BoolVar(&o.pprof, "pprof", false, "serve Go's profiles (net/http/pprof) under /debug/pprof on the client port; root only while auth is on")
	f.BoolVar(&o.forceNewCluster, "force-new-cluster", false, "disaster recovery (etcd's flag): start a one-member cluster with all the data in --data-dir, dropping every other member; grow it again with members add")

	d := node.DefaultConfig()
	f.DurationVar(&o.leaderTimeout, "leader-timeout", d.LeaderTimeout, "how long an operation waits for a leader")
	f.DurationVar(&o.applyTimeout, "apply-timeout", d.ApplyTimeout, "bound on one attempt at committing a command")
	f.IntVar(&o.commitRetries, "commit-retries", d.CommitRetries, "retries of a command across leader changes (never applied twice)")
	f.DurationVar(&o.heartbeatTimeout, "heartbeat-timeout", d.HeartbeatTimeout, "raft heartbeat timeout")
	f.DurationVar(&o.electionTimeout, "election-timeout", d.ElectionTimeout, "raft election timeout (at least the heartbeat timeout)")
	f.Uint64Var(&o.snapshotThreshold, "snapshot-threshold", d.SnapshotThreshold, "log entries since the last snapshot that trigger a new one")
	f.DurationVar(&o.snapshotInterval, "snapshot-interval", d.SnapshotInterval, "how often the snapshot threshold is checked")
	f.IntVar(&o.maxSnapshots, "max-snapshots", d.MaxSnapshots, "snapshots kept on disk")
	f.Uint64Var(&o.catchupEntries, "snapshot-catchup-entries", d.TrailingLogs, "log entries kept after a snapshot for slow followers to catch up from (etcd's flag); a follower further behind gets the snapshot")

	f.IntVar(&o.maxRequestBytes, "max-request-bytes", etcdapi.DefaultMaxRequestBytes, "largest write request accepted, in bytes (etcd's default)")
	f.IntVar(&o.maxTxnOps, "max-txn-ops", etcdapi.DefaultMaxTxnOps, "most operations in one transaction branch (etcd's default)")
	f.Int64Var(&o.quotaBackendBytes, "quota-backend-bytes", 0, "space quota on the kv state held in memory, in bytes: past it writes raise the NOSPACE alarm and are refused until `etcdctl alarm disarm`; 0: etcd's 2 GiB or a quarter of the machine's memory if smaller; negative: no quota")
	f.StringVar(&o.autoCompactionMode, "auto-compaction-mode", "periodic", "periodic (keep a duration of history) or revision (keep a number of revisions)")
	f.StringVar(&o.autoCompactionRetention, "auto-compaction-retention", "0", `history kept by auto compaction: a duration ("1h", or a number of hours) or a revision count; 0 disables it`)

	f.Int64Var(&o.maxRestoreBytes, "snapshot-max-restore-bytes", server.DefaultMaxRestoreBytes, "largest snapshot archive (and state inside it) POST /v1/snapshot/restore accepts, in bytes")
	f.StringVar(&o.snapshotSpoolDir, "snapshot-spool-dir", "", "directory where snapshot state is spooled while an archive is written, verified or restored; needs room for one state per concurrent request (default: the data dir)")
	o.tls.addFlags(f)
	o.sql.addFlags(f)
	o.resource.addFlags(f)
	o.auth.addFlags(f)
	o.limits.addFlags(f)
	return cmd
}

// agentConfig is everything runAgent needs, checked.
type agentConfig struct {
	node       node.Config
	clientAddr string // listen address of the client port
	// advertiseClientAddr is --advertise-client-addr; empty means the
	// address the client listener got.
	advertiseClientAddr string
	logLevel            slog.Level
	logJSON             bool
	dev                 bool
	limits              etcdapi.Limits
	quotaBackendBytes   int64
	autoCompaction      etcdapi.AutoCompaction
	snapshot            server.SnapshotConfig // Node is filled in by the agent
	sql                 sqlstore.Config       // Dir is filled in by the agent
	resource            resource.Config       // Logger is filled in by the agent
	auth                auth.Config
}

// buildConfig checks the options and turns them into the node's Config.
// Its errors are usage errors.
func (o *agentOptions) buildConfig() (agentConfig, error) {
	var errs []error
	ac := agentConfig{clientAddr: o.clientAddr, advertiseClientAddr: o.advertiseClientAddr, dev: o.dev}
	if err := ac.logLevel.UnmarshalText([]byte(o.logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.logLevel))
	}
	switch o.logFormat {
	case "text":
	case "json":
		ac.logJSON = true
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", o.logFormat))
	}
	ac.limits = etcdapi.Limits{MaxRequestBytes: o.maxRequestBytes, MaxTxnOps: o.maxTxnOps}
	ac.quotaBackendBytes = o.quotaBackendBytes
	if o.maxRequestBytes <= 0 || o.maxTxnOps <= 0 {
		errs = append(errs, fmt.Errorf("--max-request-bytes (%d) and --max-txn-ops (%d) must be positive", o.maxRequestBytes, o.maxTxnOps))
	} else if err := o.limits.apply(&ac.limits); err != nil {
		errs = append(errs, err)
	}
	if o.maxRestoreBytes <= 0 {
		errs = append(errs, fmt.Errorf("--snapshot-max-restore-bytes must be positive, got %d", o.maxRestoreBytes))
	}
	ac.snapshot = server.SnapshotConfig{MaxRestoreBytes: o.maxRestoreBytes, TempDir: o.snapshotSpoolDir}
	var err error
	if ac.sql, err = o.sql.config(); err != nil {
		errs = append(errs, err)
	}
	if ac.resource, err = o.resource.config(); err != nil {
		errs = append(errs, err)
	}
	if ac.auth, err = o.auth.config(); err != nil {
		errs = append(errs, err)
	}
	if ac.autoCompaction, err = etcdapi.ParseAutoCompaction(o.autoCompactionMode, o.autoCompactionRetention); err != nil {
		errs = append(errs, err)
	}
	c := node.DefaultConfig()
	c.ID, c.DataDir, c.PeerAddr, c.AdvertisePeerAddr = o.nodeID, o.dataDir, o.peerAddr, o.advertisePeerAddr
	c.Bootstrap, c.Join, c.ForceNewCluster = o.bootstrap, o.join, o.forceNewCluster
	if o.forceNewCluster && (o.dev || o.bootstrap || len(o.join) > 0 || o.initialCluster != "") {
		errs = append(errs, errors.New("--force-new-cluster restarts a member on its own data; it cannot be combined with --dev, --bootstrap, --join or --initial-cluster"))
	}
	if o.dev {
		if len(o.join) > 0 || o.initialCluster != "" {
			errs = append(errs, errors.New("--dev runs a single node; it cannot be combined with --join or --initial-cluster"))
		}
		c.Bootstrap = true
		if c.ID == "" {
			c.ID = devNodeID
		}
		if c.DataDir == "" {
			c.DataDir = devDataDir
		}
	}
	if o.initialCluster != "" {
		peers, err := node.ParseInitialCluster(o.initialCluster)
		if err != nil {
			errs = append(errs, fmt.Errorf("--initial-cluster: %w", err))
		}
		c.InitialCluster = peers
	}
	if _, port, _ := net.SplitHostPort(c.PeerAddr); c.AdvertisePeerAddr == "" && port != "0" {
		c.AdvertisePeerAddr = c.PeerAddr // with port 0 the node advertises the port it gets
	}
	if c.AdvertisePeerAddr != "" {
		if err := checkAdvertisable("--advertise-peer-addr", "--peer-addr", c.AdvertisePeerAddr, o.advertisePeerAddr != ""); err != nil {
			errs = append(errs, err)
		}
	}
	c.ClientAddr = o.advertiseClientAddr
	if c.ClientAddr == "" {
		c.ClientAddr = o.clientAddr
	}
	if err := checkAdvertisable("--advertise-client-addr", "--client-addr", c.ClientAddr, o.advertiseClientAddr != ""); err != nil {
		errs = append(errs, err)
	}
	c.LeaderTimeout, c.ApplyTimeout, c.CommitRetries = o.leaderTimeout, o.applyTimeout, o.commitRetries
	c.HeartbeatTimeout, c.ElectionTimeout = o.heartbeatTimeout, o.electionTimeout
	c.SnapshotThreshold, c.SnapshotInterval, c.MaxSnapshots = o.snapshotThreshold, o.snapshotInterval, o.maxSnapshots
	c.TrailingLogs = o.catchupEntries
	for name, v := range map[string]time.Duration{"--leader-timeout": c.LeaderTimeout, "--apply-timeout": c.ApplyTimeout,
		"--heartbeat-timeout": c.HeartbeatTimeout, "--election-timeout": c.ElectionTimeout, "--snapshot-interval": c.SnapshotInterval} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", name, v))
		}
	}
	if c.SnapshotThreshold == 0 {
		errs = append(errs, errors.New("--snapshot-threshold must be positive"))
	}
	if c.ID == "" {
		errs = append(errs, errors.New("--node-id is required (or use --dev)"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required (or use --dev)"))
	}
	if c.ID != "" && c.DataDir != "" {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ac, &usageError{err}
	}
	ac.node = c
	return ac, nil
}

// checkAdvertisable refuses an advertised address that other machines
// could not dial (an unspecified host such as 0.0.0.0 or an empty one).
// Port 0 is allowed for a listen address; the real port is advertised.
func checkAdvertisable(flag, listenFlag, addr string, explicit bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		if explicit {
			return fmt.Errorf("%s %q is not host:port", flag, addr)
		}
		return fmt.Errorf("%s %q is not host:port", listenFlag, addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("%s %q cannot be advertised to other nodes; set %s to a reachable address", listenFlag, addr, flag)
	}
	return nil
}

// newLogger is the agent's logger: key=value text, or one JSON object a
// line with --log-format json.
func newLogger(w io.Writer, level slog.Level, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// runAgent runs a member (node, kv store, client port) until SIGINT or
// SIGTERM, or until the node learns that it was removed from the cluster.
func runAgent(ctx context.Context, o *agentOptions, stdout, stderr io.Writer) error {
	ac, err := o.buildConfig()
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	clientTLS, peerTLS, err := o.tls.configs()
	if err != nil {
		return err
	}
	logger := newLogger(stderr, ac.logLevel, ac.logJSON)
	a, err := agent.Start(agent.Config{
		ClientTLS:           clientTLS,
		PeerTLS:             peerTLS,
		Node:                ac.node,
		ClientAddr:          ac.clientAddr,
		AdvertiseClientAddr: ac.advertiseClientAddr,
		Limits:              ac.limits,
		QuotaBackendBytes:   ac.quotaBackendBytes,
		AutoCompaction:      ac.autoCompaction,
		Snapshot:            ac.snapshot,
		SQL:                 ac.sql,
		Resource:            ac.resource,
		Auth:                ac.auth,
		Logger:              logger,
		Pprof:               o.pprof,
		Version:             versionString(),
	})
	if err != nil {
		return fmt.Errorf("start node %s: %w", ac.node.ID, err)
	}
	if err := server.EnableRaftMetrics(a.Server.Registry()); err != nil {
		logger.Warn("raft metrics are not exported", "err", err)
	}
	a.Server.SetServing("", true)
	printBanner(stdout, ac, a, clientTLS.ServerEnabled())
	logger.Info("agent started", "node", a.Node.ID(), "client_addr", a.ClientAddr(), "peer_addr", a.Node.PeerAddr(), "data_dir", ac.node.DataDir)

	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	runErr := waitForStop(sigCtx, a.Node)
	stop() // a second signal now kills the process at once
	if runErr == nil {
		logger.Info("shutting down (signal received)")
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := a.Stop(stopCtx); err != nil && runErr == nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if runErr == nil {
		logger.Info("stopped")
	}
	return runErr
}

// waitForStop returns nil when ctx ends (a signal), or an error when the
// node was removed from the cluster.
func waitForStop(ctx context.Context, n *node.Node) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if n.Removed() {
				return fmt.Errorf("node %s: %w; it no longer takes part. Wipe its data dir and join again to rejoin", n.ID(), node.ErrRemoved)
			}
		}
	}
}

// printBanner tells the user where the agent listens and keeps its data.
func printBanner(w io.Writer, ac agentConfig, a *agent.Agent, clientTLS bool) {
	n := a.Node
	mode := ""
	if ac.dev {
		mode = " in dev mode (single node; not for production)"
	}
	dir := ac.node.DataDir
	if abs, err := filepath.Abs(dir); err == nil && abs != dir {
		dir = fmt.Sprintf("%s (%s)", dir, abs)
	}
	fmt.Fprintf(w, "concord agent %q%s\n", n.ID(), mode)
	advertised := ac.advertiseClientAddr
	if advertised == "" {
		advertised = a.ClientAddr()
	}
	scheme := "http"
	if clientTLS {
		scheme = "https"
	}
	fmt.Fprintf(w, "  client: %s://%s (advertised as %s)\n", scheme, a.ClientAddr(), advertised)
	fmt.Fprintf(w, "  peer:   %s (advertised as %s)\n", n.PeerAddr(), n.AdvertisePeerAddr())
	fmt.Fprintf(w, "  data:   %s\n", dir)
	fmt.Fprintf(w, "  sql:    %s://%s/db/query (rqlite's HTTP API; concord sql)\n", scheme, a.ClientAddr())
}
