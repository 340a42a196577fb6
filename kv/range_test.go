package kv

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// seed builds: rev2 a=1, rev3 b=2, rev4 c=3, rev5 a=11, rev6 d=4, rev7 delete c, rev8 e=5.
func seed(t *testing.T) *testStore {
	s := newTestStore(t, Options{})
	s.put("a", "1")
	s.put("b", "2")
	s.put("c", "3")
	s.put("a", "11")
	s.put("d", "4")
	s.del("c", "")
	s.put("e", "5")
	if s.Rev() != 8 {
		t.Fatalf("rev = %d", s.Rev())
	}
	return s
}

func TestRangeSemantics(t *testing.T) {
	s := seed(t)
	cases := []struct {
		name      string
		req       *pb.RangeRequest
		keys      string
		count     int64
		more      bool
		err       error
		wantValue bool
	}{
		{name: "single key", req: &pb.RangeRequest{Key: []byte("a")}, keys: "a ", count: 1},
		{name: "missing key", req: &pb.RangeRequest{Key: []byte("zz")}, keys: "", count: 0},
		{name: "deleted key", req: &pb.RangeRequest{Key: []byte("c")}, keys: "", count: 0},
		{name: "range", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("d")}, keys: "a b ", count: 2},
		{name: "inverted range", req: &pb.RangeRequest{Key: []byte("d"), RangeEnd: []byte("a")}, keys: "", count: 0},
		{name: "from key", req: &pb.RangeRequest{Key: []byte("b"), RangeEnd: []byte{0}}, keys: "b d e ", count: 3},
		{name: "all keys", req: &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}, keys: "a b d e ", count: 4},
		{name: "prefix", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("b")}, keys: "a ", count: 1},
		{name: "limit more", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, Limit: 2}, keys: "a b ", count: 4, more: true},
		{name: "limit exact", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, Limit: 4}, keys: "a b d e ", count: 4},
		{name: "count only", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, CountOnly: true}, keys: "", count: 4},
		{name: "at rev 4", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, Revision: 4}, keys: "a b c ", count: 3},
		{name: "at rev 1", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, Revision: 1}, keys: "", count: 0},
		{name: "future", req: &pb.RangeRequest{Key: []byte("a"), Revision: 9}, err: ErrFutureRev},
		{name: "sort key desc", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, SortOrder: pb.RangeRequest_DESCEND}, keys: "e d b a ", count: 4},
		{name: "sort mod desc limit", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, SortTarget: pb.RangeRequest_MOD, SortOrder: pb.RangeRequest_DESCEND, Limit: 2}, keys: "e d ", count: 4, more: true},
		{name: "sort create default asc", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, SortTarget: pb.RangeRequest_CREATE}, keys: "a b d e ", count: 4},
		{name: "sort version desc stable", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, SortTarget: pb.RangeRequest_VERSION, SortOrder: pb.RangeRequest_DESCEND}, keys: "a b d e ", count: 4},
		{name: "sort value asc", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, SortTarget: pb.RangeRequest_VALUE, SortOrder: pb.RangeRequest_ASCEND}, keys: "a b d e ", count: 4},
		{name: "min mod", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, MinModRevision: 5}, keys: "a d e ", count: 4},
		{name: "max mod", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, MaxModRevision: 5}, keys: "a b ", count: 4},
		{name: "min create", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, MinCreateRevision: 3}, keys: "b d e ", count: 4},
		{name: "max create limit", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, MaxCreateRevision: 6, Limit: 1}, keys: "a ", count: 4, more: true},
		{name: "keys only", req: &pb.RangeRequest{Key: []byte("a"), KeysOnly: true}, keys: "a ", count: 1},
		{name: "values", req: &pb.RangeRequest{Key: []byte("a")}, keys: "a ", count: 1, wantValue: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.Range(tc.req)
			if tc.err != nil {
				wantErr(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := keysOf(r.Kvs); got != tc.keys {
				t.Errorf("keys = %q, want %q", got, tc.keys)
			}
			if r.Count != tc.count || r.More != tc.more {
				t.Errorf("count, more = %d, %v; want %d, %v", r.Count, r.More, tc.count, tc.more)
			}
			if r.Header.Revision != 8 {
				t.Errorf("header revision = %d, want 8 (current, whatever was read)", r.Header.Revision)
			}
			if len(r.Kvs) > 0 && (len(r.Kvs[0].Value) > 0) != (tc.wantValue || !tc.req.KeysOnly && len(r.Kvs) > 0) {
				t.Errorf("value presence wrong: %q", r.Kvs[0].Value)
			}
		})
	}
}

func TestPutMetadata(t *testing.T) {
	s := seed(t)
	a := s.get("a")
	if got := kvsString([]*pbKV{a}); got != "a=11(c2,m5,v2,l0) " {
		t.Fatalf("a = %s", got)
	}
	// Recreate a deleted key: new generation, version 1.
	s.put("c", "new")
	if got := kvsString([]*pbKV{s.get("c")}); got != "c=new(c9,m9,v1,l0) " {
		t.Fatalf("c = %s", got)
	}
	r, _ := s.Range(&pb.RangeRequest{Key: []byte("c"), Revision: 6})
	if got := kvsString(r.Kvs); got != "c=3(c4,m4,v1,l0) " {
		t.Fatalf("c@6 = %s", got)
	}
}

func TestPutOptions(t *testing.T) {
	s := newTestStore(t, Options{})
	_, err := s.do(EncodePut(&pb.PutRequest{Key: []byte("k"), IgnoreValue: true}))
	wantErr(t, err, ErrKeyNotFound)
	_, err = s.do(EncodePut(&pb.PutRequest{Key: []byte("k"), IgnoreLease: true}))
	wantErr(t, err, ErrKeyNotFound)
	_, err = s.do(EncodePut(&pb.PutRequest{Key: []byte("k"), Lease: 7}))
	wantErr(t, err, ErrLeaseNotFound)
	if s.Rev() != 1 {
		t.Fatalf("failed puts bumped the revision to %d", s.Rev())
	}
	s.must(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 7, TTL: 10}))
	s.putLease("k", "v1", 7)
	r := s.must(EncodePut(&pb.PutRequest{Key: []byte("k"), Value: []byte("v2"), IgnoreLease: true, PrevKv: true})).(*pb.PutResponse)
	if string(r.PrevKv.Value) != "v1" || r.Header.Revision != 3 {
		t.Fatalf("prev = %v, header %v", r.PrevKv, r.Header)
	}
	if kv := s.get("k"); kv.Lease != 7 || string(kv.Value) != "v2" {
		t.Fatalf("ignore_lease lost the lease: %v", kv)
	}
	s.must(EncodePut(&pb.PutRequest{Key: []byte("k"), IgnoreValue: true}))
	if kv := s.get("k"); kv.Lease != 0 || string(kv.Value) != "v2" || kv.Version != 3 {
		t.Fatalf("ignore_value: %v", kv)
	}
	ttl, _ := s.LeaseTimeToLive(7, true)
	if len(ttl.Keys) != 0 {
		t.Fatalf("put without lease did not detach: %q", ttl.Keys)
	}
	// Same value again still makes a revision.
	r = s.put("k", "v2")
	if r.Header.Revision != 5 || r.PrevKv != nil {
		t.Fatalf("put same value: %v", r)
	}
}

func TestDeleteRange(t *testing.T) {
	s := seed(t)
	r := s.must(EncodeDeleteRange(&pb.DeleteRangeRequest{Key: []byte("a"), RangeEnd: []byte("e"), PrevKv: true})).(*pb.DeleteRangeResponse)
	if r.Deleted != 3 || keysOf(r.PrevKvs) != "a b d " || r.Header.Revision != 9 {
		t.Fatalf("delete: %d %q rev %d", r.Deleted, keysOf(r.PrevKvs), r.Header.Revision)
	}
	// Deleting nothing does not bump the revision.
	r = s.del("a", "e")
	if r.Deleted != 0 || r.Header.Revision != 9 || s.Rev() != 9 {
		t.Fatalf("empty delete: %v rev %d", r, s.Rev())
	}
	r = s.del("a", "\x00")
	if r.Deleted != 1 || s.Rev() != 10 {
		t.Fatalf("from-key delete: %v", r)
	}
	all, _ := s.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 8})
	if all.Count != 4 {
		t.Fatalf("history lost: %d", all.Count)
	}
}
