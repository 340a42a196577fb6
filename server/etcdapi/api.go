package etcdapi

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
)

// Node is what the API needs from the consensus node.
type Node interface {
	ID() string
	ClusterID() uint64
	Term() uint64
	IsLeader() bool
	Status() node.Status
	Apply(ctx context.Context, t node.Type, payload []byte) (node.Result, error)
	ReadBarrier(ctx context.Context) error
	WaitApplied(ctx context.Context, index uint64) error
	Members(ctx context.Context) ([]node.Member, error)
	AddVoter(ctx context.Context, id, peerAddr, clientAddr string) error
	AddNonVoter(ctx context.Context, id, peerAddr, clientAddr string) error
	PromoteToVoter(ctx context.Context, id string) error
	RemoveServer(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, id string) error
	CallLeader(ctx context.Context, name string, req []byte) ([]byte, error)
	HandleOnLeader(name string, h node.LeaderHandler)
	LeaderChange() <-chan struct{}
	WriteSnapshot(ctx context.Context, w io.Writer) (node.SnapshotHeader, error)
}

// API implements etcd's v3 gRPC services over a node and a kv store.
type API struct {
	node   Node
	store  *kv.Store
	lessor *kv.Lessor
	// leaseNow reads Config.LeaseClock: every time passed to the lessor.
	leaseNow func() time.Time
	limits   Limits
	logger   *slog.Logger

	compaction    AutoCompaction
	progressEvery time.Duration
	acked         ackedIndex
	// auth decides every call (nil: no auth, everything allowed).
	auth *auth.Store
	// quota guards puts, writing txns and lease grants (quota.go).
	quota *kv.Guard
	// Snapshot streams a backup for Maintenance.Snapshot. Default: the
	// node's state.bin.
	snapshot func(ctx context.Context, w io.Writer) error
}

// Config configures an API.
type Config struct {
	Node   Node
	Store  *kv.Store
	Lessor *kv.Lessor // the lessor given to the store's Options
	Limits Limits
	Logger *slog.Logger
	// AutoCompaction configures the leader's automatic compaction.
	AutoCompaction AutoCompaction
	// ProgressNotifyInterval is how often watchers that asked for progress
	// notifications get one. Default DefaultProgressNotifyInterval.
	ProgressNotifyInterval time.Duration
	// Snapshot, if set, writes the backup served by Maintenance.Snapshot.
	Snapshot func(ctx context.Context, w io.Writer) error
	// Auth, if set, serves etcd's Auth API and checks every call (install
	// UnaryInterceptor and StreamInterceptor on the gRPC server). Nil: no
	// Auth service, everything allowed.
	Auth *auth.Store
	// QuotaBytes is etcd's --quota-backend-bytes on the kv state's Size:
	// 0 kv.DefaultQuota(), below 0 none. See kv.Guard.
	QuotaBytes int64
	// Quota, if set, is the guard to use instead of one built from
	// QuotaBytes (the agent shares one with the other faces).
	Quota *kv.Guard
	// LeaseClock is the clock of lease deadlines: the lessor only compares
	// its readings, so they must come from a clock that does not jump when
	// the wall clock does (time.Now's readings compare by the monotonic
	// clock). Default time.Now. Tests inject one to jump the wall clock
	// alone.
	LeaseClock func() time.Time
}

// New returns an API. Register it on a grpc.Server with Register.
func New(cfg Config) *API {
	cfg.Limits.setDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{node: cfg.Node, store: cfg.Store, lessor: cfg.Lessor, limits: cfg.Limits, logger: cfg.Logger, snapshot: cfg.Snapshot, compaction: cfg.AutoCompaction,
		progressEvery: cfg.ProgressNotifyInterval, auth: cfg.Auth}
	a.leaseNow = cfg.LeaseClock
	if a.leaseNow == nil {
		a.leaseNow = time.Now
	}
	a.quota = cfg.Quota
	if a.quota == nil {
		a.quota = newQuota(cfg.Node, cfg.Store, cfg.QuotaBytes, &a.acked)
	}
	if a.progressEvery <= 0 {
		a.progressEvery = DefaultProgressNotifyInterval
	}
	if a.snapshot == nil {
		a.snapshot = func(ctx context.Context, w io.Writer) error {
			_, err := cfg.Node.WriteSnapshot(ctx, w)
			return err
		}
	}
	return a
}

// NewQuota returns the space quota's guard for store (see kv.Guard), which
// raises NOSPACE through n as member n.ID(); quotaBytes as in
// Config.QuotaBytes. Give it to New as Config.Quota to share it.
func NewQuota(n Node, store *kv.Store, quotaBytes int64) *kv.Guard {
	return newQuota(n, store, quotaBytes, nil)
}

// newQuota is NewQuota where acked, if not nil, learns the alarm's index so
// this member's later reads see it.
func newQuota(n Node, store *kv.Store, quotaBytes int64, acked *ackedIndex) *kv.Guard {
	return kv.NewGuard(store, quotaBytes, MemberID(n.ID()), func(ctx context.Context, cmd []byte) error {
		res, err := n.Apply(ctx, node.TypeKV, cmd)
		if err != nil {
			return err
		}
		if acked != nil {
			acked.advance(res.Index)
		}
		_, err = kv.ResultAs[*pb.AlarmResponse](res.Data)
		return err
	}, n.ReadBarrier)
}

// Register registers every service on s.
func (a *API) Register(s *grpc.Server) {
	pb.RegisterKVServer(s, &kvService{a})
	pb.RegisterClusterServer(s, &clusterService{a})
	pb.RegisterMaintenanceServer(s, &maintenanceService{a})
	pb.RegisterLeaseServer(s, &leaseService{a})
	pb.RegisterWatchServer(s, &watchService{a})
	if a.auth != nil {
		pb.RegisterAuthServer(s, &authService{a: a, s: a.auth})
	}
}

// Run runs the API's background work until ctx ends: the leader-side lease
// expiry loop and periodic watch progress notifications.
func (a *API) Run(ctx context.Context) {
	a.registerLeaderCalls()
	go a.runProgressNotify(ctx)
	go a.runCompactor(ctx)
	a.runLessor(ctx, lessorTick)
}
