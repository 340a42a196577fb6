package etcdapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// AutoCompaction configures automatic compaction of the kv history, as
// etcd's --auto-compaction-mode and --auto-compaction-retention do. The
// leader decides when and to which revision, and proposes the compaction
// through the log like any other write.
type AutoCompaction struct {
	// Mode is "periodic" (keep Retention of history) or "revision" (keep
	// the last Revisions revisions). Empty disables auto compaction.
	Mode string
	// Retention is the history kept in periodic mode.
	Retention time.Duration
	// Revisions is the number of revisions kept in revision mode.
	Revisions int64
	// Interval is how often revision mode compacts (etcd: 5 minutes).
	// Periodic mode samples every Retention/10, at most every hour.
	Interval time.Duration
}

// ParseAutoCompaction reads etcd's flag values: mode "periodic" with a
// duration ("1h", "30m", or a bare number of hours) or mode "revision" with
// a count. A zero retention disables auto compaction.
func ParseAutoCompaction(mode, retention string) (AutoCompaction, error) {
	ac := AutoCompaction{Mode: mode}
	if retention == "" || retention == "0" {
		return AutoCompaction{}, nil
	}
	switch mode {
	case "periodic", "":
		ac.Mode = "periodic"
		if h, err := strconv.ParseFloat(retention, 64); err == nil {
			ac.Retention = time.Duration(h * float64(time.Hour))
		} else if d, err := time.ParseDuration(retention); err == nil {
			ac.Retention = d
		} else {
			return ac, fmt.Errorf("auto compaction retention %q is neither a duration nor a number of hours", retention)
		}
		if ac.Retention <= 0 {
			return ac, fmt.Errorf("auto compaction retention %q must be positive", retention)
		}
	case "revision":
		n, err := strconv.ParseInt(strings.TrimSpace(retention), 10, 64)
		if err != nil || n <= 0 {
			return ac, fmt.Errorf("auto compaction retention %q must be a positive number of revisions in revision mode", retention)
		}
		ac.Revisions = n
	default:
		return ac, fmt.Errorf("auto compaction mode %q is not periodic or revision", mode)
	}
	return ac, nil
}

func (c AutoCompaction) enabled() bool { return c.Mode != "" }

// tick is how often the compactor wakes.
func (c AutoCompaction) tick() time.Duration {
	if c.Mode == "revision" {
		if c.Interval > 0 {
			return c.Interval
		}
		return 5 * time.Minute
	}
	return min(max(c.Retention/10, time.Second), time.Hour)
}

// revSample is the store's revision at a moment.
type revSample struct {
	at  time.Time
	rev int64
}

// runCompactor compacts while this node leads. Periodic mode remembers the
// revision at each tick and compacts to the newest one at least Retention
// old; samples restart on every leadership change, so a new leader waits a
// full Retention before its first compaction, as etcd's does.
func (a *API) runCompactor(ctx context.Context) {
	c := a.compaction
	if !c.enabled() {
		return
	}
	t := time.NewTicker(c.tick())
	defer t.Stop()
	var samples []revSample
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if !a.node.IsLeader() {
				samples = nil
				continue
			}
			var target int64
			if c.Mode == "revision" {
				target = a.store.Rev() - c.Revisions
			} else {
				samples = append(samples, revSample{at: now, rev: a.store.Rev()})
				for len(samples) > 0 && now.Sub(samples[0].at) >= c.Retention {
					target = samples[0].rev
					samples = samples[1:]
				}
			}
			if target > a.store.CompactRev() {
				a.compact(ctx, target)
			}
		}
	}
}

func (a *API) compact(ctx context.Context, rev int64) {
	_, err := a.node.Apply(ctx, node.TypeKV, kv.EncodeCompact(&pb.CompactionRequest{Revision: rev}))
	if err != nil && !errors.Is(err, kv.ErrCompacted) {
		a.logger.Warn("auto compaction failed", "revision", rev, "err", err)
		return
	}
	a.logger.Info("auto compacted", "revision", rev)
}
