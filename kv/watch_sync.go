package kv

import (
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

const (
	// syncRetry is how often the syncer retries watchers whose buffers were
	// full. It only runs while some watcher is unsynced.
	syncRetry = 10 * time.Millisecond
	// syncBatch bounds the events of one catch-up response (whole
	// revisions are never split, so a response may exceed it).
	syncBatch = 1000
	// syncGap is how far behind a watcher may be when the syncer takes the
	// hub lock to deliver the rest and move it to the synced set.
	syncGap = 64
)

// run is the syncer: it catches up unsynced watchers from history.
func (h *hub) run() {
	defer close(h.done)
	var retry <-chan time.Time
	for {
		select {
		case <-h.stop:
			return
		case <-h.kick:
		case <-retry:
		}
		retry = nil
		if h.syncAll() {
			retry = time.After(syncRetry)
		}
	}
}

// syncAll makes one pass over the unsynced watchers and reports whether
// some remain unsynced. Watchers that fell behind together (a slow stream
// has many) need the same events: the pass builds each one once.
func (h *hub) syncAll() bool {
	h.mu.Lock()
	ws := make([]*Watcher, 0, len(h.unsynced))
	for w := range h.unsynced {
		ws = append(ws, w)
	}
	h.mu.Unlock()
	built := eventCache{}
	for _, w := range ws {
		select {
		case <-h.stop:
			return false
		default:
		}
		h.syncOne(w, built)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.unsynced) > 0
}

// syncOne catches w up. Phase one reads immutable states without the hub
// lock (apply keeps going); once w is within syncGap revisions, phase two
// takes the hub lock, so no revision can be notified meanwhile, delivers
// the rest and moves w to the synced set.
func (h *hub) syncOne(w *Watcher, built eventCache) {
	for {
		w.mu.Lock()
		st := h.view()
		switch {
		case w.closed:
			w.mu.Unlock()
			return
		case w.nextRev < st.compactRev:
			w.mu.Unlock()
			h.cancelCompacted(w)
			return
		case w.fullLocked():
			w.mu.Unlock()
			return // its consumer has not read: retry later, without building events it cannot take
		case st.rev-w.nextRev < syncGap:
			w.mu.Unlock()
			h.finishSync(w, built)
			return
		}
		evs, upto := collect(st, w, w.nextRev, st.rev, syncBatch, built)
		if len(evs) > 0 && !w.sendLocked(&WatchResponse{Events: evs, Revision: upto}) {
			w.mu.Unlock()
			return // buffer full: retry later
		}
		h.events.Add(uint64(len(evs)))
		w.nextRev = upto + 1
		w.mu.Unlock()
	}
}

func (h *hub) finishSync(w *Watcher, built eventCache) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.unsynced[w]; !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st := h.view() // includes h.lastRev: apply publishes before it notifies
	if w.nextRev < st.compactRev {
		delete(h.unsynced, w)
		w.cancelLocked(compactedResponse(st), &CompactedError{CompactRev: st.compactRev})
		return
	}
	if w.nextRev <= h.lastRev {
		evs, upto := collect(st, w, w.nextRev, h.lastRev, -1, built)
		if len(evs) > 0 && !w.sendLocked(&WatchResponse{Events: evs, Revision: upto}) {
			return
		}
		h.events.Add(uint64(len(evs)))
		w.nextRev = h.lastRev + 1
	}
	// Phase one may have read a published revision that apply has not
	// notified yet: notify must skip what was delivered already.
	w.minRev = w.nextRev
	w.nextRev = 0
	delete(h.unsynced, w)
	w.synced = true
	h.synced.add(w)
	if w.progressWanted {
		w.progressWanted = false
		w.sendLocked(&WatchResponse{Revision: h.lastRev})
	}
}

func (h *hub) cancelCompacted(w *Watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.unsynced[w]; !ok {
		return
	}
	delete(h.unsynced, w)
	st := h.view()
	w.mu.Lock()
	w.cancelLocked(compactedResponse(st), &CompactedError{CompactRev: st.compactRev})
	w.mu.Unlock()
}

func compactedResponse(st *state) *WatchResponse {
	return &WatchResponse{Revision: st.rev, CompactRevision: st.compactRev, CancelReason: ErrCompacted.Error()}
}

// eventCache holds the events a sync pass built, by record and form: an
// event is determined by its record (and its previous version, found the
// same way for every watcher) and whether prev_kv is attached.
type eventCache map[eventKey]*mvccpb.Event

type eventKey struct {
	cur      *rec
	withPrev bool
}

func (c eventCache) event(cur, prev *rec, withPrev bool) *mvccpb.Event {
	k := eventKey{cur, withPrev}
	ev := c[k]
	if ev == nil {
		ch := change{cur: cur, prev: prev}
		ev = eventOf(&ch, withPrev)
		c[k] = ev
	}
	return ev
}

// collect returns w's events with revisions in [from, to] from st, stopping
// after the revision in which limit events (limit < 0: none) are reached,
// and the last revision covered; the events come from built, which gets
// those it lacked. from must be >= st.compactRev; at exactly the compacted
// revision only the puts that survived compaction remain (as in etcd).
func collect(st *state, w *Watcher, from, to int64, limit int, built eventCache) ([]*mvccpb.Event, int64) {
	var evs []*mvccpb.Event
	add := func(cur, prev *rec) {
		if filtered(w.req, cur.tombstone()) {
			return
		}
		evs = append(evs, built.event(cur, prev, w.req.PrevKV))
	}
	if from <= st.compactRev {
		scan(st.keys, w.sp, func(_ string, vs versions) bool {
			if vs[0].mod == st.compactRev {
				add(vs[0], nil)
			}
			return true
		})
		from = st.compactRev + 1
	}
	if w.sp.single {
		vs, _ := st.keys.Get(w.sp.start)
		for i, v := range vs {
			if v.mod < from {
				continue
			}
			if v.mod > to {
				break
			}
			if limit >= 0 && len(evs) >= limit {
				return evs, v.mod - 1
			}
			var prev *rec
			if i > 0 && !vs[i-1].tombstone() {
				prev = vs[i-1]
			}
			add(v, prev)
		}
		return evs, to
	}
	lastRev := from - 1
	for _, v := range st.logFrom(from) {
		if v.mod > to {
			break
		}
		if limit >= 0 && len(evs) >= limit && v.mod > lastRev {
			return evs, lastRev
		}
		lastRev = v.mod
		if !w.sp.contains(v.key) {
			continue
		}
		var prev *rec
		if w.req.PrevKV {
			vs, _ := st.keys.Get(v.key)
			prev = vs.at(v.mod - 1)
		}
		add(v, prev)
	}
	return evs, to
}
