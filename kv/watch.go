package kv

import (
	"fmt"
	"sync"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// WatchRequest describes a watch on a key, a range or a prefix.
type WatchRequest struct {
	// Key and RangeEnd select keys as in a RangeRequest: RangeEnd empty is
	// the single Key, "\x00" every key >= Key, otherwise [Key, RangeEnd).
	Key, RangeEnd []byte
	// StartRev is the first revision to deliver; 0 means the next one.
	// Revisions still in history are replayed first.
	StartRev int64
	// PrevKV attaches the previous version of the key to each event.
	PrevKV bool
	// NoPut and NoDelete filter out puts or deletes.
	NoPut, NoDelete bool
	// ProgressNotify opts the watcher in to Store.ProgressNotify.
	ProgressNotify bool
}

// WatchResponse is one message for a watcher: the events of one or more
// whole revisions, a progress notification (no events, not cancelled), or
// the final cancellation. Responses and their events may be shared between
// watchers: treat them as read-only.
type WatchResponse struct {
	// Events are in revision and sub-revision order; they are shared
	// between watchers and must not be modified.
	Events []*mvccpb.Event
	// Revision is the revision up to which the watcher has been sent every
	// matching event.
	Revision int64
	// Canceled is set on the last response of a watcher cancelled by the
	// store; CancelReason says why.
	Canceled     bool
	CancelReason string
	// CompactRevision is set when the watcher was cancelled because the
	// history it needed was compacted: resume from it (or re-read).
	CompactRevision int64
}

// IsProgressNotify reports whether r only reports progress.
func (r *WatchResponse) IsProgressNotify() bool { return len(r.Events) == 0 && !r.Canceled }

// Watcher receives the events of one watch on C. It is created by
// Store.Watch and ends with Close or a cancellation.
//
// Every matching event is delivered exactly once, in order, the events of a
// revision together. A watcher that does not keep up (its buffer of
// Options.WatchBuffer responses is full) never slows apply: it is moved to
// the unsynced set and caught up from history in the background; if that
// history is compacted first, it is cancelled with CompactRevision set and
// Err returning a *CompactedError.
type Watcher struct {
	// The fields notify reads for every watcher of a group come first, to
	// share a cache line.
	q       *WatchQueue // set instead of ch by WatchQueue.Watch
	minRev  int64       // guarded by hub.mu: notify skips revisions below it
	queued  int         // guarded by q.mu: responses in q not yet taken
	limit   int
	gidx    int   // guarded by hub.mu: position in its watchGroup while synced
	variant uint8 // which of a revision's responses it gets: see variantOf
	synced  bool  // guarded by hub.mu

	progressWanted bool // guarded by hub.mu
	hub            *hub
	req            WatchRequest
	sp             span
	ch             chan *WatchResponse // capacity limit+1: one slot kept for the final response; nil with q
	tag            any

	mu      sync.Mutex // guards sends, closed, err, nextRev
	closed  bool
	err     error
	nextRev int64 // while unsynced: the next revision to deliver
}

// C returns the channel of responses, or nil for a watcher made by
// WatchQueue.Watch. It is closed after the final (cancelled) response or
// after Close.
func (w *Watcher) C() <-chan *WatchResponse { return w.ch }

// Tag returns the value given to WatchQueue.Watch.
func (w *Watcher) Tag() any { return w.tag }

// Err returns why the store cancelled the watcher, or nil.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close stops the watcher and closes its channel. It is idempotent.
func (w *Watcher) Close() {
	h := w.hub
	h.mu.Lock()
	h.drop(w)
	h.mu.Unlock()
	w.mu.Lock()
	w.closeLocked()
	w.mu.Unlock()
}

// RequestProgress asks for a progress notification: at once if the watcher
// is synced, otherwise as soon as it has caught up.
func (w *Watcher) RequestProgress() {
	h := w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if !w.synced {
		w.progressWanted = true
		return
	}
	w.send(&WatchResponse{Revision: h.lastRev})
}

func (w *Watcher) closeLocked() {
	if !w.closed {
		w.closed = true
		if w.ch != nil {
			close(w.ch)
		}
	}
}

// send queues r unless the buffer is full; it reports false if full.
func (w *Watcher) send(r *WatchResponse) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sendLocked(r)
}

func (w *Watcher) sendLocked(r *WatchResponse) bool {
	if w.closed {
		return true
	}
	if w.q != nil {
		return w.q.send(w, r, false)
	}
	if len(w.ch) >= w.limit {
		return false
	}
	w.ch <- r
	return true
}

// fullLocked reports whether w cannot take a response now. w.mu held.
func (w *Watcher) fullLocked() bool {
	if w.q == nil {
		return len(w.ch) >= w.limit
	}
	w.q.mu.Lock()
	defer w.q.mu.Unlock()
	return w.queued >= w.limit
}

// cancelLocked sends the final response (into the reserved slot) and closes.
func (w *Watcher) cancelLocked(r *WatchResponse, err error) {
	if w.closed {
		return
	}
	r.Canceled = true
	w.err = err
	if w.q != nil {
		w.q.send(w, r, true)
	} else {
		w.ch <- r
	}
	w.closeLocked()
}

// Watch starts a watch. It never fails: a watch whose StartRev is already
// compacted is cancelled at once (its channel yields a response with
// CompactRevision set), as etcd reports it.
func (s *Store) Watch(req WatchRequest) *Watcher {
	w := s.hub.newWatcher(req)
	w.ch = make(chan *WatchResponse, w.limit+1)
	s.hub.start(w)
	return w
}

// ProgressNotify sends the current revision to every synced watcher that
// asked for progress notifications (WatchRequest.ProgressNotify). The
// server calls it periodically; a watcher with a full buffer is skipped.
func (s *Store) ProgressNotify() { s.hub.progress() }

// hub dispatches applied changes to watchers. Apply calls notify, which
// never waits for a watcher; the syncer goroutine catches up the unsynced.
// Lock order: hub.mu, then Watcher.mu, then WatchQueue.mu. A synced watcher
// is never closed (Close and every cancellation take it out of the synced
// set first), so notify delivers to synced queue watchers under hub.mu
// alone.
type hub struct {
	mu       sync.Mutex
	view     func() *state
	lastRev  int64         // the last revision given to notify (or restored)
	events   atomic.Uint64 // events handed to watchers (notify and catch-up)
	bufLen   int
	synced   watchIndex
	unsynced map[*Watcher]struct{}
	closed   bool

	// scratch for notify
	touched []*watchGroup
	queues  []*WatchQueue // queues locked by the notify in progress
	full    []*Watcher    // watchers whose buffer or queue share was full

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newHub(view func() *state, rev int64, bufLen int) *hub {
	h := &hub{
		view: view, lastRev: rev, bufLen: bufLen,
		synced: newWatchIndex(), unsynced: map[*Watcher]struct{}{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go h.run()
	return h
}

func (h *hub) newWatcher(req WatchRequest) *Watcher {
	return &Watcher{hub: h, req: req, sp: mkSpan(req.Key, req.RangeEnd), variant: variantOf(req), limit: h.bufLen, gidx: -1}
}

// start registers w, made by newWatcher and given its channel or queue: it
// joins the synced set, or the unsynced one if it starts in history. A
// queue first gets w's Created item.
func (h *hub) start(w *Watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w.q != nil {
		w.q.mu.Lock()
		w.q.appendLocked(QueueItem{Watcher: w, Resp: &WatchResponse{Revision: h.lastRev}, Created: true})
		w.q.mu.Unlock()
	}
	req := w.req
	if h.closed {
		w.mu.Lock()
		w.cancelLocked(&WatchResponse{CancelReason: ErrClosed.Error()}, ErrClosed)
		w.mu.Unlock()
		return
	}
	w.minRev = req.StartRev
	if req.StartRev <= 0 || req.StartRev > h.lastRev {
		w.synced = true
		h.synced.add(w)
		return
	}
	w.nextRev = req.StartRev
	h.unsynced[w] = struct{}{}
	h.kickSyncer()
}

// drop removes w from both groups. h.mu held.
func (h *hub) drop(w *Watcher) {
	if w.synced {
		h.synced.remove(w)
		w.synced = false
	}
	delete(h.unsynced, w)
}

func (h *hub) kickSyncer() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

func (h *hub) progress() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.synced.all(func(w *Watcher) {
		if w.req.ProgressNotify {
			w.send(&WatchResponse{Revision: h.lastRev})
		}
	})
}

// restored moves every watcher to the unsynced set after a Restore, so the
// syncer catches them up from the restored history (or cancels them).
func (h *hub) restored(rev int64, rollback bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delivered := h.lastRev
	h.lastRev = rev
	var ws []*Watcher
	h.synced.all(func(w *Watcher) { ws = append(ws, w) })
	for _, w := range ws {
		h.synced.remove(w)
		w.synced = false
		w.mu.Lock()
		w.nextRev = max(delivered+1, w.minRev)
		w.mu.Unlock()
		h.unsynced[w] = struct{}{}
	}
	var cancel *WatchResponse
	switch {
	case rollback:
		cancel = &WatchResponse{Revision: rev, CompactRevision: rev,
			CancelReason: fmt.Sprintf("kv: state rolled back to a snapshot at revision %d; read again and watch from there", rev)}
	case rev < delivered:
		cancel = &WatchResponse{Revision: rev,
			CancelReason: fmt.Sprintf("kv: store restored to revision %d, behind revision %d already delivered", rev, delivered)}
	}
	if cancel != nil {
		for w := range h.unsynced {
			w.mu.Lock()
			resp := *cancel
			w.cancelLocked(&resp, fmt.Errorf("%s", resp.CancelReason))
			w.mu.Unlock()
		}
		clear(h.unsynced)
	}
	h.kickSyncer()
}

func (h *hub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.stop)
	h.mu.Unlock()
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	cancel := func(w *Watcher) {
		w.synced = false // the index is dropped below: a later Close must not look for it there
		w.mu.Lock()
		w.cancelLocked(&WatchResponse{Revision: h.lastRev, CancelReason: ErrClosed.Error()}, ErrClosed)
		w.mu.Unlock()
	}
	h.synced.all(cancel)
	for w := range h.unsynced {
		cancel(w)
	}
	h.synced = newWatchIndex()
	clear(h.unsynced)
}
