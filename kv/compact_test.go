package kv

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func TestCompaction(t *testing.T) {
	s := seed(t) // rev2 a=1, rev3 b=2, rev4 c=3, rev5 a=11, rev6 d=4, rev7 del c, rev8 e=5
	wantErr(t, s.compact(9), ErrFutureRev)
	h8, _, _, _ := s.HashKV(8)
	before, _ := s.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 7})
	if err := s.compact(7); err != nil {
		t.Fatal(err)
	}
	if s.CompactRev() != 7 || s.Rev() != 8 {
		t.Fatalf("compact %d rev %d", s.CompactRev(), s.Rev())
	}
	wantErr(t, s.compact(7), ErrCompacted)
	wantErr(t, s.compact(3), ErrCompacted)
	_, err := s.Range(&pb.RangeRequest{Key: []byte("a"), Revision: 6})
	wantErr(t, err, ErrCompacted)
	// Reading at the compacted revision still works and is unchanged.
	after, err := s.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 7})
	if err != nil || kvsString(after.Kvs) != kvsString(before.Kvs) {
		t.Fatalf("at compact rev: %v %q vs %q", err, kvsString(after.Kvs), kvsString(before.Kvs))
	}
	// Physical: only the latest version of a, and no trace of c.
	st := s.view()
	if vs, _ := st.keys.Get("a"); len(vs) != 1 || vs[0].mod != 5 {
		t.Fatalf("a history %v", vs)
	}
	if _, ok := st.keys.Get("c"); ok {
		t.Fatal("deleted key c still indexed")
	}
	if len(st.log) != 1 || st.log[0].key != "e" {
		t.Fatalf("log %d", len(st.log))
	}
	_, _, _, err = s.HashKV(6)
	wantErr(t, err, ErrCompacted)
	if h, _, _, _ := s.HashKV(8); h == h8 {
		t.Log("hash unchanged by compaction (allowed only by coincidence)")
	}
	// Keys written after compaction keep their history.
	s.put("a", "12")
	r, _ := s.Range(&pb.RangeRequest{Key: []byte("a"), Revision: 8})
	if string(r.Kvs[0].Value) != "11" {
		t.Fatalf("a@8 = %s", r.Kvs[0].Value)
	}
}

func TestCompactionHotKey(t *testing.T) {
	s := newTestStore(t, Options{})
	for i := 0; i < 100; i++ {
		s.put("k", "v")
	}
	if err := s.compact(50); err != nil {
		t.Fatal(err)
	}
	vs, _ := s.view().keys.Get("k")
	if len(vs) != 52 || vs[0].mod != 50 || vs[0].version != 49 {
		t.Fatalf("kept %d versions, first mod %d", len(vs), vs[0].mod)
	}
	for rev := int64(50); rev <= 101; rev++ {
		r, err := s.Range(&pb.RangeRequest{Key: []byte("k"), Revision: rev})
		if err != nil || r.Kvs[0].Version != rev-1 {
			t.Fatalf("k@%d: %v %v", rev, r, err)
		}
	}
}
