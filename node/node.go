package node

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
)

// Node is one member of a concord cluster: a raft peer with durable storage,
// a peer port, and the state machines registered with it.
//
// Create it with New, Register state machines, then Start. All methods are
// safe for concurrent use.
type Node struct {
	cfg    Config
	logger *slog.Logger
	fsm    *fsm
	store  *storage

	mux       *peerMux
	rpcServer *grpc.Server
	peers     *peerClients
	forwards  *forwarder
	proposals *proposer
	trans     *raft.NetworkTransport
	raft      *raft.Raft

	metrics    *metrics
	lastLeader string // the last leader onLeaderChange saw (never ""); its goroutine's only

	proposer uint64 // this process's proposer id (see envelope)
	props    proposals
	reads    *readIndexer

	leaderCalls leaderHandlers

	leaderMu      sync.Mutex
	leaderChanged chan struct{}            // closed and replaced on every leader change
	leadership    atomic.Pointer[leadTerm] // non-nil while this node leads

	started  atomic.Bool
	ready    chan struct{}
	removed  atomic.Bool
	stopping chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// leadTerm is one term of this node's leadership. ready is closed once
// every entry of earlier terms is applied (raft's barrier), after which the
// commit index is a valid read index.
type leadTerm struct {
	term  uint64
	ready chan struct{}
}

// New validates cfg, opens the data dir and listens on the peer port. Raft
// does not run until Start.
func New(cfg Config) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid node config: %w", err)
	}
	logger := cfg.Logger.With("node", cfg.ID)
	m := newMetrics()
	store, err := openStorage(cfg.DataDir, cfg.ID, cfg.MaxSnapshots, logger, m.observeSync)
	if err != nil {
		return nil, err
	}
	ln, err := cfg.Network.Listen(cfg.PeerAddr)
	if err != nil {
		store.close()
		return nil, fmt.Errorf("listen on peer address %s: %w", cfg.PeerAddr, err)
	}
	if cfg.AdvertisePeerAddr == "" {
		cfg.AdvertisePeerAddr = ln.Addr().String()
	}
	var idb [8]byte
	if _, err := crand.Read(idb[:]); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:           cfg,
		logger:        logger,
		fsm:           newFSM(logger),
		metrics:       m,
		store:         store,
		mux:           newPeerMux(ln),
		peers:         newPeerClients(cfg.Network),
		proposer:      binary.LittleEndian.Uint64(idb[:]),
		leaderChanged: make(chan struct{}),
		ready:         make(chan struct{}),
		stopping:      make(chan struct{}),
	}
	n.fsm.metrics, n.fsm.slowApply = m, cfg.SlowApply
	n.props.init()
	n.reads = newReadIndexer(n)
	n.forwards = newForwarder(n.peers)
	return n, nil
}

// Register adds a state machine for entries of type t. It must be called
// before Start.
func (n *Node) Register(t Type, sm StateMachine) error {
	if n.started.Load() {
		return fmt.Errorf("register state machine %d: node already started", t)
	}
	return n.fsm.register(t, sm)
}

// ID returns this node's id.
func (n *Node) ID() string { return n.cfg.ID }

// PeerAddr returns the address the peer port listens on.
func (n *Node) PeerAddr() string { return n.mux.ln.Addr().String() }

// AdvertisePeerAddr returns the peer address other nodes use.
func (n *Node) AdvertisePeerAddr() string { return n.cfg.AdvertisePeerAddr }

// Start restores the local state, starts raft and the peer RPC, and forms or
// joins the cluster as configured. It returns ErrRemoved if this node's data
// says it was removed from the cluster.
func (n *Node) Start() error {
	if !n.started.CompareAndSwap(false, true) {
		return errors.New("node already started")
	}
	hasState, err := n.store.hasState()
	if err != nil {
		return fmt.Errorf("inspect data dir: %w", err)
	}
	if n.cfg.ForceNewCluster {
		if !hasState {
			return fmt.Errorf("%w: --force-new-cluster needs a data dir that holds a member's state", ErrMember)
		}
		if err := n.forceNewCluster(); err != nil {
			return err
		}
	}
	if err := n.restoreLatestSnapshot(); err != nil {
		return err
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &raftStream{chanListener: n.mux.raft, nw: n.cfg.Network, advertise: stringAddr(n.cfg.AdvertisePeerAddr)},
		MaxPool: 8,
		Timeout: 10 * time.Second,
		// Pipelined replication, through pipelineTransport: raft's own
		// pipeline can deadlock (see pipeline.go).
		MaxRPCsInFlight: maxRPCsInFlight,
		Logger:          newHCLog(n.logger, "transport"),
	})
	logs, err := raft.NewLogCache(logCacheSize, n.store.log)
	if err != nil {
		n.trans.Close()
		return fmt.Errorf("log cache: %w", err)
	}
	r, err := raft.NewRaft(n.raftConfig(), n.fsm, logs, n.store.log, n.store.snapshots, pipelineTransport{n.trans})
	if err != nil {
		n.trans.Close()
		return fmt.Errorf("start raft: %w", err)
	}
	n.raft = r
	n.proposals = newProposer(r, n.cfg.ApplyTimeout, n.stopping, n.metrics)
	n.goAsync(n.proposals.run)
	n.rpcServer = newPeerServer(n, n.mux.rpc)
	n.watchLeadership()
	if hasState {
		if err := n.checkNotRemoved(); err != nil {
			n.Shutdown()
			return err
		}
		if n.cfg.Bootstrap || len(n.cfg.Join) > 0 || len(n.cfg.InitialCluster) > 0 {
			n.logger.Info("data dir holds cluster state; ignoring bootstrap/join/initial-cluster settings")
		}
	} else if err := n.formCluster(); err != nil {
		n.Shutdown()
		return err
	}
	n.goAsync(n.waitReady)
	n.goAsync(n.watchMembership)
	n.goAsync(func() { n.store.space.run(n.stopping) })
	return nil
}

const (
	// maxRPCsInFlight is the AppendEntries requests outstanding per follower
	// once replication pipelines.
	maxRPCsInFlight = 4
	// logCacheSize is how many recent log entries raft keeps in memory, so
	// replication and apply read new entries without the log store. An
	// entry is a batch of commands (up to maxBatchCommands and
	// maxBatchBytes): 512 of them held ~300 MiB per member during a bulk
	// load of 1M keys (RSS 1160 against 839 MiB with 64), and with one
	// entry in flight replication only ever needs the last few.
	logCacheSize = 64
)

func (n *Node) raftConfig() *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(n.cfg.ID)
	c.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	c.ElectionTimeout = n.cfg.ElectionTimeout
	c.LeaderLeaseTimeout = n.cfg.HeartbeatTimeout
	c.CommitTimeout = n.cfg.CommitTimeout
	c.SnapshotThreshold = n.cfg.SnapshotThreshold
	c.SnapshotInterval = n.cfg.SnapshotInterval
	c.TrailingLogs = n.cfg.TrailingLogs
	c.MaxAppendEntries = n.cfg.MaxAppendEntries
	// The proposer is raft.Apply's only caller for commands and batches
	// them itself, so raft's own apply channel buffer would only hold a
	// barrier or two.
	c.BatchApplyCh = false
	// Start restores the newest snapshot itself (restoreLatestSnapshot),
	// skipping durable state machines that are already past it.
	c.NoSnapshotRestoreOnStart = true
	c.Logger = newHCLog(n.logger, "raft")
	return c
}

// formCluster bootstraps a new cluster or starts joining one.
func (n *Node) formCluster() error {
	var servers []raft.Server
	switch {
	case n.cfg.Bootstrap:
		servers = []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.ID), Address: raft.ServerAddress(n.cfg.AdvertisePeerAddr)}}
	case len(n.cfg.InitialCluster) > 0:
		for _, p := range n.cfg.InitialCluster {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
	case len(n.cfg.Join) > 0:
		n.goAsync(n.joinLoop)
		return nil
	default:
		n.logger.Info("no cluster state, not bootstrapping and nothing to join: waiting to be added by a member")
		return nil
	}
	if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		return fmt.Errorf("bootstrap cluster: %w", err)
	}
	n.logger.Info("bootstrapped new cluster", "voters", len(servers))
	return nil
}

func (n *Node) goAsync(fn func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn()
	}()
}

// watchLeadership follows raft's leader changes: it wakes waiters for a
// leader and, on gaining leadership, establishes the term's read barrier.
func (n *Node) watchLeadership() {
	obs := make(chan raft.Observation, 16)
	observer := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(observer)
	n.goAsync(func() {
		defer n.raft.DeregisterObserver(observer)
		for {
			select {
			case <-obs:
				n.onLeaderChange()
			case <-n.stopping:
				return
			}
		}
	})
}

func (n *Node) onLeaderChange() {
	_, leaderID := n.raft.LeaderWithID()
	if leaderID != "" && string(leaderID) != n.lastLeader {
		n.lastLeader = string(leaderID)
		n.metrics.leaderChanges.Inc()
	}
	isLeader := string(leaderID) == n.cfg.ID && n.raft.State() == raft.Leader
	if cur := n.leadership.Load(); isLeader && cur == nil {
		lt := &leadTerm{term: n.raft.CurrentTerm(), ready: make(chan struct{})}
		n.leadership.Store(lt)
		n.goAsync(func() { n.establishLeadership(lt) })
	} else if !isLeader && cur != nil {
		n.leadership.Store(nil)
	}
	n.leaderMu.Lock()
	close(n.leaderChanged)
	n.leaderChanged = make(chan struct{})
	n.leaderMu.Unlock()
}

// establishLeadership runs once per term this node leads: it waits until the
// entries of earlier terms are applied, then records cluster metadata.
func (n *Node) establishLeadership(lt *leadTerm) {
	// raft never answers a barrier still queued when it shuts down: stop
	// waiting when the node stops, or stop() would wait for us forever.
	bctx, bcancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-n.stopping:
		case <-bctx.Done():
		}
		bcancel()
	}()
	err := n.await(bctx, n.raft.Barrier(0))
	bcancel()
	if err != nil {
		n.logger.Warn("leadership barrier failed", "term", lt.term, "err", err)
		return
	}
	close(lt.ready)
	n.logger.Info("leading", "term", lt.term)
	meta := n.fsm.metaSnapshot()
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	if meta.clusterID == 0 {
		var b [8]byte
		crand.Read(b[:])
		id := binary.LittleEndian.Uint64(b[:]) | 1
		if _, err := n.Apply(ctx, typeNode, encodeSetClusterID(id)); err != nil {
			n.logger.Warn("could not record cluster id", "err", err)
		}
	}
	// Always append a command, even when this node's metadata is current:
	// raft's no-op and barrier entries never reach the FSM, so until a
	// command follows them the applied index stays below the commit index and
	// every ReadBarrier would wait for the next write.
	if _, err := n.Apply(ctx, typeNode, encodeSetMember(n.cfg.ID, memberMeta{ClientAddr: n.cfg.ClientAddr})); err != nil {
		n.logger.Warn("could not record member metadata", "err", err)
	}
}

// Leader returns the current leader's id and peer address, or ErrNoLeader.
func (n *Node) Leader() (id, addr string, err error) {
	if n.raft == nil {
		return "", "", ErrNoLeader
	}
	a, i := n.raft.LeaderWithID()
	if a == "" {
		return "", "", ErrNoLeader
	}
	return string(i), string(a), nil
}

// Term returns the current raft term.
func (n *Node) Term() uint64 {
	if n.raft == nil {
		return 0
	}
	return n.raft.CurrentTerm()
}

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.raft != nil && n.raft.State() == raft.Leader }

// waitLeader waits up to LeaderTimeout for a known leader.
func (n *Node) waitLeader(ctx context.Context) (id, addr string, err error) {
	timer := time.NewTimer(n.cfg.LeaderTimeout)
	defer timer.Stop()
	for {
		n.leaderMu.Lock()
		changed := n.leaderChanged
		n.leaderMu.Unlock()
		if n.removed.Load() {
			return "", "", ErrRemoved
		}
		if id, addr, err = n.Leader(); err == nil {
			return id, addr, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return "", "", fmt.Errorf("%w within %s", ErrNoLeader, n.cfg.LeaderTimeout)
		case <-ctx.Done():
			return "", "", fmt.Errorf("waiting for a leader: %w", ctx.Err())
		case <-n.stopping:
			return "", "", ErrShutdown
		}
	}
}

// Ready returns a channel closed once the node knows a leader and has
// applied everything the leader had committed when the node started.
func (n *Node) Ready() <-chan struct{} { return n.ready }

func (n *Node) waitReady() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.LeaderTimeout)
		err := n.WaitForSync(ctx)
		cancel()
		if err == nil {
			close(n.ready)
			n.logger.Info("ready", "applied", n.AppliedIndex())
			n.publishClientAddr()
			return
		}
		select {
		case <-n.stopping:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publishClientAddr records this node's client address in the replicated
// cluster metadata when it is missing or stale there. The leader records its
// own in establishLeadership and a joining node sends it with its join
// request; without this, the followers of an --initial-cluster (and a node
// restarted with a new client address) would never be listed with theirs.
func (n *Node) publishClientAddr() {
	if m, ok := n.fsm.metaSnapshot().members[n.cfg.ID]; n.cfg.ClientAddr == "" || (ok && m.ClientAddr == n.cfg.ClientAddr) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.LeaderTimeout)
	defer cancel()
	if _, err := n.Apply(ctx, typeNode, encodeSetMember(n.cfg.ID, memberMeta{ClientAddr: n.cfg.ClientAddr})); err != nil {
		n.logger.Warn("could not record this node's client address", "err", err)
	}
}

// WaitForSync waits until a leader is known and this node has applied every
// entry the leader had committed when WaitForSync was called.
func (n *Node) WaitForSync(ctx context.Context) error { return n.ReadBarrier(ctx) }

// AppliedIndex returns the index of the last entry applied to the state machines.
func (n *Node) AppliedIndex() uint64 { return n.fsm.applied.get() }

// WaitApplied blocks until the entry at index is applied locally.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.applied.wait(ctx, index)
}

// Shutdown stops the node. A leader first hands leadership to another voter
// so that the cluster does not wait an election timeout. Acknowledged writes
// are durable in the log of a majority; none is lost.
func (n *Node) Shutdown() error {
	var err error
	n.stopOnce.Do(func() {
		if n.raft != nil && n.IsLeader() && n.hasOtherVoters() {
			if terr := n.raft.LeadershipTransfer().Error(); terr != nil {
				n.logger.Warn("leadership transfer before shutdown failed", "err", terr)
			}
		}
		err = n.stop()
	})
	return err
}

// Crash stops the node without a leadership transfer, as if the process died
// (its fsynced data survives). For tests.
func (n *Node) Crash() error {
	var err error
	n.stopOnce.Do(func() { err = n.stop() })
	return err
}

func (n *Node) stop() error {
	close(n.stopping)
	var errs []error
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	if n.rpcServer != nil {
		n.rpcServer.Stop()
	}
	n.forwards.close()
	n.peers.close()
	n.mux.Close()
	if n.trans != nil {
		n.trans.Close()
	}
	n.wg.Wait()
	errs = append(errs, n.store.close())
	return errors.Join(errs...)
}

func (n *Node) hasOtherVoters() bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != n.cfg.ID {
			return true
		}
	}
	return false
}

func durationOf(ns uint64) time.Duration { return time.Duration(ns) }
