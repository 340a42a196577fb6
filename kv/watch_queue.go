package kv

import "sync"

// WatchQueue delivers the responses of many watchers, in one order, to one
// consumer: a gRPC watch stream's sender, which then needs neither a
// goroutine nor a channel per watcher. Apply appends to it without ever
// waiting (one lock per queue per revision, however many of its watchers
// match); the consumer waits on Ready and takes everything queued with Take.
//
// Each watcher may have at most Options.WatchBuffer responses queued and not
// yet taken. A watcher at that limit is moved to the unsynced set and caught
// up from history once the consumer has taken its backlog, exactly as a
// watcher with a full channel: a slow consumer delays only its own watchers
// and never apply.
//
// The consumer may queue values of its own with Push (for example its
// replies to watch and cancel requests); they keep their place among the
// watchers' responses.
type WatchQueue struct {
	hub   *hub
	ready chan struct{} // capacity 1: something was queued since the last Take

	mu    sync.Mutex
	items []QueueItem

	held bool // guarded by hub.mu: the current notify holds mu
}

// QueueItem is one entry of a WatchQueue.
type QueueItem struct {
	// Watcher is the watcher Resp is for, or nil for a value queued by Push.
	Watcher *Watcher
	// Resp is a response of Watcher (shared between watchers: read-only),
	// or, when Created is set, the revision the watcher was created at: it
	// is sent every event after Resp.Revision (or from its StartRev).
	Resp *WatchResponse
	// Created marks the first item of every watcher made by WatchQueue.Watch.
	Created bool
	// Value is the value given to Push.
	Value any
}

// NewWatchQueue returns an empty queue for watchers made with its Watch.
func (s *Store) NewWatchQueue() *WatchQueue {
	return &WatchQueue{hub: s.hub, ready: make(chan struct{}, 1)}
}

// Watch starts a watch whose responses go to q instead of a channel
// (Watcher.C is nil). Before any of them, q gets a Created item carrying
// the store revision at creation, taken atomically with it. tag is the
// consumer's own data for the watcher, returned by Watcher.Tag.
func (q *WatchQueue) Watch(req WatchRequest, tag any) *Watcher {
	w := q.hub.newWatcher(req)
	w.q, w.tag = q, tag
	q.hub.start(w)
	return w
}

// Push queues v after everything queued so far.
func (q *WatchQueue) Push(v any) {
	q.mu.Lock()
	q.appendLocked(QueueItem{Value: v})
	q.mu.Unlock()
}

// Ready receives a value once something was queued after the last Take.
// It may also fire with nothing left to take.
func (q *WatchQueue) Ready() <-chan struct{} { return q.ready }

// Take returns every queued item, oldest first, and empties the queue. buf,
// the slice the previous Take returned, is cleared and reused, so a
// consumer that keeps up allocates nothing per response.
func (q *WatchQueue) Take(buf []QueueItem) []QueueItem {
	clear(buf)
	q.mu.Lock()
	items := q.items
	q.items = buf[:0]
	for i := range items {
		if w := items[i].Watcher; w != nil {
			w.queued--
		}
	}
	q.mu.Unlock()
	return items
}

// appendLocked queues it and wakes the consumer if the queue was empty.
// q.mu held.
func (q *WatchQueue) appendLocked(it QueueItem) {
	if len(q.items) == 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	q.items = append(q.items, it)
	if it.Watcher != nil {
		it.Watcher.queued++
	}
}

// send queues r for w unless w is at its limit; it reports false if so.
// w.mu held.
func (q *WatchQueue) send(w *Watcher, r *WatchResponse, final bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !final && w.queued >= w.limit {
		return false
	}
	q.appendLocked(QueueItem{Watcher: w, Resp: r})
	return true
}

// lockForNotify takes q.mu for the rest of the notify in progress, once:
// every delivery of a revision to q then shares one lock. Only the hub
// holds more than one queue's lock at a time, and a holder of one never
// waits for hub.mu, so this cannot deadlock. hub.mu held.
func (q *WatchQueue) lockForNotify(h *hub) {
	if !q.held {
		q.mu.Lock()
		q.held = true
		h.queues = append(h.queues, q)
	}
}

// unlockForNotify ends lockForNotify. hub.mu held.
func (q *WatchQueue) unlockForNotify() {
	q.held = false
	q.mu.Unlock()
}
