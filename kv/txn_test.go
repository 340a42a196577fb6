package kv

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func opPut(k, v string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k), Value: []byte(v)}}}
}

func opDel(k, end string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte(k), RangeEnd: bytesOrNil(end)}}}
}

func opGet(k string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte(k)}}}
}

func opTxn(t *pb.TxnRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: t}}
}

func compareOf(k string, target pb.Compare_CompareTarget, result pb.Compare_CompareResult, v int64, val string) *pb.Compare {
	c := &pb.Compare{Key: []byte(k), Target: target, Result: result}
	switch target {
	case pb.Compare_VALUE:
		c.TargetUnion = &pb.Compare_Value{Value: []byte(val)}
	case pb.Compare_VERSION:
		c.TargetUnion = &pb.Compare_Version{Version: v}
	case pb.Compare_CREATE:
		c.TargetUnion = &pb.Compare_CreateRevision{CreateRevision: v}
	case pb.Compare_MOD:
		c.TargetUnion = &pb.Compare_ModRevision{ModRevision: v}
	case pb.Compare_LEASE:
		c.TargetUnion = &pb.Compare_Lease{Lease: v}
	}
	return c
}

func TestTxnCompares(t *testing.T) {
	s := seed(t) // a=11 (c2 m5 v2), b=2 (c3 m3 v1), d=4 (c6 m6), e=5 (c8 m8); c deleted
	E, NE, G, L := pb.Compare_EQUAL, pb.Compare_NOT_EQUAL, pb.Compare_GREATER, pb.Compare_LESS
	cases := []struct {
		name string
		c    *pb.Compare
		want bool
	}{
		{"value eq", compareOf("a", pb.Compare_VALUE, E, 0, "11"), true},
		{"value ne", compareOf("a", pb.Compare_VALUE, NE, 0, "11"), false},
		{"value greater", compareOf("a", pb.Compare_VALUE, G, 0, "1"), true},
		{"value less", compareOf("a", pb.Compare_VALUE, L, 0, "2"), true},
		{"value of missing key fails", compareOf("zz", pb.Compare_VALUE, NE, 0, "x"), false},
		{"version eq", compareOf("a", pb.Compare_VERSION, E, 2, ""), true},
		{"version of missing is 0", compareOf("c", pb.Compare_VERSION, E, 0, ""), true},
		{"create eq", compareOf("a", pb.Compare_CREATE, E, 2, ""), true},
		{"create of missing is 0", compareOf("zz", pb.Compare_CREATE, E, 0, ""), true},
		{"mod greater", compareOf("a", pb.Compare_MOD, G, 4, ""), true},
		{"mod less", compareOf("a", pb.Compare_MOD, L, 5, ""), false},
		{"lease eq 0", compareOf("a", pb.Compare_LEASE, E, 0, ""), true},
		{"lease ne", compareOf("a", pb.Compare_LEASE, NE, 0, ""), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.ReadTxn(&pb.TxnRequest{Compare: []*pb.Compare{tc.c}})
			if err != nil {
				t.Fatal(err)
			}
			if r.Succeeded != tc.want {
				t.Fatalf("succeeded = %v", r.Succeeded)
			}
		})
	}
	// Compare with a range: every key must satisfy it.
	rc := compareOf("a", pb.Compare_CREATE, G, 1, "")
	rc.RangeEnd = []byte("e")
	if r, _ := s.ReadTxn(&pb.TxnRequest{Compare: []*pb.Compare{rc}}); !r.Succeeded {
		t.Fatal("range compare: all created after 1")
	}
	rc = compareOf("a", pb.Compare_MOD, L, 6, "")
	rc.RangeEnd = []byte("e")
	if r, _ := s.ReadTxn(&pb.TxnRequest{Compare: []*pb.Compare{rc}}); r.Succeeded {
		t.Fatal("range compare: d has mod 6")
	}
}

func TestTxnExecution(t *testing.T) {
	s := seed(t)
	req := &pb.TxnRequest{
		Compare: []*pb.Compare{compareOf("a", pb.Compare_VALUE, pb.Compare_EQUAL, 0, "11")},
		Success: []*pb.RequestOp{opPut("x", "1"), opGet("x"), opDel("b", ""), opPut("y", "2")},
		Failure: []*pb.RequestOp{opPut("z", "3")},
	}
	r := s.must(EncodeTxn(req)).(*pb.TxnResponse)
	if !r.Succeeded || r.Header.Revision != 9 || s.Rev() != 9 {
		t.Fatalf("txn: %v", r)
	}
	if got := r.Responses[1].GetResponseRange(); len(got.Kvs) != 1 || got.Kvs[0].ModRevision != 9 || got.Header.Revision != 9 {
		t.Fatalf("range inside txn must see the txn's own put: %v", got)
	}
	if p := r.Responses[3].GetResponsePut(); p.Header.Revision != 9 {
		t.Fatalf("put header %v", p.Header)
	}
	x, y := s.get("x"), s.get("y")
	if x.ModRevision != 9 || y.ModRevision != 9 || s.get("b") != nil {
		t.Fatalf("x %v y %v", x, y)
	}
	// Failure branch.
	r = s.must(EncodeTxn(&pb.TxnRequest{
		Compare: []*pb.Compare{compareOf("a", pb.Compare_VALUE, pb.Compare_EQUAL, 0, "nope")},
		Success: []*pb.RequestOp{opPut("s", "1")},
		Failure: []*pb.RequestOp{opPut("f", "1")},
	})).(*pb.TxnResponse)
	if r.Succeeded || s.get("f") == nil || s.get("s") != nil || s.Rev() != 10 {
		t.Fatalf("failure branch: %v", r)
	}
	// A txn that changes nothing does not bump the revision.
	r = s.must(EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opGet("a"), opDel("nothing", "")}})).(*pb.TxnResponse)
	if r.Header.Revision != 10 || s.Rev() != 10 {
		t.Fatalf("no-op txn bumped revision: %v", r.Header)
	}
}

func TestTxnNested(t *testing.T) {
	s := seed(t)
	inner := &pb.TxnRequest{
		// Evaluated against the state before the outer txn: a is still 11.
		Compare: []*pb.Compare{compareOf("a", pb.Compare_VALUE, pb.Compare_EQUAL, 0, "11")},
		Success: []*pb.RequestOp{opPut("in", "then")},
		Failure: []*pb.RequestOp{opPut("in", "else")},
	}
	r := s.must(EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "changed"), opTxn(inner)}})).(*pb.TxnResponse)
	n := r.Responses[1].GetResponseTxn()
	if n == nil || !n.Succeeded || string(s.get("in").Value) != "then" || n.Header.Revision != 9 {
		t.Fatalf("nested: %v", r)
	}
}

func TestTxnDuplicateKeys(t *testing.T) {
	cases := []struct {
		name string
		ops  []*pb.RequestOp
		dup  bool
	}{
		{"two puts", []*pb.RequestOp{opPut("k", "1"), opPut("k", "2")}, true},
		{"put in delete range", []*pb.RequestOp{opDel("a", "z"), opPut("k", "2")}, true},
		{"put then from-key delete", []*pb.RequestOp{opPut("k", "1"), opDel("a", "\x00")}, true},
		{"two deletes overlap", []*pb.RequestOp{opDel("a", "z"), opDel("k", "")}, false},
		{"distinct puts", []*pb.RequestOp{opPut("k", "1"), opPut("l", "2")}, false},
		{"nested dup with outer", []*pb.RequestOp{opPut("k", "1"), opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("k", "2")}})}, true},
		{"nested then/else same key ok", []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("k", "2")}, Failure: []*pb.RequestOp{opPut("k", "3")}})}, false},
		{"nested delete vs outer put", []*pb.RequestOp{opPut("k", "1"), opTxn(&pb.TxnRequest{Failure: []*pb.RequestOp{opDel("k", "")}})}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, Options{})
			_, err := s.do(EncodeTxn(&pb.TxnRequest{Success: tc.ops}))
			if tc.dup {
				wantErr(t, err, ErrDuplicateKey)
				if s.Rev() != 1 {
					t.Fatal("rejected txn changed state")
				}
			} else if err != nil {
				t.Fatal(err)
			}
			// Checked for the branch not taken too, as etcd does.
			_, err = s.do(EncodeTxn(&pb.TxnRequest{Failure: tc.ops}))
			if tc.dup {
				wantErr(t, err, ErrDuplicateKey)
			}
		})
	}
}

func TestTxnPrechecks(t *testing.T) {
	s := seed(t)
	// A failing put later in the branch rejects the whole txn before any write.
	_, err := s.do(EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"),
		{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("y"), Lease: 99}}}}}))
	wantErr(t, err, ErrLeaseNotFound)
	_, err = s.do(EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"),
		{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("nokey"), IgnoreValue: true}}}}}))
	wantErr(t, err, ErrKeyNotFound)
	_, err = s.do(EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"),
		{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("a"), Revision: 9}}}}}))
	wantErr(t, err, ErrFutureRev)
	if s.Rev() != 8 || s.get("x") != nil {
		t.Fatal("rejected txn wrote")
	}
	// ReadTxn refuses writes.
	_, err = s.ReadTxn(&pb.TxnRequest{Failure: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1")}})}})
	wantErr(t, err, ErrNotReadOnly)
}
