package etcdapi

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec gRPC servers use
)

func randomEvents(r *rand.Rand, n int) []*mvccpb.Event {
	evs := make([]*mvccpb.Event, n)
	for i := range evs {
		rev := r.Int63n(1 << 40)
		kv := &mvccpb.KeyValue{Key: []byte(fmt.Sprintf("k/%d", r.Intn(1000))), ModRevision: rev, CreateRevision: rev - r.Int63n(rev+1)}
		ev := &mvccpb.Event{Kv: kv}
		if r.Intn(4) == 0 {
			ev.Type = mvccpb.DELETE
		} else {
			kv.Value = make([]byte, r.Intn(400))
			r.Read(kv.Value)
			kv.Version = 1 + r.Int63n(50)
			kv.Lease = r.Int63n(3)
		}
		if r.Intn(2) == 0 {
			ev.PrevKv = &mvccpb.KeyValue{Key: kv.Key, Value: []byte("prev"), Version: 3, ModRevision: rev - 1}
		}
		evs[i] = ev
	}
	return evs
}

// TestEncodeEventResponse: the assembled encoding is byte for byte what
// pb.WatchResponse.Marshal produces, for any split of the events into
// spans, and gRPC's proto codec sends it unchanged.
func TestEncodeEventResponse(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	codec := encoding.GetCodecV2("proto")
	for i := range 300 {
		evs := randomEvents(r, 1+r.Intn(8))
		id := []int64{0, 1, 127, 128, 1 << 40, -1}[i%6]
		fragment := r.Intn(2) == 0
		hdr := &pb.ResponseHeader{ClusterId: r.Uint64(), MemberId: r.Uint64(), Revision: r.Int63(), RaftTerm: r.Uint64() >> r.Intn(64)}
		want, err := (&pb.WatchResponse{Header: hdr, WatchId: id, Fragment: fragment, Events: evs}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := hdr.Marshal()
		// The events as two responses, the first split in two spans.
		cut := r.Intn(len(evs) + 1)
		var spans []eventSpan
		if cut > 0 {
			e := encodeEvents(evs[:cut])
			mid := r.Intn(cut + 1)
			if mid > 0 {
				spans = append(spans, eventSpan{e, 0, mid})
			}
			if mid < cut {
				spans = append(spans, eventSpan{e, mid, cut})
			}
		}
		if cut < len(evs) {
			spans = append(spans, responseEvents(encodeEvents(evs[cut:])))
		}
		got := encodeEventResponse(hb, id, fragment, spans)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: encoding differs from Marshal:\n got %x\nwant %x", i, got, want)
		}
		sent, err := codec.Marshal(&rawWatchResponse{b: got})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sent.Materialize(), want) {
			t.Fatalf("case %d: the codec changed the bytes", i)
		}
	}
}
