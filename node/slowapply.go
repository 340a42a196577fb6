package node

import (
	"time"

	"github.com/hashicorp/raft"
)

// DefaultSlowApply is Config.SlowApply's default: etcd warns of an apply
// that "took too long" past 100 ms.
const DefaultSlowApply = 100 * time.Millisecond

// slowApplyEvery is the least time between two slow-apply log lines: a
// member whose applies are all slow (a saturated disk or CPU) logs one
// line with a count per interval, not one per entry.
const slowApplyEvery = 10 * time.Second

// slowApplyLog is the rate limit of the slow-apply warnings. Owned by the
// apply goroutine.
type slowApplyLog struct {
	last       time.Time // when the last line was logged
	suppressed int       // slow applies since then not logged
}

// observeApply records how long the entry l took to apply; past the
// SlowApply threshold it counts it and logs it at warn level (rate-limited).
// It reads the clock but changes no state a snapshot or another member
// could see.
func (f *fsm) observeApply(l *raft.Log, took time.Duration) {
	f.metrics.applySeconds.Observe(took.Seconds())
	if took <= f.slowApply {
		return
	}
	f.metrics.slowApplies.Inc()
	now := time.Now()
	if !f.slow.last.IsZero() && now.Sub(f.slow.last) < slowApplyEvery {
		f.slow.suppressed++
		return
	}
	f.logger.Warn("slow apply", "index", l.Index, "took", took.Round(time.Microsecond), "threshold", f.slowApply,
		"bytes", len(l.Data), "not_logged_since_last", f.slow.suppressed)
	f.slow.last, f.slow.suppressed = now, 0
}
