package kv

import "go.etcd.io/etcd/api/v3/mvccpb"

// notify hands the changes of revision rev to the synced watchers. It is
// called by Apply after the new state is published. Its cost is one match
// per change and group of watchers with the same span, then one delivery
// per matched watcher: a response is built once per group and variant and
// shared, and deliveries to a WatchQueue take its lock once per revision.
// Watchers that were full are moved to the unsynced set only after the
// queue locks are released (lock order: Watcher.mu before WatchQueue.mu).
func (h *hub) notify(rev int64, changes []change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastRev = rev
	if h.synced.empty() {
		return
	}
	touched := h.touched[:0]
	for i := range changes {
		h.synced.match(changes[i].cur.key, func(g *watchGroup) {
			if len(g.pending) == 0 {
				touched = append(touched, g)
			}
			g.pending = append(g.pending, int32(i))
		})
	}
	b := eventBuilder{changes: changes, rev: rev}
	for _, g := range touched {
		h.notifyGroup(&b, g, rev)
		g.pending = g.pending[:0]
	}
	clear(touched)
	h.touched = touched[:0]
	for _, q := range h.queues {
		q.unlockForNotify()
	}
	clear(h.queues)
	h.queues = h.queues[:0]
	for _, w := range h.full {
		h.unsync(w, rev)
	}
	clear(h.full)
	h.full = h.full[:0]
}

// notifyGroup delivers the revision to g's watchers. Watchers whose buffer
// is full are collected in h.full rather than moved at once, as that
// would reorder g.ws under the loop.
func (h *hub) notifyGroup(b *eventBuilder, g *watchGroup, rev int64) {
	var resps [numVariants]*WatchResponse
	var built [numVariants]bool
	sent := 0
	for _, w := range g.ws {
		if rev < w.minRev {
			continue
		}
		if !built[w.variant] {
			resps[w.variant], built[w.variant] = b.response(g.pending, w.req), true
		}
		r := resps[w.variant]
		switch {
		case r == nil:
		case w.q != nil:
			w.q.lockForNotify(h)
			if w.queued >= w.limit {
				h.full = append(h.full, w)
			} else {
				w.q.appendLocked(QueueItem{Watcher: w, Resp: r})
				sent += len(r.Events)
			}
		case !w.send(r):
			h.full = append(h.full, w)
		default:
			sent += len(r.Events)
		}
	}
	h.events.Add(uint64(sent))
}

// unsync moves a synced watcher that could not take revision rev to the
// unsynced set; the syncer delivers rev and what follows from history.
func (h *hub) unsync(w *Watcher, rev int64) {
	if !w.synced {
		return
	}
	h.synced.remove(w)
	w.synced = false
	w.mu.Lock()
	w.nextRev = rev
	w.mu.Unlock()
	h.unsynced[w] = struct{}{}
	h.kickSyncer()
}

// Response variants: watchers of one span with the same variant get the
// same response for a revision.
const (
	variantPrevKV = 1 << iota
	variantNoPut
	variantNoDelete
	numVariants
)

func variantOf(req WatchRequest) uint8 {
	var v uint8
	if req.PrevKV {
		v |= variantPrevKV
	}
	if req.NoPut {
		v |= variantNoPut
	}
	if req.NoDelete {
		v |= variantNoDelete
	}
	return v
}

// eventBuilder makes each event of a revision once, in the two forms (with
// and without prev_kv), and shares them between watchers.
type eventBuilder struct {
	changes []change
	rev     int64
	evs     [2][]*mvccpb.Event // per change, built lazily
	all     [2]*WatchResponse  // every event, for unfiltered watchers
}

func (b *eventBuilder) event(i int, prev int) *mvccpb.Event {
	if b.evs[prev] == nil {
		b.evs[prev] = make([]*mvccpb.Event, len(b.changes))
	}
	if b.evs[prev][i] == nil {
		b.evs[prev][i] = eventOf(&b.changes[i], prev == 1)
	}
	return b.evs[prev][i]
}

// response returns the response of a watcher with request req for the
// changes at the indexes matched, or nil if all of them are filtered out.
// Unfiltered watchers of every change share one.
func (b *eventBuilder) response(matched []int32, req WatchRequest) *WatchResponse {
	prev := 0
	if req.PrevKV {
		prev = 1
	}
	if len(matched) == len(b.changes) && !req.NoPut && !req.NoDelete {
		if b.all[prev] == nil {
			evs := make([]*mvccpb.Event, len(b.changes))
			for i := range b.changes {
				evs[i] = b.event(i, prev)
			}
			b.all[prev] = &WatchResponse{Events: evs, Revision: b.rev}
		}
		return b.all[prev]
	}
	var out []*mvccpb.Event
	for _, i := range matched {
		if filtered(req, b.changes[i].cur.tombstone()) {
			continue
		}
		out = append(out, b.event(int(i), prev))
	}
	if len(out) == 0 {
		return nil
	}
	return &WatchResponse{Events: out, Revision: b.rev}
}

func filtered(req WatchRequest, isDelete bool) bool {
	return (isDelete && req.NoDelete) || (!isDelete && req.NoPut)
}
