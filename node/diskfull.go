package node

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/concord-db/concord/node/wal"
	"github.com/hashicorp/raft"
)

// A full data dir (issue 14). node/wal refuses a write that finds no space
// with wal.ErrNoSpace and stays usable, so the member degrades instead of
// failing:
//
//   - a leader whose log write fails steps down (hashicorp/raft does so
//     when StoreLogs fails) and the commands in that entry fail with
//     ErrUnknownOutcome wrapping ErrDiskFull, which Apply retries on the
//     next leader: the others go on without this member;
//   - a follower's failed append is refused to the leader, which sends it
//     again until it is taken;
//   - Apply on this member refuses at once with ErrDiskFull; reads of local
//     state (serializable) go on; linearizable reads wait for an applied
//     index this member reaches only once it can write again;
//   - Status().DiskFull, /readyz (503 disk_full) and the metrics say so;
//   - a probe writes a file in the wal directory every diskProbeInterval
//     while the condition lasts; once the probe, or any log write,
//     succeeds the member takes writes again and catches up from the
//     leader, without a restart.
//
// Snapshots are written by raft's FileSnapshotStore to a temporary
// directory renamed into place only when complete, so one cut short by a
// full disk is cancelled and leaves the earlier ones untouched.

// ErrDiskFull is returned by Apply while the data dir's file system is
// full, and matched by the failure of a command whose entry the leader
// could not write for lack of space.
var ErrDiskFull = errors.New("node: the data dir's file system is full; writes refused until space is freed")

const (
	// diskProbeInterval is how often a full member checks for space
	// (wal.CheckSpace: room for the log's next preallocation).
	diskProbeInterval = 500 * time.Millisecond
)

// diskSpace tracks whether the data dir's file system is full.
type diskSpace struct {
	dir    string // where the probe writes
	logger *slog.Logger
	full   atomic.Bool
	errs   atomic.Uint64 // writes refused for space, ever
	kick   chan struct{} // a token when the condition starts
}

func newDiskSpace(dir string, logger *slog.Logger) *diskSpace {
	return &diskSpace{dir: dir, logger: logger, kick: make(chan struct{}, 1)}
}

// observe records the outcome of a write. clears says whether a success
// proves there is space (a log append does; a tiny stable store frame may
// fit in a block already allocated, so it does not).
func (d *diskSpace) observe(err error, clears bool) {
	switch {
	case errors.Is(err, wal.ErrNoSpace):
		d.errs.Add(1)
		if d.full.CompareAndSwap(false, true) {
			d.logger.Error("data dir's file system is full: refusing writes until space is freed", "err", err)
			select {
			case d.kick <- struct{}{}:
			default:
			}
		}
	case err == nil && clears:
		d.recovered("a log write succeeded")
	}
}

func (d *diskSpace) recovered(how string) {
	if d.full.CompareAndSwap(true, false) {
		d.logger.Info("data dir has space again: taking writes", "how", how)
	}
}

// run probes for space while the condition lasts, until stop closes.
func (d *diskSpace) run(stop <-chan struct{}) {
	t := time.NewTicker(diskProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-d.kick:
		case <-t.C:
		}
		if d.full.Load() {
			if err := wal.CheckSpace(d.dir); err == nil {
				d.recovered("the space probe succeeded")
			}
		}
	}
}

// spaceWatchedLog is the log and stable store with every write's outcome
// reported to a diskSpace.
type spaceWatchedLog struct {
	logStore
	space *diskSpace
}

// IsMonotonic passes on the wrapped store's answer: raft empties a
// monotonic log when it restores a snapshot, and node/wal's is one.
func (l spaceWatchedLog) IsMonotonic() bool {
	m, ok := l.logStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (l spaceWatchedLog) StoreLog(e *raft.Log) error { return l.StoreLogs([]*raft.Log{e}) }

func (l spaceWatchedLog) StoreLogs(logs []*raft.Log) error {
	err := l.logStore.StoreLogs(logs)
	l.space.observe(err, true)
	return err
}

func (l spaceWatchedLog) Set(k, v []byte) error {
	err := l.logStore.Set(k, v)
	l.space.observe(err, false)
	return err
}

func (l spaceWatchedLog) SetUint64(k []byte, v uint64) error {
	err := l.logStore.SetUint64(k, v)
	l.space.observe(err, false)
	return err
}

// DiskFull reports whether the data dir's file system was found full and
// has not been found to have space since.
func (n *Node) DiskFull() bool { return n.store.space.full.Load() }

// DiskFullErrors counts the writes refused for lack of space since start.
func (n *Node) DiskFullErrors() uint64 { return n.store.space.errs.Load() }

// checkDiskSpace refuses a write on a member whose data dir is full.
func (n *Node) checkDiskSpace() error {
	if n.DiskFull() {
		return fmt.Errorf("%w (%s)", ErrDiskFull, n.cfg.DataDir)
	}
	return nil
}
