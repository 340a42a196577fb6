package kv

import (
	"context"
	"os"
	"strconv"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// DefaultQuotaBytes is etcd's default --quota-backend-bytes (2 GiB).
// concord's state lives in memory, so DefaultQuota lowers it to a quarter
// of the machine's memory where that is smaller.
const DefaultQuotaBytes = 2 << 30

// DefaultQuota returns the quota a member uses when none is configured:
// DefaultQuotaBytes, or a quarter of the machine's physical memory
// (/proc/meminfo MemTotal) if that is smaller. Size counts bytes of keys and
// values plus 64 per version; the Go heap holding them is larger (about two
// to three times for small values), hence the quarter.
func DefaultQuota() int64 {
	q := int64(DefaultQuotaBytes)
	if mem := memTotal(); mem > 0 && mem/4 < q {
		q = mem / 4
	}
	return q
}

func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// Guard is the space quota, checked before a write is proposed, as etcd's
// quota layer does for Put, Txn and LeaseGrant: a write that would take
// Size past the quota raises the NOSPACE alarm through the log and is
// refused with ErrNoSpace; while the alarm is raised every guarded write is
// refused at once (and apply refuses the ones already in flight, see
// alarm.go). Deletes, compaction and reads are never guarded. The quota is
// this member's setting; the alarm it raises is the cluster's.
//
// The guard reads this member's state, which may lag the cluster's: before
// refusing it passes a read barrier and looks again, so a write that
// follows a disarm (or a compaction) on another member is not refused
// because this one has not applied it yet.
type Guard struct {
	store  *Store
	quota  int64
	member uint64
	// propose commits an encoded kv command (the alarm).
	propose func(ctx context.Context, cmd []byte) error
	// barrier waits until this member has applied everything committed
	// before the call (a linearizable read barrier).
	barrier func(ctx context.Context) error
}

// NewGuard returns a guard on store. quota 0 means DefaultQuota(), below 0
// no quota (the alarm, if raised by another member, still refuses writes).
// member is this member's etcd ID, named in the alarm; propose commits a kv
// command through the log; barrier is the node's read barrier.
func NewGuard(store *Store, quota int64, member uint64, propose func(ctx context.Context, cmd []byte) error, barrier func(ctx context.Context) error) *Guard {
	if quota == 0 {
		quota = DefaultQuota()
	}
	return &Guard{store: store, quota: quota, member: member, propose: propose, barrier: barrier}
}

// Quota returns the quota in bytes (negative: none).
func (g *Guard) Quota() int64 { return g.quota }

// Alarms lists every raised alarm as this member has applied them (the
// web console shows them); nil on a nil guard.
func (g *Guard) Alarms() []*pb.AlarmMember {
	if g == nil {
		return nil
	}
	return g.store.Alarms(pb.AlarmType_NONE)
}

// Check refuses a write of about cost bytes with ErrNoSpace if NOSPACE is
// raised or if the write would take the state past the quota; in the
// second case it first raises NOSPACE (an error raising it is returned
// wrapped, the write is refused either way).
func (g *Guard) Check(ctx context.Context, cost int64) error {
	if g == nil || g.fits(cost) {
		return nil
	}
	if err := g.barrier(ctx); err != nil {
		return err
	}
	if g.fits(cost) {
		return nil
	}
	if g.store.NoSpace() {
		return ErrNoSpace
	}
	req := &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: g.member, Alarm: pb.AlarmType_NOSPACE}
	if err := g.propose(ctx, EncodeAlarm(req)); err != nil {
		return &NoSpaceError{Raise: err}
	}
	return ErrNoSpace
}

// fits reports whether, as far as this member has applied, NOSPACE is not
// raised and the write fits the quota.
func (g *Guard) fits(cost int64) bool {
	return !g.store.NoSpace() && (g.quota < 0 || g.store.Size()+cost <= g.quota)
}

// NoSpaceError is ErrNoSpace when raising the alarm failed too.
type NoSpaceError struct{ Raise error }

func (e *NoSpaceError) Error() string {
	return ErrNoSpace.Error() + " (raising the NOSPACE alarm failed: " + e.Raise.Error() + ")"
}

// Unwrap makes errors.Is(err, ErrNoSpace) hold.
func (e *NoSpaceError) Unwrap() error { return ErrNoSpace }

// PutCost is what a put adds to Size, as Guard.Check wants it.
func PutCost(r *pb.PutRequest) int64 { return int64(len(r.Key)+len(r.Value)) + perVersion }

// TxnCost is the larger of the costs of a txn's two branches (nested txns
// included), as etcd counts it.
func TxnCost(t *pb.TxnRequest) int64 {
	return max(opsCost(t.Success), opsCost(t.Failure))
}

func opsCost(ops []*pb.RequestOp) int64 {
	var n int64
	for _, op := range ops {
		if p := op.GetRequestPut(); p != nil {
			n += PutCost(p)
		}
		if t := op.GetRequestTxn(); t != nil {
			n += TxnCost(t)
		}
	}
	return n
}

// LeaseGrantCost is what etcd charges a lease grant.
const LeaseGrantCost = perVersion
