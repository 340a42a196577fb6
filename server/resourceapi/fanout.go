package resourceapi

import (
	"context"
	"sync"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec passCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/resource"
)

// Watch fan-out: one write is one event for every watcher of its type, and
// a member with 1,000 watchers would otherwise marshal the same event 1,000
// times. Each event is encoded once per wire (eventCache) and the same
// bytes are sent on every stream: on gRPC through passCodec, on REST as
// the NDJSON line.

// encodedMsg is a message already in its wire form. passCodec sends its
// bytes as they are; the bytes are shared between streams and never
// changed.
type encodedMsg struct{ b []byte }

// passCodec is grpc-go's proto codec, except that an *encodedMsg is sent
// as its bytes and a WriteRequest is decoded by the resource package's
// decoder (write_codec.go). It is registered under the proto codec's name,
// so every gRPC server and client in the process gets it; for every other
// message it is the proto codec (Marshal and Unmarshal delegate), and only
// this package makes encodedMsg values (WatchList's events). A server
// built with grpc.ForceServerCodecV2 (the member's peer port) does not use
// it.
type passCodec struct{ encoding.CodecV2 }

func (c passCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*encodedMsg); ok {
		// SliceBuffer's Free is a no-op: gRPC releasing the buffer after
		// the write leaves the shared bytes alone.
		return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
	}
	return c.CodecV2.Marshal(v)
}

func init() {
	base := encoding.GetCodecV2("proto")
	if _, ok := base.(passCodec); !ok {
		encoding.RegisterCodecV2(passCodec{base})
	}
}

// wire formats of a cached event.
const (
	wireGRPC = iota // a marshalled pbresource.WatchEvent
	wireREST        // an NDJSON WatchLine, newline included
)

// eventKey names one event's encoding. An event is its kind, its version
// and its resource, which the store shares between all watches and never
// changes, so the pointer identifies the content.
type eventKey struct {
	res     *pbresource.Resource
	version uint64
	kind    resource.EventKind
	wire    uint8
}

type encoded struct {
	once sync.Once
	b    []byte
	err  error
}

// eventCache remembers the encodings of the last eventCacheSize events.
// Watchers of the same events ask for them at about the same time; one
// that lags further behind encodes its own (the same bytes).
type eventCache struct {
	mu   sync.Mutex
	m    map[eventKey]*encoded
	ring []eventKey // insertion order, for eviction
	next int
}

const eventCacheSize = 4096

func newEventCache() *eventCache {
	return &eventCache{m: make(map[eventKey]*encoded, eventCacheSize), ring: make([]eventKey, 0, eventCacheSize)}
}

// get returns ev's encoding for wire, made by enc on first use. Concurrent
// callers for the same event wait for the one encoding.
func (c *eventCache) get(ev resource.Event, wire uint8, enc func(resource.Event) ([]byte, error)) ([]byte, error) {
	k := eventKey{res: ev.Resource, version: ev.Version, kind: ev.Kind, wire: wire}
	c.mu.Lock()
	e, ok := c.m[k]
	if !ok {
		e = &encoded{}
		if len(c.ring) < eventCacheSize {
			c.ring = append(c.ring, k)
		} else {
			delete(c.m, c.ring[c.next])
			c.ring[c.next] = k
			c.next = (c.next + 1) % eventCacheSize
		}
		c.m[k] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.b, e.err = enc(ev) })
	return e.b, e.err
}

// marshalWatchEvent is the gRPC encoding of ev.
func marshalWatchEvent(ev resource.Event) ([]byte, error) {
	return proto.MarshalOptions{}.Marshal(toWatchEvent(ev))
}

// watchBatch is how many queued events a watcher takes per wakeup.
const watchBatch = 256

// batchWatcher is a Watcher that can hand over queued events in batches
// (*resource.Watch).
type batchWatcher interface {
	NextBatch(ctx context.Context, buf []resource.Event) ([]resource.Event, error)
}

// nextBatch returns w's next events: a batch if w can, else one.
func nextBatch(ctx context.Context, w Watcher, buf []resource.Event) ([]resource.Event, error) {
	if bw, ok := w.(batchWatcher); ok {
		return bw.NextBatch(ctx, buf)
	}
	ev, err := w.Next(ctx)
	if err != nil {
		return buf[:0], err
	}
	return append(buf[:0], ev), nil
}
