package etcdapi

import (
	"github.com/concord-db/concord/kv"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// mergeBytes bounds the encoded events merged into one response when a
// watcher has several revisions queued, i.e. when its stream's sender fell
// behind: fewer, larger messages let it catch up. A sender that keeps up
// sends each revision as soon as it is queued and never waits to merge.
const mergeBytes = 64 << 10

// responseOverhead bounds what a WatchResponse adds to its events: the
// header, the watch id and the fragment flag. Merging leaves room for it,
// so that merged revisions never exceed MaxRequestBytes (and are never
// fragmented) where each alone would not.
const responseOverhead = 64

// watchSender is a stream's only sender. It takes everything queued at
// once and sends it in order; within a batch each watcher's responses are
// sent together, at the place of its first one (every watcher's own order
// is kept: its created item comes before its first response and the
// client's cancel is queued after its last). Consecutive event responses
// of one watcher are merged up to mergeBytes.
type watchSender struct {
	ws         *watchStream
	mergeLimit int
	items      []kv.QueueItem
	groups     []sendGroup
	// Per batch: each shared response's events encoded once, headers by
	// revision.
	encoded map[*kv.WatchResponse]*encodedEvents
	headers map[int64][]byte
	spans   []eventSpan
	raw     rawWatchResponse
}

// sendGroup is one watcher's items in a batch, or one value pushed by the
// stream (sw nil).
type sendGroup struct {
	sw    *streamWatcher
	value any
	items []kv.QueueItem
}

func newWatchSender(ws *watchStream) *watchSender {
	return &watchSender{
		ws: ws, mergeLimit: min(mergeBytes, ws.a.limits.MaxRequestBytes-responseOverhead),
		encoded: map[*kv.WatchResponse]*encodedEvents{}, headers: map[int64][]byte{},
	}
}

// run sends until the stream fails or ends: it returns the Send error or
// the stream context's, or nil after endOfStream.
func (s *watchSender) run() error {
	ctx := s.ws.srv.Context()
	for {
		select {
		case <-s.ws.q.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
		s.items = s.ws.q.Take(s.items)
		done, err := s.sendBatch(s.items)
		if done || err != nil {
			return err
		}
	}
}

// sendBatch sends one batch; it reports true at endOfStream.
func (s *watchSender) sendBatch(items []kv.QueueItem) (bool, error) {
	s.group(items)
	defer s.reset()
	for i := range s.groups {
		g := &s.groups[i]
		if g.sw != nil {
			if err := s.sendWatcher(g.sw, g.items); err != nil {
				return false, err
			}
			continue
		}
		switch v := g.value.(type) {
		case endOfStream:
			return true, nil
		case *pb.WatchResponse:
			if err := s.ws.srv.Send(v); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

// group sorts items into s.groups: one per watcher, in order of first
// appearance, and one per pushed value.
func (s *watchSender) group(items []kv.QueueItem) {
	for _, it := range items {
		if it.Watcher == nil {
			s.newGroup().value = it.Value
			continue
		}
		sw := it.Watcher.Tag().(*streamWatcher)
		if sw.slot == 0 {
			s.newGroup().sw = sw
			sw.slot = len(s.groups)
		}
		g := &s.groups[sw.slot-1]
		g.items = append(g.items, it)
	}
}

// newGroup appends an empty group, reusing the item slices of earlier
// batches.
func (s *watchSender) newGroup() *sendGroup {
	if len(s.groups) < cap(s.groups) {
		s.groups = s.groups[:len(s.groups)+1]
	} else {
		s.groups = append(s.groups, sendGroup{})
	}
	return &s.groups[len(s.groups)-1]
}

func (s *watchSender) reset() {
	for i := range s.groups {
		g := &s.groups[i]
		if g.sw != nil {
			g.sw.slot = 0
		}
		clear(g.items)
		*g = sendGroup{items: g.items[:0]}
	}
	s.groups = s.groups[:0]
	clear(s.encoded)
	clear(s.headers)
}

// sendWatcher sends one watcher's items of a batch, in order.
func (s *watchSender) sendWatcher(sw *streamWatcher, items []kv.QueueItem) error {
	for len(items) > 0 {
		it := items[0]
		var err error
		switch {
		case it.Created:
			err = s.ws.srv.Send(&pb.WatchResponse{Header: s.ws.a.header(&pb.ResponseHeader{Revision: it.Resp.Revision}), WatchId: sw.id, Created: true})
		case isEvents(it.Resp):
			n := s.mergeable(items)
			err = s.sendEvents(sw, items[:n])
			items = items[n:]
			if err != nil {
				return err
			}
			continue
		default: // progress, or the store cancelled the watcher
			r := it.Resp
			err = s.ws.srv.Send(&pb.WatchResponse{Header: s.ws.a.header(&pb.ResponseHeader{Revision: r.Revision}), WatchId: sw.id,
				Events: r.Events, Canceled: r.Canceled, CancelReason: r.CancelReason, CompactRevision: r.CompactRevision})
			if r.Canceled {
				s.ws.forget(sw)
			}
		}
		if err != nil {
			return err
		}
		items = items[1:]
	}
	return nil
}

// mergeable returns how many leading items are event responses that fit
// in one message (at least one).
func (s *watchSender) mergeable(items []kv.QueueItem) int {
	size := 0
	for n, it := range items {
		if it.Created || !isEvents(it.Resp) {
			return n
		}
		size += len(s.events(it.Resp).buf)
		if n > 0 && size > s.mergeLimit {
			return n
		}
	}
	return len(items)
}

// sendEvents sends the events of items, all event responses, as one
// message, or as fragments of at most MaxRequestBytes if the watcher asked
// for them, as etcd does. The header carries the last revision.
func (s *watchSender) sendEvents(sw *streamWatcher, items []kv.QueueItem) error {
	spans := s.spans[:0]
	events := 0
	for _, it := range items {
		e := s.events(it.Resp)
		spans = append(spans, responseEvents(e))
		events += len(e.ends)
	}
	s.spans = spans
	hdr := s.header(items[len(items)-1].Resp.Revision)
	msg := encodeEventResponse(hdr, sw.id, false, spans)
	limit := s.ws.a.limits.MaxRequestBytes
	if !sw.fragment || len(msg) <= limit || events < 2 {
		return s.sendRaw(msg)
	}
	return s.sendFragments(sw, hdr, spans, limit)
}

// sendFragments splits the events so that each fragment's events add up
// to at most limit bytes (a single larger event goes alone), as etcd's
// sendFragments does; every fragment but the last has Fragment set.
func (s *watchSender) sendFragments(sw *streamWatcher, hdr []byte, spans []eventSpan, limit int) error {
	var one []eventSpan // every event as its own span
	for _, sp := range spans {
		for i := sp.from; i < sp.to; i++ {
			one = append(one, eventSpan{e: sp.e, from: i, to: i + 1})
		}
	}
	for len(one) > 0 {
		size, n := 0, 0
		for n < len(one) && (n == 0 || size+one[n].size() <= limit) {
			size += one[n].size()
			n++
		}
		part := one[:n]
		one = one[n:]
		if err := s.sendRaw(encodeEventResponse(hdr, sw.id, len(one) > 0, part)); err != nil {
			return err
		}
	}
	return nil
}

func (s *watchSender) sendRaw(msg []byte) error {
	// SendMsg encodes before it returns, so the wrapper can be reused; the
	// bytes cannot (gRPC may still hold them).
	s.raw.b = msg
	err := s.ws.srv.SendMsg(&s.raw)
	s.raw.b = nil
	return err
}

// events returns r's events encoded, once per batch.
func (s *watchSender) events(r *kv.WatchResponse) *encodedEvents {
	e := s.encoded[r]
	if e == nil {
		e = encodeEvents(r.Events)
		s.encoded[r] = e
	}
	return e
}

// header returns the encoded response header for rev, once per batch.
func (s *watchSender) header(rev int64) []byte {
	h := s.headers[rev]
	if h == nil {
		h = s.ws.a.encodeHeader(rev)
		s.headers[rev] = h
	}
	return h
}
