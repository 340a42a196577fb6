package resource

import (
	"context"
	"sync"
	"sync/atomic"
)

// hub hands every published write to the watches it matches. It runs on
// the apply goroutine (publish) and never blocks it: each watch has a
// buffer of Config.WatchBuffer events and is closed with ErrWatchOverflow
// when that is full.
type hub struct {
	s       *Store
	mu      sync.Mutex // orders publish against registration
	watches map[*Watch]struct{}
	closed  bool
}

func newHub(s *Store) *hub { return &hub{s: s, watches: map[*Watch]struct{}{}} }

// publish makes v current and queues evs (which v contains) to the watches.
func (h *hub) publish(v *view, evs []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.s.view.Swap(v)
	close(old.next)
	for w := range h.watches {
		for i := range evs {
			if !h.queue(w, evs[i]) {
				break
			}
		}
	}
}

// queue hands ev to w if it matches, reporting whether w is still open.
func (h *hub) queue(w *Watch, ev Event) bool {
	if ev.Version <= w.after || !w.q.matches(ev.Resource) {
		return true
	}
	select {
	case w.ch <- ev:
		return true
	default:
		h.s.metrics.overflows.Add(1)
		h.endLocked(w, ErrWatchOverflow)
		return false
	}
}

// restored follows a Restore that replaced view old with v. A watch is
// caught up from v's history, so a member that installs a snapshot to
// catch up loses no event for its watches, provided v retains every event
// after old.rev. Otherwise, or when v is behind what the watches already
// got, or when the snapshot replaced the agreed state (a rollback), every
// watch ends with a HistoryCompactedError and must start again.
func (h *hub) restored(old, v *view, rollback bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.s.view.Store(v)
	close(old.next)
	oldest := v.oldestResumable()
	var fail error
	switch {
	case rollback:
		fail = HistoryCompactedError{Oldest: oldest, RolledBack: true}
	case v.rev < old.rev || oldest > old.rev:
		fail = HistoryCompactedError{Oldest: oldest}
	}
	for w := range h.watches {
		if fail != nil {
			h.endLocked(w, fail)
			continue
		}
		for _, ev := range v.hist[old.rev-oldest:] {
			if !h.queue(w, ev) {
				break
			}
		}
	}
}

// endLocked closes w with err (the error Next returns once w's buffered
// events are read).
func (h *hub) endLocked(w *Watch, err error) {
	if _, ok := h.watches[w]; !ok {
		return
	}
	delete(h.watches, w)
	w.err = err
	close(w.done)
}

func (h *hub) end(w *Watch, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endLocked(w, err)
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for w := range h.watches {
		h.endLocked(w, ErrWatchClosed)
	}
}

func (h *hub) active() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watches)
}

// Watch is a list watch: see Backend.WatchList. Next is meant for one
// goroutine; Close may be called from any.
type Watch struct {
	h       *hub
	q       query
	after   uint64  // events at or below this version are not queued
	backlog []Event // the initial snapshot or the resumed history, then ch
	ch      chan Event
	done    chan struct{}
	err     error // set before done is closed
	stop    atomic.Pointer[func() bool]
	// ctxDone is the Done channel of the context the watch was opened
	// with. Its end closes done (an AfterFunc), so Next given that same
	// context waits on two channels, not three: at 1,000 watchers a
	// select per event per watcher is a sizeable share of the fan-out.
	ctxDone <-chan struct{}
}

// watch registers a watch of q. from == 0 starts with the current state;
// otherwise the watch resumes after version from, which must still be
// retained.
func (s *Store) watch(ctx context.Context, q query, from uint64) (*Watch, error) {
	h := s.hub
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrWatchClosed
	}
	v := s.view.Load()
	if from > 0 && from < v.oldestResumable() {
		h.mu.Unlock()
		return nil, HistoryCompactedError{Oldest: v.oldestResumable()}
	}
	w := &Watch{h: h, q: q, after: max(from, v.rev), ch: make(chan Event, s.cfg.WatchBuffer), done: make(chan struct{}), ctxDone: ctx.Done()}
	h.watches[w] = struct{}{}
	h.mu.Unlock()

	// v is immutable: the backlog is built outside the lock while new
	// events (after v.rev) queue up in w.ch.
	if from == 0 {
		for _, r := range v.list(q) {
			w.backlog = append(w.backlog, Event{Kind: Upsert, Resource: r, Version: v.rev})
		}
		w.backlog = append(w.backlog, Event{Kind: EndOfSnapshot, Version: v.rev})
	} else if from < v.rev {
		for _, ev := range v.hist[from-v.oldestResumable():] {
			if q.matches(ev.Resource) {
				w.backlog = append(w.backlog, ev)
			}
		}
	}
	stop := context.AfterFunc(ctx, func() { h.end(w, ErrWatchClosed) })
	w.stop.Store(&stop)
	s.metrics.watchesStarted.Add(1)
	return w, nil
}

// Next returns the next event, in version order: first the snapshot (a
// watch from version 0: every matching resource as an Upsert carrying the
// snapshot's version, then EndOfSnapshot), or the retained events after the
// version resumed from, then every later Upsert and Delete. The resource in
// an event is shared with the store and with other watches: it must not be
// modified. Next returns ErrWatchOverflow, a HistoryCompactedError or
// ErrWatchClosed once the watch has ended and its buffered events are read,
// and ctx's error if ctx ends first.
func (w *Watch) Next(ctx context.Context) (Event, error) {
	if len(w.backlog) > 0 {
		ev := w.backlog[0]
		w.backlog[0] = Event{}
		w.backlog = w.backlog[1:]
		w.h.s.metrics.eventsSent.Add(1)
		return ev, nil
	}
	// A nil channel's case is left out of the select: the watch's own
	// context ends the watch through done (see ctxDone).
	ctxDone := ctx.Done()
	own := ctxDone != nil && ctxDone == w.ctxDone
	if own {
		ctxDone = nil
	}
	select {
	case ev := <-w.ch:
		w.h.s.metrics.eventsSent.Add(1)
		return ev, nil
	case <-w.done:
		select {
		case ev := <-w.ch:
			w.h.s.metrics.eventsSent.Add(1)
			return ev, nil
		default:
			if own && w.err == ErrWatchClosed && ctx.Err() != nil {
				return Event{}, ctx.Err() // what the three-way select gave
			}
			return Event{}, w.err
		}
	case <-ctxDone:
		return Event{}, ctx.Err()
	}
}

// NextBatch is Next for many events at once: it waits like Next for the
// first event, then appends to buf[:0] every further event already queued
// (up to cap(buf), at least one), so a watch that falls behind catches up
// with one wakeup per batch instead of one per event. It returns the events
// in order, or, when none is left, the error Next would return.
func (w *Watch) NextBatch(ctx context.Context, buf []Event) ([]Event, error) {
	buf = buf[:0]
	n := max(cap(buf), 1)
	if len(w.backlog) > 0 {
		k := min(n, len(w.backlog))
		buf = append(buf, w.backlog[:k]...)
		clear(w.backlog[:k])
		w.backlog = w.backlog[k:]
		w.h.s.metrics.eventsSent.Add(uint64(k))
		return buf, nil
	}
	// Queued events are taken without Next's three-way select (which
	// locks the done and ctx channels too); Next only when none is.
	select {
	case ev := <-w.ch:
		buf = append(buf, ev)
		w.h.s.metrics.eventsSent.Add(1)
	default:
		ev, err := w.Next(ctx)
		if err != nil {
			return buf, err
		}
		buf = append(buf, ev)
	}
	for len(buf) < n {
		select {
		case ev := <-w.ch:
			buf = append(buf, ev)
			continue
		default:
		}
		break
	}
	w.h.s.metrics.eventsSent.Add(uint64(len(buf) - 1))
	return buf, nil
}

// Close ends the watch; a Next after it returns ErrWatchClosed once the
// buffered events are read. It is also called when the context given to
// WatchList ends.
func (w *Watch) Close() {
	w.h.end(w, ErrWatchClosed)
	if stop := w.stop.Load(); stop != nil {
		(*stop)()
	}
}
