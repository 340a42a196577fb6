package linearizability

import (
	"fmt"
	"sort"
	"sync"
)

// Lock mutual exclusion is judged with fencing, as a resource guarded by an
// etcd lock is: each hold of a concurrency.Mutex carries its token (the
// create revision of the holder's lock key) and writes a shared counter
// only through a txn that also checks the lock key is still the holder's
// (Mutex.IsOwner). A lease may expire while its holder still believes it
// holds the lock (clocks and pauses make that unavoidable), so two holds
// may overlap in real time; what must never happen is a guarded write that
// succeeds after a later holder acquired the lock, or guarded writes whose
// order in the log disagrees with the order of their tokens.

// Hold is one acquisition of the lock.
type Hold struct {
	Client   int
	Token    int64
	Acquired int64 // when Lock returned
	Writes   []GuardedWrite
}

// GuardedWrite is one fenced counter increment under a hold.
type GuardedWrite struct {
	Call, Return int64
	Unknown      bool
	OK           bool  // the txn's guard held and the counter was written
	Rev          int64 // header revision of a successful write
}

// LockHistory collects holds.
type LockHistory struct {
	mu    sync.Mutex
	holds []Hold
	// Final is the counter's value read after the run, -1 if never read.
	Final int64
}

// Add records a hold once it ended.
func (h *LockHistory) Add(hold Hold) {
	h.mu.Lock()
	h.holds = append(h.holds, hold)
	h.mu.Unlock()
}

// Holds returns the recorded holds.
func (h *LockHistory) Holds() []Hold {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Hold(nil), h.holds...)
}

// CheckLocks returns every violation of fenced mutual exclusion in holds,
// and the number of successful and unknown guarded writes. final, if >= 0,
// is the counter's value after the run: it must lie between the number of
// successful increments and that plus the unknown ones.
func CheckLocks(holds []Hold, final int64) (violations []string, ok, unknown int) {
	byToken := map[int64]int{}
	type write struct {
		token int64
		GuardedWrite
	}
	var writes []write
	for i, h := range holds {
		if j, dup := byToken[h.Token]; dup {
			violations = append(violations, fmt.Sprintf("holds %d and %d have the same token %d", j, i, h.Token))
		}
		byToken[h.Token] = i
		for _, w := range h.Writes {
			switch {
			case w.Unknown:
				unknown++
			case w.OK:
				ok++
				writes = append(writes, write{h.Token, w})
			}
		}
	}
	// A successful guarded write invoked after a holder with a larger token
	// acquired the lock.
	for _, a := range holds {
		for _, b := range holds {
			if a.Token >= b.Token {
				continue
			}
			for _, w := range a.Writes {
				if w.OK && !w.Unknown && w.Call > b.Acquired {
					violations = append(violations, fmt.Sprintf(
						"client %d (token %d) wrote the counter at revision %d, %s after client %d (token %d) acquired the lock",
						a.Client, a.Token, w.Rev, nanos(w.Call-b.Acquired), b.Client, b.Token))
				}
			}
		}
	}
	// Successful guarded writes in log order carry non-decreasing tokens.
	sort.Slice(writes, func(i, j int) bool { return writes[i].Rev < writes[j].Rev })
	for i := 1; i < len(writes); i++ {
		if writes[i].token < writes[i-1].token {
			violations = append(violations, fmt.Sprintf("guarded write at revision %d has token %d, after a write at revision %d with token %d",
				writes[i].Rev, writes[i].token, writes[i-1].Rev, writes[i-1].token))
		}
	}
	if final >= 0 && (final < int64(ok) || final > int64(ok+unknown)) {
		violations = append(violations, fmt.Sprintf("counter is %d after %d successful and %d unknown guarded increments", final, ok, unknown))
	}
	return violations, ok, unknown
}

func nanos(n int64) string { return fmt.Sprintf("%.3fms", float64(n)/1e6) }
