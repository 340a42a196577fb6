package bench

import (
	"encoding/binary"
	"slices"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/grpc/mem"
)

// TestWatchFrameDecode: the benchmark's partial decoder reads the flags
// and every event's send time out of a real WatchResponse encoding, and
// skips events whose value is too short to carry one.
func TestWatchFrameDecode(t *testing.T) {
	val := func(sent int64, extra int) []byte {
		b := make([]byte, 8+extra)
		binary.BigEndian.PutUint64(b, uint64(sent))
		return b
	}
	resp := &pb.WatchResponse{
		Header: &pb.ResponseHeader{ClusterId: 7, Revision: 99}, WatchId: 300, Created: true, Canceled: true,
		CancelReason: "because", CompactRevision: 5, Fragment: true,
		Events: []*mvccpb.Event{
			{Kv: &mvccpb.KeyValue{Key: []byte("a"), Value: val(1e18, 300), ModRevision: 9}, PrevKv: &mvccpb.KeyValue{Value: val(1, 0)}},
			{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte("b"), ModRevision: 9}},
			{Kv: &mvccpb.KeyValue{Key: []byte("c"), Value: []byte("short")}},
			{Kv: &mvccpb.KeyValue{Key: []byte("d"), Value: val(-5, 0), Lease: 3}},
		},
	}
	b, err := resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var f watchFrame
	if err := (watchCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &f); err != nil {
		t.Fatal(err)
	}
	if !f.created || !f.canceled || f.cancelReason != "because" || !slices.Equal(f.sent, []int64{1e18, -5}) {
		t.Fatalf("decoded %+v", f)
	}
	f.reset()
	if err := f.decode(b[:len(b)-3]); err == nil {
		t.Fatal("a truncated response decoded without error")
	}
}
