package kv

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/concord-db/concord/node"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Options configures a Store. The zero value is valid.
type Options struct {
	// MinLeaseTTL is the smallest TTL in seconds a lease is granted with;
	// shorter requests are raised to it (etcd derives it from the election
	// timeout). It changes replicated state, so every member must use the
	// same value. Default 0: no minimum.
	MinLeaseTTL int64
	// WatchBuffer is how many responses a watcher may have queued before it
	// is moved to the unsynced set and caught up from history. Default 128.
	WatchBuffer int
	// Lessor, if set, is kept informed of grants, revokes, checkpoints and
	// restores as they are applied, so it can take over expiry when this
	// member becomes leader (Lessor.Promote).
	Lessor *Lessor
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
}

// Store is the kv state machine. It implements node.StateMachine.
//
// Apply, ApplyBatch, Snapshot and Restore must be called from one goroutine
// at a time (node does); every read method and Watch may be called
// concurrently with them and with each other. Reads never wait for apply:
// each read loads the current immutable state once and answers from it.
type Store struct {
	opts    Options
	cur     atomic.Pointer[state]
	hub     *hub
	applyM  sync.Mutex // serializes Apply/Restore if a caller breaks the contract
	metrics storeMetrics
}

var _ node.StateMachine = (*Store)(nil)

// New returns an empty store (revision 1) and starts its watch hub. Call
// Close to stop it.
func New(opts Options) *Store {
	if opts.WatchBuffer <= 0 {
		opts.WatchBuffer = 128
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{opts: opts}
	st := emptyState()
	s.cur.Store(st)
	s.hub = newHub(s.view, st.rev, opts.WatchBuffer)
	return s
}

// Close stops the watch hub and cancels every watcher. The store stays
// readable.
func (s *Store) Close() error {
	s.hub.close()
	return nil
}

func (s *Store) view() *state { return s.cur.Load() }

// Apply applies one committed command (see command.go for the encoding) and
// returns its encoded result. It never panics on bad input: an undecodable
// command yields an encoded ErrBadCommand and changes nothing but the
// applied index.
func (s *Store) Apply(index uint64, cmd []byte) []byte {
	s.applyM.Lock()
	defer s.applyM.Unlock()
	base := s.cur.Load()
	k, req, err := DecodeCommand(cmd)
	if err != nil {
		s.publishIndex(base, index)
		return encodeError(err)
	}
	w := newWriter(base, s.opts.MinLeaseTTL)
	resp, err := w.exec(k, req)
	if err != nil {
		s.publishIndex(base, index)
		return encodeError(err)
	}
	st := w.finish(index)
	s.cur.Store(st)
	if len(w.changes) > 0 {
		s.hub.notify(st.rev, w.changes)
	}
	if len(w.leaseOps) > 0 {
		s.metrics.countLeaseOps(w.leaseOps)
		if s.opts.Lessor != nil {
			s.opts.Lessor.applied(w.leaseOps)
		}
	}
	return encodeResult(k, resp)
}

func (s *Store) publishIndex(base *state, index uint64) {
	st := *base
	st.index = index
	s.cur.Store(&st)
}

func (w *writer) exec(k Kind, req Message) (Message, error) {
	if err := w.capped(k, req); err != nil {
		return nil, err
	}
	switch k {
	case KindPut:
		return w.put(req.(*pb.PutRequest))
	case KindDeleteRange:
		return w.deleteRange(req.(*pb.DeleteRangeRequest)), nil
	case KindTxn:
		return w.txn(req.(*pb.TxnRequest))
	case KindCompact:
		return w.compact(req.(*pb.CompactionRequest))
	case KindLeaseGrant:
		return w.grant(req.(*pb.LeaseGrantRequest))
	case KindLeaseRevoke:
		return w.revoke(req.(*pb.LeaseRevokeRequest))
	case KindLeaseCheckpoint:
		return w.checkpoint(req.(*pb.LeaseCheckpointRequest)), nil
	case KindAlarm:
		return w.alarm(req.(*pb.AlarmRequest))
	}
	return nil, ErrBadCommand
}

// Range answers a RangeRequest from local state (see rangeKeys for the
// exact semantics). Errors: ErrCompacted, ErrFutureRev.
func (s *Store) Range(r *pb.RangeRequest) (*pb.RangeResponse, error) {
	return rangeKeys(s.view(), r)
}

// ReadTxn evaluates a txn without going through the log. It returns
// ErrNotReadOnly if any branch puts or deletes, and ErrCompacted or
// ErrFutureRev from its ranges.
func (s *Store) ReadTxn(r *pb.TxnRequest) (*pb.TxnResponse, error) {
	return readTxn(s.view(), r)
}

// Rev returns the current revision (1 for an empty store).
func (s *Store) Rev() int64 { return s.view().rev }

// CompactRev returns the revision of the last compaction, 0 if none.
func (s *Store) CompactRev() int64 { return s.view().compactRev }

// AppliedIndex returns the raft index of the last applied command.
func (s *Store) AppliedIndex() uint64 { return s.view().index }

// HashKV returns a CRC-32C over the key-value history up to rev (0 = the
// current revision), the revision hashed, and the compacted revision; see
// hashKV for what it covers. Errors: ErrCompacted, ErrFutureRev.
func (s *Store) HashKV(rev int64) (hash uint32, hashRev, compactRev int64, err error) {
	st := s.view()
	hash, hashRev, err = hashKV(st, rev)
	return hash, hashRev, st.compactRev, err
}

// LeaseTimeToLive returns a lease's granted TTL, its TTL as far as the
// replicated state knows (the last checkpoint's remaining TTL, else the
// granted TTL) and, if keys, its attached keys in key order. Error:
// ErrLeaseNotFound.
func (s *Store) LeaseTimeToLive(id int64, keys bool) (*pb.LeaseTimeToLiveResponse, error) {
	return leaseTimeToLive(s.view(), id, keys)
}

// Leases returns every lease, by ID.
func (s *Store) Leases() []LeaseInfo { return leaseInfos(s.view()) }

// Snapshot returns an O(1) point-in-time view of the store for persisting.
func (s *Store) Snapshot() (node.Snapshot, error) {
	return &Snapshot{st: s.view()}, nil
}

// Restore replaces the whole state with one written by Snapshot.Persist; an
// empty reader gives an empty store. On error the store is unchanged.
// Watchers survive: every one is moved to the unsynced set and caught up
// from the restored history, or cancelled (ErrCompacted with the restored
// compact revision) if that history no longer reaches back to the next
// revision it expects, or if the restored store is behind what it has
// already seen.
func (s *Store) Restore(r io.Reader) error { return s.restore(r, false) }

// RestoreRollback implements node.RollbackRestorer: Restore for a snapshot
// that replaces the agreed state. Every watcher is cancelled with the
// restored revision as its compact revision (etcd clients see
// ErrCompacted, read again and watch from there) instead of being resumed
// on a history that is not the one it was watching.
func (s *Store) RestoreRollback(r io.Reader) error { return s.restore(r, true) }

func (s *Store) restore(r io.Reader, rollback bool) error {
	st, err := readSnapshot(r)
	if err != nil {
		return err
	}
	s.applyM.Lock()
	defer s.applyM.Unlock()
	s.cur.Store(st)
	s.hub.restored(st.rev, rollback)
	if s.opts.Lessor != nil {
		s.opts.Lessor.restored(leaseInfos(st))
	}
	return nil
}
