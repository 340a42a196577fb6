package resource

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/node"
)

// Store is the resource state machine of one member, registered with the
// node as node.TypeResource. Apply, ApplyBatch, Snapshot and the Restore
// methods are called by the node in log order from one goroutine; every
// other method may be called from any goroutine and never blocks apply.
type Store struct {
	cfg Config

	applyMu sync.Mutex // serialises apply and restore (one goroutine in practice)
	db      tables
	rev     uint64  // revision of the last write
	index   uint64  // raft index of the last command applied
	hist    []Event // retained events, oldest first; never written in place (see liveEvents)
	counts  map[string]int
	// countsChanged tells publish that a create or delete changed counts.
	countsChanged bool
	intern        *interner // strings shared by decoded commands

	view atomic.Pointer[view] // what readers see
	hub  *hub

	statusMu    sync.Mutex
	statusCache Status // counts published with the view

	metrics metrics
}

var (
	_ node.StateMachine      = (*Store)(nil)
	_ node.BatchApplier      = (*Store)(nil)
	_ node.SnapshotValidator = (*Store)(nil)
	_ node.RollbackRestorer  = (*Store)(nil)
)

// view is one published state: the store's tables (persistent maps, so
// publishing is O(1)) with the revision, index and events that go with
// it. It is immutable; next is closed when a newer view replaces it.
//
// hist holds the latest events, contiguous in version and ending at rev:
// the last resumable of them (Config.HistoryEvents) are what a watch may
// resume from and what snapshots keep; the rest, up to liveEvents, are
// there for watches that are reading behind (see Watch.NextBatch).
type view struct {
	db        tables
	rev       uint64
	index     uint64
	hist      []Event
	resumable int
	next      chan struct{}
}

// retained is the history a watch may resume from and a snapshot keeps.
func (v *view) retained() []Event {
	if over := len(v.hist) - v.resumable; over > 0 {
		return v.hist[over:]
	}
	return v.hist
}

// oldestResumable is the lowest version a watch can resume from on v: the
// revision before the oldest retained event, or v.rev when none is.
func (v *view) oldestResumable() uint64 { return oldestIn(v.retained(), v.rev) }

// oldestLive is the version before the oldest event v holds: a watch
// further behind has lost events.
func (v *view) oldestLive() uint64 { return oldestIn(v.hist, v.rev) }

func oldestIn(evs []Event, rev uint64) uint64 {
	if len(evs) == 0 {
		return rev
	}
	return evs[0].Version - 1
}

// liveEvents is how many of the latest events the store keeps in memory:
// the history to resume from, and at least four times a watch's buffer so
// that a watch reading behind, even of a type few writes touch, is cut off
// by its own buffer (WatchBuffer matching events) rather than by the
// history's length.
func (c Config) liveEvents() int { return max(c.HistoryEvents, 4*c.WatchBuffer) }

// Status describes a Store for GET /v1/status and `concord status`.
type Status struct {
	// Resources is how many resources are stored.
	Resources int
	// ByType counts them by "group.kind".
	ByType map[string]int
	// Revision is the store's revision: the version of its last write.
	Revision uint64
}

// Open returns an empty store; the node fills it from its snapshot and log.
func Open(cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, db: newTables(), counts: map[string]int{}, intern: newInterner()}
	s.hub = newHub(s)
	s.view.Store(&view{db: s.db, resumable: cfg.HistoryEvents, next: make(chan struct{})})
	s.statusCache = Status{ByType: map[string]int{}}
	return s, nil
}

// Close ends every watch with ErrWatchClosed and refuses new ones. The
// store's state stays readable.
func (s *Store) Close() error {
	s.hub.close()
	return nil
}

// Status returns the resource counts and revision.
func (s *Store) Status() Status {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	st := s.statusCache
	st.ByType = make(map[string]int, len(s.statusCache.ByType))
	for k, v := range s.statusCache.ByType {
		st.ByType[k] = v
	}
	return st
}

// Revision returns the revision of the last applied write.
func (s *Store) Revision() uint64 { return s.view.Load().rev }

// AppliedIndex returns the raft index of the last resource command applied
// (or restored) on this member.
func (s *Store) AppliedIndex() uint64 { return s.view.Load().index }

// publish makes the apply goroutine's state, with evs at the end of its
// history, visible to readers and watches.
func (s *Store) publish(evs []Event) {
	if over := len(s.hist) + len(evs) - s.cfg.liveEvents(); over > 0 {
		if over >= len(s.hist) {
			evs = evs[over-len(s.hist):]
			s.hist = nil
		} else {
			s.hist = s.hist[over:]
		}
	}
	// Views share the array: an append writes past the end of every view
	// already published (the history is never shortened at its end), so
	// none sees it change.
	s.hist = append(s.hist, evs...)
	v := &view{db: s.db, rev: s.rev, index: s.index, hist: s.hist, resumable: s.cfg.HistoryEvents, next: make(chan struct{})}
	if s.countsChanged {
		s.publishStatus()
	} else {
		// Updates change only the revision: no new map per apply.
		s.statusMu.Lock()
		s.statusCache.Revision = s.rev
		s.statusMu.Unlock()
	}
	s.hub.publish(v)
}

func (s *Store) publishStatus() {
	st := Status{Revision: s.rev, ByType: make(map[string]int, len(s.counts))}
	for k, n := range s.counts {
		st.ByType[k] = n
		st.Resources += n
	}
	s.statusMu.Lock()
	s.statusCache = st
	s.statusMu.Unlock()
	s.countsChanged = false
}

// list returns the resources matching q in v, sorted by ID key.
func (v *view) list(q query) []*pbresource.Resource {
	var out []*pbresource.Resource
	scan(v.db.byID, q.prefix(), func(r *pbresource.Resource) bool {
		if q.matches(r) {
			out = append(out, r)
		}
		return true
	})
	return out
}

// listByOwner returns the resources whose owner is exactly owner (uid
// included), from the owner index, sorted by ID key.
func (v *view) listByOwner(owner *pbresource.ID) []*pbresource.Resource {
	var out []*pbresource.Resource
	scan(v.db.byOwner, ownerKey(owner), func(r *pbresource.Resource) bool {
		out = append(out, r)
		return true
	})
	return out
}
