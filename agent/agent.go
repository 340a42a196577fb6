// Package agent assembles one concord member: the consensus node, the
// state machines registered on it, and the client port serving etcd's v3
// gRPC API and the REST API. The concord binary's `agent` command and the
// in-process test clusters both use it, so they run the same wiring.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/internal/tlsconfig"
	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/server"
	"github.com/concord-db/concord/server/etcdapi"
	"github.com/concord-db/concord/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Config configures an Agent.
type Config struct {
	// Node configures the consensus node. Node.ClientAddr is filled in from
	// AdvertiseClientAddr.
	Node node.Config
	// ClientAddr is where the client port listens. Default 127.0.0.1:2379.
	ClientAddr string
	// AdvertiseClientAddr is the client address other members and clients
	// are told. Default: ClientAddr, or the address the listener got.
	AdvertiseClientAddr string
	// Limits protect the member from one client: request sizes, streams
	// and watches per connection, range responses, clients that stop
	// reading (etcdapi.Limits; docs/security.md, "Limits").
	Limits etcdapi.Limits
	// QuotaBackendBytes is etcd's --quota-backend-bytes, on the kv state's
	// size (kv.Store.Size): 0 kv.DefaultQuota(), below 0 none. Past it a
	// write raises the NOSPACE alarm, and while it is raised puts, writing
	// txns, lease grants, SQL writes and resource writes are refused.
	QuotaBackendBytes int64
	// AutoCompaction configures the leader's automatic compaction of the
	// kv history. Default: off (etcd's default).
	AutoCompaction etcdapi.AutoCompaction
	// WatchProgressNotifyInterval is how often watchers that asked for
	// progress notifications get one. Default 10 minutes (etcd's).
	WatchProgressNotifyInterval time.Duration
	// MinLeaseTTL is the shortest lease TTL granted, in seconds. Default:
	// derived from the election timeout as etcd does (1.5 election timeouts,
	// at least 1s), so that a leader change cannot expire a lease.
	MinLeaseTTL int64
	// LeaseCheckpointInterval is how often the leader records leases'
	// remaining TTL in the log. Default 5 minutes (etcd's).
	LeaseCheckpointInterval time.Duration
	// Snapshot configures the snapshot archive endpoints (GET /v1/snapshot,
	// POST /v1/snapshot/restore) and etcd's Maintenance.Snapshot, which
	// serves the same archive. Its Node is filled in; TempDir defaults to
	// the node's data dir.
	Snapshot server.SnapshotConfig
	// Logger receives everything. Default: discard.
	Logger *slog.Logger
	// ClientTLS, when it names a certificate, serves the client port over
	// TLS (etcd's --cert-file, --key-file, --trusted-ca-file,
	// --client-cert-auth). Default: plain.
	ClientTLS tlsconfig.Config
	// PeerTLS, when it names a certificate, runs the peer port over TLS
	// (etcd's --peer-* flags), replacing Node.Network. Default: plain.
	PeerTLS tlsconfig.Config
	// SQL configures the replicated SQLite database served with rqlite's
	// HTTP API on the client port (/db/*). Its zero fields take
	// sqlstore's defaults (5s query timeout, 64 MiB result cap, 1000
	// statements a request, 4 pooled read connections, 32 MiB loads);
	// Dir is <data dir>/sql and MaxCommandBytes defaults to
	// Limits.MaxRequestBytes. Checked by sqlstore.Config.Validate when
	// the member starts.
	SQL sqlstore.Config
	// Resource configures the typed resource store (Consul's resources)
	// served with Consul's ResourceService and /v1/resource. Default: the
	// resource package's defaults.
	Resource resource.Config
	// Auth configures authentication and access control (etcd's
	// --auth-token, --auth-token-ttl, --bcrypt-cost). Auth starts
	// disabled; `etcdctl auth enable` (or `concord auth enable`) turns it
	// on for the whole cluster. Default: simple tokens, bcrypt cost 10.
	Auth auth.Config
	// ExtraFaces are faces an embedding program adds after the built-in
	// ones (faces.go); each needs a name of its own.
	ExtraFaces []Face
	// Pprof serves Go's profiles (net/http/pprof) under /debug/pprof on
	// the client port, root only while auth is on (concord agent
	// --pprof). Default off.
	Pprof bool
	// Version is the build GET /v1/status reports. Default: the build
	// info's.
	Version string
}

// DefaultClientAddr is the client port's default address (etcd's).
const DefaultClientAddr = "127.0.0.1:2379"

// grpcStreamWorkers is the client API's pool of RPC handler goroutines;
// RPCs beyond it (a unary put waits for its commit) get a goroutine each,
// as without the pool.
const grpcStreamWorkers = 256

// Agent is a running member.
type Agent struct {
	Node   *node.Node
	Store  *kv.Store
	Server *server.Server
	// Auth is the member's auth store: faces authorize requests with it.
	Auth *auth.Store
	// Faces are the member's API faces beyond kv (faces.go), opened.
	Faces []Face

	cfg    Config
	ln     net.Listener
	api    *etcdapi.API
	cancel context.CancelFunc
	served chan error
}

// Start opens the data dir, starts the node and serves the client port.
func Start(cfg Config) (*Agent, error) {
	if cfg.ClientAddr == "" {
		cfg.ClientAddr = DefaultClientAddr
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LeaseCheckpointInterval == 0 {
		cfg.LeaseCheckpointInterval = 5 * time.Minute
	}
	ln, err := net.Listen("tcp", cfg.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on client address %s: %w", cfg.ClientAddr, err)
	}
	if cfg.AdvertiseClientAddr == "" {
		cfg.AdvertiseClientAddr = ln.Addr().String()
	}
	if ln, err = secure(&cfg, ln); err != nil {
		return nil, err
	}
	cfg.Node.ClientAddr = cfg.AdvertiseClientAddr
	// node.DefaultConfig fills in a discarding logger: treat it as unset,
	// or a config built from the defaults (the binary's, agenttest's) loses
	// every node and raft log line.
	if cfg.Node.Logger == nil || cfg.Node.Logger.Handler() == slog.DiscardHandler {
		cfg.Node.Logger = cfg.Logger
	}
	a, err := start(cfg, ln)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return a, nil
}

func start(cfg Config, ln net.Listener) (*Agent, error) {
	n, err := node.New(cfg.Node)
	if err != nil {
		return nil, err
	}
	lessor := kv.NewLessor(kv.LessorConfig{CheckpointInterval: cfg.LeaseCheckpointInterval})
	store := kv.New(kv.Options{Lessor: lessor, MinLeaseTTL: minLeaseTTL(cfg), Logger: cfg.Logger})
	authStore, err := openAuth(cfg, n)
	if err != nil {
		n.Crash()
		return nil, err
	}
	// Behind the apply-side auth check (auth_stamp.go).
	if err := n.Register(node.TypeKV, stampedKV{store, authStore}); err != nil {
		n.Crash()
		return nil, err
	}
	snaps := cfg.Snapshot
	snaps.Node = n
	if snaps.TempDir == "" {
		// Next to the raft snapshots, not in a possibly small /tmp.
		snaps.TempDir = cfg.Node.DataDir
	} else if err := os.MkdirAll(snaps.TempDir, 0o700); err != nil {
		n.Crash()
		return nil, fmt.Errorf("snapshot spool dir: %w", err)
	}
	// Spools left by a crash are removed.
	if old, _ := filepath.Glob(filepath.Join(snaps.TempDir, "concord-state-*.bin")); len(old) > 0 {
		for _, f := range old {
			os.Remove(f)
		}
	}
	reg := server.NewRegistry()
	if err := registerMetrics(reg, n, store); err != nil {
		n.Crash()
		return nil, err
	}
	quota := etcdapi.NewQuota(n, store, cfg.QuotaBackendBytes)
	opened, err := openFaces(cfg, n, reg, authStore, quota)
	if err != nil {
		n.Crash()
		return nil, err
	}
	exts := make([]server.Extension, len(opened))
	for i, f := range opened {
		exts[i] = f.Extension()
	}
	api := etcdapi.New(etcdapi.Config{Node: stampNode{n, authStore}, Store: store, Lessor: lessor, Limits: cfg.Limits, Logger: cfg.Logger,
		AutoCompaction: cfg.AutoCompaction, ProgressNotifyInterval: cfg.WatchProgressNotifyInterval, Auth: authStore, Quota: quota,
		// etcdctl snapshot save writes the same archive as concord snapshot save.
		Snapshot: func(ctx context.Context, w io.Writer) error {
			_, err := snaps.WriteArchive(ctx, w)
			return err
		}})
	srv, err := server.New(server.Config{
		Node:       n,
		Logger:     cfg.Logger,
		Registry:   reg,
		Extensions: exts,
		KV:         api.KV(),
		Auth:       authStore,
		// The request, stream and watch limits (etcdapi.Limits), then the rest.
		GRPCOptions: append(append(authInterceptors(api), cfg.Limits.ServerOptions()...),
			// Reused handler goroutines keep their grown stacks: with a new
			// goroutine per RPC, copying stacks (runtime.newstack) cost ~3%
			// of a member's CPU under 64-client puts.
			grpc.NumStreamWorkers(grpcStreamWorkers),
			tlsCredentials(cfg),
		),
		Snapshots: &snaps,
		Pprof:     cfg.Pprof,
		Version:   cfg.Version,
		// HTTP clients that stop reading are dropped like gRPC streams.
		ClientSendTimeout: cfg.Limits.ClientSendTimeout,
	})
	if err != nil {
		n.Crash()
		closeFaces(opened)
		return nil, err
	}
	api.Register(srv.GRPC())
	for _, f := range opened {
		f.RegisterGRPC(srv.GRPC())
	}
	if err := n.Start(); err != nil {
		closeFaces(opened)
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{Node: n, Store: store, Server: srv, Auth: authStore, Faces: opened, cfg: cfg, ln: ln, api: api, cancel: cancel, served: make(chan error, 1)}
	go api.Run(ctx)
	go authStore.Run(ctx)
	for _, f := range opened {
		go f.Run(ctx)
	}
	go func() { a.served <- srv.Serve(ln) }()
	return a, nil
}

// minLeaseTTL is etcd's rule: a lease must outlive an election.
func minLeaseTTL(cfg Config) int64 {
	if cfg.MinLeaseTTL > 0 {
		return cfg.MinLeaseTTL
	}
	election := cfg.Node.ElectionTimeout
	if election == 0 {
		election = node.DefaultElectionTimeout
	}
	return max(1, int64((3*election/2+time.Second-1)/time.Second))
}

// ClientAddr returns the address the client port listens on.
func (a *Agent) ClientAddr() string { return a.ln.Addr().String() }

// Stop stops serving clients, then shuts the node down (a leader hands
// over leadership first).
func (a *Agent) Stop(ctx context.Context) error {
	errs := []error{a.Server.Shutdown(ctx)}
	a.cancel()
	errs = append(errs, a.Node.Shutdown())
	a.Store.Close()
	errs = append(errs, closeFaces(a.Faces))
	return errors.Join(errs...)
}

// Crash stops the member as if its process died: no leadership transfer,
// connections cut. Its fsynced data survives. For tests.
func (a *Agent) Crash() {
	a.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	a.Server.Shutdown(ctx)
	a.Node.Crash()
	a.Store.Close()
	closeFaces(a.Faces)
}

// openFaces opens the faces of cfg in order, each in its own directory
// under the data dir. On error the faces already opened are closed.
func openFaces(cfg Config, n *node.Node, reg *prometheus.Registry, authStore *auth.Store, quota *kv.Guard) ([]Face, error) {
	maxRequestBytes := cfg.Limits.MaxRequestBytes
	if maxRequestBytes <= 0 {
		maxRequestBytes = etcdapi.DefaultMaxRequestBytes
	}
	var opened []Face
	for _, f := range faces(cfg) {
		var dir string
		if _, diskless := f.(Diskless); !diskless {
			dir = filepath.Join(cfg.Node.DataDir, f.Name())
			if err := os.MkdirAll(dir, 0o700); err != nil {
				closeFaces(opened)
				return nil, fmt.Errorf("%s: data dir: %w", f.Name(), err)
			}
		}
		env := FaceEnv{Node: n, DataDir: dir, Logger: cfg.Logger.With("face", f.Name()), Registry: reg, Auth: authStore,
			MaxRequestBytes: maxRequestBytes, MaxRangeBytes: cfg.Limits.RangeCap(), Quota: quota}
		if err := f.Open(env); err != nil {
			f.Close()
			closeFaces(opened)
			return nil, fmt.Errorf("open the %s face: %w", f.Name(), err)
		}
		opened = append(opened, f)
	}
	return opened, nil
}

// closeFaces closes faces in reverse order of opening.
func closeFaces(fs []Face) error {
	var errs []error
	for i := len(fs) - 1; i >= 0; i-- {
		if err := fs[i].Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the %s face: %w", fs[i].Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Face returns the member's face called name, or nil.
func (a *Agent) Face(name string) Face {
	for _, f := range a.Faces {
		if f.Name() == name {
			return f
		}
	}
	return nil
}
