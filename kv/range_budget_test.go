package kv

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// kvEncodedSize must be what gRPC marshals for a KeyValue in a response,
// or the cap would let larger responses through (or refuse smaller ones).
func TestKVEncodedSizeMatchesProtobuf(t *testing.T) {
	for _, r := range []rec{
		{key: "k", value: "v", create: 2, mod: 2, version: 1},
		{key: "k", value: "", create: 2, mod: 3, version: 2},
		{key: strings.Repeat("k", 200), value: strings.Repeat("v", 70000), create: 1 << 40, mod: 1 << 62, version: 300, lease: -5},
		{key: "tomb", value: "ignored", mod: 9}, // tombstone: no value
	} {
		for _, keysOnly := range []bool{false, true} {
			want := (&pb.RangeResponse{Kvs: []*mvccpb.KeyValue{r.toPB(keysOnly)}}).Size()
			if got := kvEncodedSize(&r, keysOnly); got != want {
				t.Errorf("kvEncodedSize(%q, %d value bytes, keysOnly=%v) = %d, protobuf %d", r.key[:1], len(r.value), keysOnly, got, want)
			}
		}
	}
}

func kvsSize(kvs []*mvccpb.KeyValue) int {
	return (&pb.RangeResponse{Kvs: kvs}).Size()
}

func TestRangeCapped(t *testing.T) {
	s := newTestStore(t, Options{})
	for i := range 10 {
		s.put(fmt.Sprintf("k%d", i), strings.Repeat("v", 100*(10-i)))
	}
	all := &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")}
	cases := []struct {
		name string
		req  *pb.RangeRequest
	}{
		{"plain", all},
		{"limit", &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), Limit: 3}},
		{"keys only", &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), KeysOnly: true}},
		{"sorted by value, limit", &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), Limit: 2,
			SortTarget: pb.RangeRequest_VALUE, SortOrder: pb.RangeRequest_ASCEND}},
		{"min mod revision", &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), MinModRevision: 8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			full, err := s.Range(c.req)
			if err != nil {
				t.Fatal(err)
			}
			size := int64(kvsSize(full.Kvs))
			// At exactly the size of its key-values the response passes,
			// whole and the same as uncapped.
			got, err := s.RangeCapped(c.req, size)
			if err != nil {
				t.Fatalf("cap %d = the response's own size: %v", size, err)
			}
			if got.String() != full.String() {
				t.Fatalf("capped response differs:\n%v\nwant\n%v", got, full)
			}
			// One byte less is refused.
			if _, err := s.RangeCapped(c.req, size-1); !errors.Is(err, ErrRangeTooLarge) {
				t.Fatalf("cap %d: err %v, want ErrRangeTooLarge", size-1, err)
			}
		})
	}
	// The extra key read to decide "more" is not charged: a limit that
	// leaves big keys out makes a small range pass a small cap.
	small := &pb.RangeRequest{Key: []byte("k9"), RangeEnd: []byte("l"), Limit: 1}
	if _, err := s.RangeCapped(small, 200); err != nil {
		t.Fatalf("k9 alone under a 200-byte cap: %v", err)
	}
	// Count only returns no key-values: nothing to charge.
	if r, err := s.RangeCapped(&pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), CountOnly: true}, 1); err != nil || r.Count != 10 {
		t.Fatalf("count only under a 1-byte cap: %v, %v", r, err)
	}
	// No cap.
	if _, err := s.RangeCapped(all, 0); err != nil {
		t.Fatal(err)
	}
}

// A read-only txn is charged for all its ranges together.
func TestReadTxnCapped(t *testing.T) {
	s := newTestStore(t, Options{})
	s.put("a", strings.Repeat("x", 1000))
	s.put("b", strings.Repeat("y", 1000))
	one := func(k string) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte(k)}}}
	}
	txn := &pb.TxnRequest{Success: []*pb.RequestOp{one("a"), one("b")}}
	if _, err := s.ReadTxnCapped(txn, 1500); !errors.Is(err, ErrRangeTooLarge) {
		t.Fatalf("two 1000-byte values under a 1500-byte cap: err %v, want ErrRangeTooLarge", err)
	}
	resp, err := s.ReadTxnCapped(txn, 2100)
	if err != nil || len(resp.Responses) != 2 {
		t.Fatalf("under 2100 bytes: %v, %v", resp, err)
	}
	// Nested txns share the budget.
	nested := &pb.TxnRequest{Success: []*pb.RequestOp{one("a"), {Request: &pb.RequestOp_RequestTxn{RequestTxn: &pb.TxnRequest{Success: []*pb.RequestOp{one("b")}}}}}}
	if _, err := s.ReadTxnCapped(nested, 1500); !errors.Is(err, ErrRangeTooLarge) {
		t.Fatalf("nested: err %v, want ErrRangeTooLarge", err)
	}
}

// A refused range allocates nothing in proportion to the data it would
// have returned: the cap is checked while scanning, before any KeyValue
// is built (etcd builds the whole response first, etcd-io/etcd#12342).
func TestRangeCappedAllocatesLittle(t *testing.T) {
	s := newTestStore(t, Options{})
	const keys, valueBytes = 1024, 16 << 10 // 16 MiB of values
	value := strings.Repeat("v", valueBytes)
	for i := range keys {
		s.put(fmt.Sprintf("big/%05d", i), value)
	}
	for _, req := range []*pb.RangeRequest{
		{Key: []byte("big/"), RangeEnd: []byte("big0")},
		{Key: []byte("big/"), RangeEnd: []byte("big0"), SortTarget: pb.RangeRequest_MOD, SortOrder: pb.RangeRequest_DESCEND},
	} {
		const limit = 1 << 20
		allocated := func(f func()) uint64 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			f()
			runtime.ReadMemStats(&after)
			return after.TotalAlloc - before.TotalAlloc
		}
		var err error
		capped := allocated(func() { _, err = s.RangeCapped(req, limit) })
		if !errors.Is(err, ErrRangeTooLarge) {
			t.Fatalf("err %v, want ErrRangeTooLarge", err)
		}
		uncapped := allocated(func() { _, err = s.Range(req) })
		if err != nil {
			t.Fatal(err)
		}
		// Generous: the sorted form collects a pointer per key (8 KiB here).
		if capped > 256<<10 {
			t.Errorf("sort %v: a refused range allocated %d bytes (uncapped: %d); want well under the %d-byte data", req.SortTarget, capped, uncapped, keys*valueBytes)
		}
		if uncapped < keys*valueBytes {
			t.Errorf("uncapped range allocated %d bytes, less than its %d bytes of values: the measure is broken", uncapped, keys*valueBytes)
		}
	}
}

// A writing txn is checked before it is proposed: its ranges, in the
// branch its compares choose and in nested txns, share one budget; a txn
// without ranges, or whose big range is in the branch not taken, passes.
func TestCheckTxnRanges(t *testing.T) {
	s := newTestStore(t, Options{})
	s.put("a", strings.Repeat("x", 1000))
	s.put("b", strings.Repeat("y", 1000))
	get := func(k string) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte(k)}}}
	}
	put := &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("c"), Value: []byte("z")}}}
	aIs := func(v string) []*pb.Compare {
		return []*pb.Compare{{Key: []byte("a"), Target: pb.Compare_VALUE, Result: pb.Compare_EQUAL, TargetUnion: &pb.Compare_Value{Value: []byte(v)}}}
	}
	for _, c := range []struct {
		name string
		txn  *pb.TxnRequest
		ok   bool
	}{
		{"no ranges", &pb.TxnRequest{Success: []*pb.RequestOp{put}}, true},
		{"two ranges over the cap", &pb.TxnRequest{Success: []*pb.RequestOp{put, get("a"), get("b")}}, false},
		{"one range under it", &pb.TxnRequest{Success: []*pb.RequestOp{put, get("a")}}, true},
		{"nested ranges share the budget", &pb.TxnRequest{Success: []*pb.RequestOp{get("a"),
			{Request: &pb.RequestOp_RequestTxn{RequestTxn: &pb.TxnRequest{Success: []*pb.RequestOp{put, get("b")}}}}}}, false},
		{"the big branch is not taken", &pb.TxnRequest{Compare: aIs("no"), Success: []*pb.RequestOp{put, get("a"), get("b")}, Failure: []*pb.RequestOp{put}}, true},
		{"the big branch is taken", &pb.TxnRequest{Compare: aIs("no"), Success: []*pb.RequestOp{put}, Failure: []*pb.RequestOp{put, get("a"), get("b")}}, false},
	} {
		err := s.CheckTxnRanges(c.txn, 1500)
		if c.ok && err != nil || !c.ok && !errors.Is(err, ErrRangeTooLarge) {
			t.Errorf("%s: err %v, want ok=%v", c.name, err, c.ok)
		}
		if err := s.CheckTxnRanges(c.txn, 0); err != nil {
			t.Errorf("%s, no cap: %v", c.name, err)
		}
	}
}
