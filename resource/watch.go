package resource

import (
	"context"
	"sync"
	"sync/atomic"
)

// hub tells the watches of new events and ends them. It runs on the apply
// goroutine (publish) and never blocks it nor loops over the watches per
// write: publishing a view closes the previous view's next channel, which
// wakes every watch waiting on it at once, and each watch then reads the
// events it matches from the new view's history on its own goroutine (see
// Watch.NextBatch). At 1,000 watchers this takes the fan-out off the apply
// goroutine; a channel send per watcher per event used to be a tenth of
// the member's CPU there.
type hub struct {
	s       *Store
	mu      sync.Mutex // orders publish and restore against registration and ends
	watches map[*Watch]struct{}
	closed  bool
}

func newHub(s *Store) *hub { return &hub{s: s, watches: map[*Watch]struct{}{}} }

// publish makes v current and wakes the watches.
func (h *hub) publish(v *view) {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.s.view.Swap(v).next)
}

// restored follows a Restore that replaced view old with v. A watch reads
// on from v's history, so a member that installs a snapshot to catch up
// loses no event for its watches, provided v retains every event after
// old.rev. Otherwise, or when v is behind what the watches already got,
// or when the snapshot replaced the agreed state (a rollback), every
// watch ends with a HistoryCompactedError (after the events of old it has
// not read yet) and must start again.
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
	if fail == nil {
		return
	}
	for w := range h.watches {
		h.endLocked(w, fail, old)
	}
}

// endLocked ends w with err, the error NextBatch returns once w has handed
// over the events of view at (nil: none) it has not read yet.
func (h *hub) endLocked(w *Watch, err error, at *view) {
	if _, ok := h.watches[w]; !ok {
		return
	}
	delete(h.watches, w)
	w.err, w.end = err, at
	close(w.done)
}

// end ends w with err after the events published so far.
func (h *hub) end(w *Watch, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endLocked(w, err, h.s.view.Load())
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	v := h.s.view.Load()
	for w := range h.watches {
		h.endLocked(w, ErrWatchClosed, v)
	}
}

func (h *hub) active() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watches)
}

// Watch is a list watch: see Backend.WatchList. Next and NextBatch are
// meant for one goroutine; Close may be called from any.
type Watch struct {
	h       *hub
	q       query
	after   uint64  // every event at or below this version is handed over or skipped
	backlog []Event // the initial snapshot or the resumed history, handed over first
	// limit, once set, is the version of the last event the watch hands
	// over before it ends with ErrWatchOverflow: it fell more than
	// Config.WatchBuffer matching events behind.
	limit uint64
	done  chan struct{}
	err   error // set before done is closed
	end   *view // set before done is closed: the events still handed over
	stop  atomic.Pointer[func() bool]
	// ctxDone is the Done channel of the context the watch was opened
	// with. Its end closes done (an AfterFunc), so NextBatch given that
	// same context waits on two channels, not three.
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
	w := &Watch{h: h, q: q, after: max(from, v.rev), done: make(chan struct{}), ctxDone: ctx.Done()}
	h.watches[w] = struct{}{}
	h.mu.Unlock()

	// v is immutable: the backlog is built outside the lock; the events
	// after v.rev are read from the views that follow it.
	if from == 0 {
		for _, r := range v.list(q) {
			w.backlog = append(w.backlog, Event{Kind: Upsert, Resource: r, Version: v.rev})
		}
		w.backlog = append(w.backlog, Event{Kind: EndOfSnapshot, Version: v.rev})
	} else if from < v.rev {
		for _, ev := range v.hist[from-v.oldestLive():] {
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
// ErrWatchClosed once the watch has ended and the events before its end
// are read, and ctx's error if ctx ends first.
func (w *Watch) Next(ctx context.Context) (Event, error) {
	var one [1]Event
	evs, err := w.NextBatch(ctx, one[:0])
	if len(evs) == 0 {
		return Event{}, err
	}
	return evs[0], nil
}

// NextBatch is Next for many events at once: it waits like Next for the
// first event, then appends to buf[:0] every further event already
// published (up to cap(buf), at least one), so a watch that falls behind
// catches up with one wakeup per batch instead of one per event. It
// returns the events in order, or, when none is left, the error Next would
// return.
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
	// A nil channel's case is left out of the select: the watch's own
	// context ends the watch through done (see ctxDone).
	ctxDone := ctx.Done()
	own := ctxDone != nil && ctxDone == w.ctxDone
	if own {
		ctxDone = nil
	}
	for {
		select {
		case <-w.done:
			return w.drain(ctx, buf, n, own)
		default:
		}
		v := w.h.s.view.Load()
		buf, err := w.scan(v, buf, n)
		if len(buf) > 0 {
			w.h.s.metrics.eventsSent.Add(uint64(len(buf)))
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		select {
		case <-v.next:
		case <-w.done:
		case <-ctxDone:
			return buf, ctx.Err()
		}
	}
}

// drain hands over, after the watch ended, the events before its end, and
// then its error.
func (w *Watch) drain(ctx context.Context, buf []Event, n int, own bool) ([]Event, error) {
	if w.end != nil {
		buf, _ = w.scan(w.end, buf, n)
		if len(buf) > 0 {
			w.h.s.metrics.eventsSent.Add(uint64(len(buf)))
			return buf, nil
		}
	}
	if own && w.err == ErrWatchClosed && ctx.Err() != nil {
		return buf, ctx.Err() // the watch ended because its context did
	}
	return buf, w.err
}

// scan appends to buf (up to n) the events of v after w.after that w
// matches, moving w.after past them and past the events it skips. It ends
// the watch with ErrWatchOverflow, and returns that error when buf is
// empty, once the watch is further behind than it may be.
func (w *Watch) scan(v *view, buf []Event, n int) ([]Event, error) {
	if w.after >= v.rev || (w.limit != 0 && w.after >= w.limit) {
		return buf, w.overflowed(false)
	}
	oldest := v.oldestLive()
	if w.after < oldest {
		// Behind every event this member keeps: some are lost to it.
		return buf, w.overflowed(true)
	}
	evs := v.hist[w.after-oldest:]
	if w.limit == 0 && len(evs) > w.h.s.cfg.WatchBuffer {
		w.limit = w.bufferEnd(evs)
	}
	for _, ev := range evs {
		if w.limit != 0 && ev.Version > w.limit {
			break
		}
		if w.q.matches(ev.Resource) {
			if len(buf) == n {
				break
			}
			buf = append(buf, ev)
		}
		w.after = ev.Version
	}
	if len(buf) == 0 {
		return buf, w.overflowed(false)
	}
	return buf, nil
}

// bufferEnd is the version of the Config.WatchBuffer-th event of evs that
// w matches when more than that many do, else 0: how far a watch that is
// behind may read before it ends with ErrWatchOverflow.
func (w *Watch) bufferEnd(evs []Event) uint64 {
	left := w.h.s.cfg.WatchBuffer
	var last uint64
	for _, ev := range evs {
		if !w.q.matches(ev.Resource) {
			continue
		}
		if left == 0 {
			return last
		}
		left--
		last = ev.Version
	}
	return 0
}

// overflowed ends the watch with ErrWatchOverflow and returns that error
// when it has read up to its limit, or when lost says it missed events;
// else it returns nil.
func (w *Watch) overflowed(lost bool) error {
	if !lost && (w.limit == 0 || w.after < w.limit) {
		return nil
	}
	w.h.mu.Lock()
	_, open := w.h.watches[w]
	w.h.endLocked(w, ErrWatchOverflow, nil)
	w.h.mu.Unlock()
	if !open {
		return w.err // it had ended first
	}
	w.h.s.metrics.overflows.Add(1)
	return ErrWatchOverflow
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
