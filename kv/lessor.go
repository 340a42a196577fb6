package kv

import (
	"sort"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Lessor decides lease expiry on the leader. It is not part of apply and
// holds no clock: every time-dependent method takes now from the caller.
// It only compares and subtracts those readings, so they must come from a
// clock that does not jump with the wall clock: time.Now (its values carry
// the monotonic reading that Sub and Before use; etcdapi's
// Config.LeaseClock), never time.Unix stamps or Round(0) values, which
// compare by the wall clock.
//
// Contract:
//   - Every member has one, passed in Options.Lessor, so it always knows the
//     leases that exist (the Store tells it about grants, revokes,
//     checkpoints and restores as they are applied).
//   - Only a primary (the leader; see Promote and Demote) tracks deadlines.
//     Promote(now) gives every lease a deadline of now + its remaining TTL
//     (the last checkpointed one, else the granted TTL), so a leader change
//     never expires a lease early; a lease granted while primary gets its
//     deadline at the first call that passes a now.
//   - The leader periodically calls Expired(now) and proposes a revoke for
//     each ID (EncodeLeaseRevoke); and Checkpoints(now), proposing the result
//     with EncodeLeaseCheckpoint when it is not empty.
//   - Keep-alives call Renew(id, now) on the leader, which restarts the
//     lease's TTL. A renewal of a checkpointed lease makes the next
//     Checkpoints call clear its checkpoint (remaining TTL 0), as etcd does.
//
// All methods are safe for concurrent use.
type Lessor struct {
	mu       sync.Mutex
	primary  bool
	interval time.Duration
	leases   map[int64]*lessorLease
}

type lessorLease struct {
	ttl       int64     // granted TTL, seconds
	remaining int64     // last checkpointed remaining TTL, seconds; 0 = none
	deadline  time.Time // primary only; zero: set at the next call with a now
	retryAt   time.Time // an expired lease is reported again only after this
	nextCP    time.Time // primary only: when to checkpoint next
	clearCP   bool      // renewed while checkpointed: checkpoint 0 next
}

// LessorConfig configures a Lessor.
type LessorConfig struct {
	// CheckpointInterval is how often the primary checkpoints each lease's
	// remaining TTL through the log, bounding how much TTL a lease regains
	// on a leader change. 0 disables checkpoints (etcd's default is 5m).
	CheckpointInterval time.Duration
}

// expiredRetry is how long an expired lease waits before Expired reports it
// again, in case its revoke was lost (etcd uses 3s).
const expiredRetry = 3 * time.Second

// NewLessor returns a lessor that is not primary.
func NewLessor(cfg LessorConfig) *Lessor {
	return &Lessor{interval: cfg.CheckpointInterval, leases: map[int64]*lessorLease{}}
}

func (l *Lessor) applied(ops []leaseOp) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, op := range ops {
		switch op.kind {
		case 'g':
			l.leases[op.id] = &lessorLease{ttl: op.ttl}
		case 'r':
			delete(l.leases, op.id)
		case 'c':
			if le := l.leases[op.id]; le != nil {
				le.remaining = op.remaining
			}
		}
	}
}

func (l *Lessor) restored(infos []LeaseInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leases = make(map[int64]*lessorLease, len(infos))
	for _, in := range infos {
		l.leases[in.ID] = &lessorLease{ttl: in.TTL, remaining: in.RemainingTTL}
	}
}

func (le *lessorLease) remainingOrTTL() int64 {
	if le.remaining > 0 {
		return le.remaining
	}
	return le.ttl
}

// resolve gives a lease a deadline if it has none yet. l.mu held.
func (l *Lessor) resolve(le *lessorLease, now time.Time) {
	if le.deadline.IsZero() {
		le.deadline = now.Add(time.Duration(le.remainingOrTTL()) * time.Second)
		le.nextCP = now.Add(l.interval)
	}
}

// Promote makes the lessor primary and restarts every lease's deadline at
// now plus its remaining TTL.
func (l *Lessor) Promote(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.primary = true
	for _, le := range l.leases {
		le.deadline, le.retryAt = time.Time{}, time.Time{}
		l.resolve(le, now)
	}
}

// Demote makes the lessor a follower: it forgets every deadline.
func (l *Lessor) Demote() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.primary = false
	for _, le := range l.leases {
		le.deadline, le.retryAt, le.clearCP = time.Time{}, time.Time{}, false
	}
}

// IsPrimary reports whether the lessor is primary.
func (l *Lessor) IsPrimary() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.primary
}

// Renew restarts a lease's TTL at now and returns the TTL. Errors:
// ErrNotPrimary on a follower; ErrLeaseNotFound for an unknown lease or one
// already expired (its revoke is due).
func (l *Lessor) Renew(id int64, now time.Time) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	le, err := l.lookup(id, now)
	if err != nil {
		return 0, err
	}
	if !now.Before(le.deadline) {
		return 0, ErrLeaseNotFound
	}
	le.deadline = now.Add(time.Duration(le.ttl) * time.Second)
	if le.remaining != 0 {
		le.clearCP = true
	}
	return le.ttl, nil
}

// TimeToLive returns the seconds left before the lease expires (rounded
// up; at least 0). Errors: ErrNotPrimary, ErrLeaseNotFound.
func (l *Lessor) TimeToLive(id int64, now time.Time) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	le, err := l.lookup(id, now)
	if err != nil {
		return 0, err
	}
	return secondsUntil(le.deadline, now), nil
}

// lookup returns a primary's lease with its deadline resolved at now. l.mu
// must be held.
func (l *Lessor) lookup(id int64, now time.Time) (*lessorLease, error) {
	if !l.primary {
		return nil, ErrNotPrimary
	}
	le := l.leases[id]
	if le == nil {
		return nil, ErrLeaseNotFound
	}
	l.resolve(le, now)
	return le, nil
}

func secondsUntil(t, now time.Time) int64 {
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// Expired returns, in ID order, the leases whose deadline has passed, for
// the leader to propose revokes. A lease is reported again only if it is
// still there expiredRetry later. A follower returns nil.
func (l *Lessor) Expired(now time.Time) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.primary {
		return nil
	}
	var ids []int64
	for id, le := range l.leases {
		l.resolve(le, now)
		if now.Before(le.deadline) || now.Before(le.retryAt) {
			continue
		}
		le.retryAt = now.Add(expiredRetry)
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Checkpoints returns, in ID order, the checkpoints the leader should
// propose now: the remaining TTL of leases whose checkpoint interval has
// passed, and 0 for leases renewed since their last checkpoint. It returns
// nil on a follower or when checkpoints are disabled.
func (l *Lessor) Checkpoints(now time.Time) []*pb.LeaseCheckpoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.primary || l.interval <= 0 {
		return nil
	}
	var cps []*pb.LeaseCheckpoint
	for id, le := range l.leases {
		l.resolve(le, now)
		switch {
		case le.clearCP:
			le.clearCP = false
			cps = append(cps, &pb.LeaseCheckpoint{ID: id, Remaining_TTL: 0})
		case !now.Before(le.nextCP) && now.Before(le.deadline):
			le.nextCP = now.Add(l.interval)
			cps = append(cps, &pb.LeaseCheckpoint{ID: id, Remaining_TTL: secondsUntil(le.deadline, now)})
		}
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i].ID < cps[j].ID })
	return cps
}
