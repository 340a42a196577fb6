package etcdapi

import (
	"encoding/binary"
	"fmt"

	"github.com/concord-db/concord/kv"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// Event responses are the bulk of a watch stream: the same events go to
// every watcher of a prefix, each in its own WatchResponse that differs
// only in watch_id. Marshalling a pb.WatchResponse per watcher encodes the
// events again each time (twice, in fact: gRPC's codec sizes a gogo
// message by marshalling it). Instead the sender encodes each shared
// kv.WatchResponse's events once and assembles each watcher's message from
// the encoded parts, in the field order gogo's Marshal uses, so the bytes
// are identical to pb.WatchResponse.Marshal's.

// Field keys of pb.WatchResponse (field number << 3 | wire type; varint
// fields have wire type 0).
const (
	keyHeader   = 1<<3 | 2
	keyWatchID  = 2 << 3
	keyFragment = 7 << 3
	keyEvents   = 11<<3 | 2
)

// rawWatchResponse is a pb.WatchResponse already encoded. It is a legacy
// (gogo-style) proto message whose Marshal returns the bytes, so gRPC's
// proto codec sends them as they are.
type rawWatchResponse struct{ b []byte }

func (m *rawWatchResponse) Marshal() ([]byte, error) { return m.b, nil }
func (m *rawWatchResponse) Reset()                   { m.b = nil }
func (m *rawWatchResponse) String() string {
	return fmt.Sprintf("WatchResponse(%d bytes encoded)", len(m.b))
}
func (*rawWatchResponse) ProtoMessage() {}

// encodedEvents is the events of one kv.WatchResponse, each encoded as a
// field 11 record of a WatchResponse.
type encodedEvents struct {
	buf   []byte
	ends  []int // ends[i]: the end of event i's record in buf
	sizes []int // sizes[i]: event i's Size(), for fragmenting as etcd does
}

func encodeEvents(evs []*mvccpb.Event) *encodedEvents {
	e := &encodedEvents{ends: make([]int, len(evs)), sizes: make([]int, len(evs))}
	n := 0
	for i, ev := range evs {
		e.sizes[i] = ev.Size()
		n += 1 + uvarintLen(uint64(e.sizes[i])) + e.sizes[i]
	}
	e.buf = make([]byte, 0, n)
	for i, ev := range evs {
		e.buf = append(e.buf, keyEvents)
		e.buf = binary.AppendUvarint(e.buf, uint64(e.sizes[i]))
		start := len(e.buf)
		e.buf = e.buf[:start+e.sizes[i]]
		if _, err := ev.MarshalToSizedBuffer(e.buf[start:]); err != nil {
			panic(fmt.Sprintf("etcdapi: encode watch event: %v", err)) // only on a size mismatch: a bug
		}
		e.ends[i] = len(e.buf)
	}
	return e
}

// eventSpan is events [from, to) of one encoded response.
type eventSpan struct {
	e        *encodedEvents
	from, to int
}

func (s eventSpan) bytes() []byte {
	start := 0
	if s.from > 0 {
		start = s.e.ends[s.from-1]
	}
	return s.e.buf[start:s.e.ends[s.to-1]]
}

// size is the sum of the events' Size().
func (s eventSpan) size() int {
	n := 0
	for _, sz := range s.e.sizes[s.from:s.to] {
		n += sz
	}
	return n
}

// encodeEventResponse returns the encoding of
// pb.WatchResponse{Header: hdr, WatchId: id, Fragment: fragment, Events: the spans' events}
// given hdr already encoded.
func encodeEventResponse(hdr []byte, id int64, fragment bool, spans []eventSpan) []byte {
	n := 1 + uvarintLen(uint64(len(hdr))) + len(hdr)
	if id != 0 {
		n += 1 + uvarintLen(uint64(id))
	}
	if fragment {
		n += 2
	}
	for _, s := range spans {
		n += len(s.bytes())
	}
	b := make([]byte, 0, n)
	b = append(b, keyHeader)
	b = binary.AppendUvarint(b, uint64(len(hdr)))
	b = append(b, hdr...)
	if id != 0 {
		b = append(b, keyWatchID)
		b = binary.AppendUvarint(b, uint64(id))
	}
	if fragment {
		b = append(b, keyFragment, 1)
	}
	for _, s := range spans {
		b = append(b, s.bytes()...)
	}
	return b
}

// encodeHeader returns the encoded response header for revision rev.
func (a *API) encodeHeader(rev int64) []byte {
	b, err := a.header(&pb.ResponseHeader{Revision: rev}).Marshal()
	if err != nil {
		panic(fmt.Sprintf("etcdapi: encode response header: %v", err)) // cannot fail
	}
	return b
}

// responseEvents is the events of r as one span.
func responseEvents(e *encodedEvents) eventSpan { return eventSpan{e: e, from: 0, to: len(e.ends)} }

// isEvents reports whether r carries events (rather than progress or a
// cancellation).
func isEvents(r *kv.WatchResponse) bool { return len(r.Events) > 0 && !r.Canceled }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
