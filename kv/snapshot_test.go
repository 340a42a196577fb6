package kv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// randomCommand returns a random command over a small key space, mixing
// every kind so histories have leases, tombstones, txns and compactions.
func randomCommand(r *rand.Rand, rev int64) []byte {
	key := func() []byte { return []byte(fmt.Sprintf("k%02d", r.Intn(40))) }
	lease := func() int64 {
		if r.Intn(3) == 0 {
			return int64(1 + r.Intn(4))
		}
		return 0
	}
	switch n := r.Intn(100); {
	case n < 45:
		return EncodePut(&pb.PutRequest{Key: key(), Value: []byte(fmt.Sprint(r.Int63())), Lease: lease(), PrevKv: r.Intn(2) == 0})
	case n < 55:
		return EncodeDeleteRange(&pb.DeleteRangeRequest{Key: key()})
	case n < 58:
		return EncodeDeleteRange(&pb.DeleteRangeRequest{Key: key(), RangeEnd: key(), PrevKv: true})
	case n < 75:
		return EncodeTxn(&pb.TxnRequest{
			Compare: []*pb.Compare{compareOf(string(key()), pb.Compare_VERSION, pb.Compare_GREATER, int64(r.Intn(3)), "")},
			Success: []*pb.RequestOp{opPut(string(key()), "t"), opGet(string(key()))},
			Failure: []*pb.RequestOp{opDel(string(key()), "")},
		})
	case n < 82:
		return EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: int64(1 + r.Intn(4)), TTL: int64(r.Intn(30))})
	case n < 87:
		return EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: int64(1 + r.Intn(4))})
	case n < 90:
		return EncodeLeaseCheckpoint(&pb.LeaseCheckpointRequest{Checkpoints: []*pb.LeaseCheckpoint{{ID: int64(1 + r.Intn(4)), Remaining_TTL: int64(r.Intn(10))}}})
	case n < 93:
		return EncodeCompact(&pb.CompactionRequest{Revision: rev - int64(r.Intn(20))})
	}
	return []byte{1, byte(r.Intn(10)), byte(r.Intn(256))}
}

func persist(t testing.TB, s *Store) []byte {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	return buf.Bytes()
}

func applyRandom(s *testStore, seed int64, n int) [][]byte {
	r := rand.New(rand.NewSource(seed))
	var results [][]byte
	for i := 0; i < n; i++ {
		s.idx++
		results = append(results, s.Apply(s.idx, randomCommand(r, s.Rev())))
	}
	return results
}

func TestDeterminism(t *testing.T) {
	a := newTestStore(t, Options{MinLeaseTTL: 3})
	b := newTestStore(t, Options{MinLeaseTTL: 3})
	ra := applyRandom(a, 42, 3000)
	rb := applyRandom(b, 42, 3000)
	for i := range ra {
		if !bytes.Equal(ra[i], rb[i]) {
			t.Fatalf("result %d differs", i)
		}
	}
	ha, _, _, _ := a.HashKV(0)
	hb, _, _, _ := b.HashKV(0)
	if ha != hb || a.Rev() != b.Rev() || a.CompactRev() == 0 {
		t.Fatalf("hash %x vs %x, rev %d vs %d, compact %d", ha, hb, a.Rev(), b.Rev(), a.CompactRev())
	}
	if !bytes.Equal(persist(t, a.Store), persist(t, b.Store)) {
		t.Fatal("snapshot bytes differ")
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	a := newTestStore(t, Options{})
	applyRandom(a, 7, 2000)
	data := persist(t, a.Store)
	b := newTestStore(t, Options{})
	b.put("junk", "replaced by restore")
	if err := b.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if a.Rev() != b.Rev() || a.CompactRev() != b.CompactRev() || a.AppliedIndex() != b.AppliedIndex() {
		t.Fatalf("rev %d/%d compact %d/%d", a.Rev(), b.Rev(), a.CompactRev(), b.CompactRev())
	}
	for rev := a.CompactRev(); rev <= a.Rev(); rev++ {
		req := &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev}
		ra, errA := a.Range(req)
		rb, errB := b.Range(req)
		if (errA == nil) != (errB == nil) || (errA == nil && kvsString(ra.Kvs) != kvsString(rb.Kvs)) {
			t.Fatalf("range at %d differs: %v %v", rev, errA, errB)
		}
		ha, _, _, _ := a.HashKV(rev)
		hb, _, _, _ := b.HashKV(rev)
		if ha != hb {
			t.Fatalf("hash at %d differs", rev)
		}
	}
	if fmt.Sprint(a.Leases()) != fmt.Sprint(b.Leases()) {
		t.Fatalf("leases %v vs %v", a.Leases(), b.Leases())
	}
	for _, l := range a.Leases() {
		ta, _ := a.LeaseTimeToLive(l.ID, true)
		tb, _ := b.LeaseTimeToLive(l.ID, true)
		if ta.String() != tb.String() {
			t.Fatalf("lease %d: %v vs %v", l.ID, ta, tb)
		}
	}
	if !bytes.Equal(data, persist(t, b.Store)) {
		t.Fatal("re-persisted snapshot differs")
	}
	// Both continue identically.
	ra := applyRandom(a, 8, 500)
	b.idx = a.idx - 500
	rb := applyRandom(b, 8, 500)
	for i := range ra {
		if !bytes.Equal(ra[i], rb[i]) {
			t.Fatalf("after restore, result %d differs", i)
		}
	}
}

func TestRestoreEmpty(t *testing.T) {
	s := newTestStore(t, Options{})
	s.put("a", "1")
	if err := s.Restore(bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if s.Rev() != 1 || s.get("a") != nil {
		t.Fatal("not empty")
	}
}

func TestRestoreRejectsCorruption(t *testing.T) {
	a := newTestStore(t, Options{})
	applyRandom(a, 1, 300)
	data := persist(t, a.Store)
	for _, bad := range [][]byte{data[:len(data)-1], data[:len(data)/2], append(append([]byte{}, data...), 0)} {
		s := newTestStore(t, Options{})
		s.put("keep", "me")
		if err := s.Restore(bytes.NewReader(bad)); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("err = %v", err)
		}
		if s.get("keep") == nil {
			t.Fatal("failed restore changed the store")
		}
	}
	flipped := append([]byte{}, data...)
	flipped[len(flipped)/2] ^= 0x40
	if err := newTestStore(t, Options{}).Restore(bytes.NewReader(flipped)); err == nil {
		t.Fatal("bit flip not detected")
	}
}

// oneByteReader returns one byte per Read, to exercise the decoder's refills.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) { return o.r.Read(p[:1]) }

func TestRestoreSmallReads(t *testing.T) {
	a := newTestStore(t, Options{})
	applyRandom(a, 3, 300)
	data := persist(t, a.Store)
	b := newTestStore(t, Options{})
	if err := b.Restore(oneByteReader{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, persist(t, b.Store)) {
		t.Fatal("differs")
	}
}

func FuzzRestore(f *testing.F) {
	s := New(Options{})
	defer s.Close()
	for i, cmd := range [][]byte{
		EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 1, TTL: 5}),
		EncodePut(&pb.PutRequest{Key: []byte("a"), Value: []byte("1"), Lease: 1}),
		EncodePut(&pb.PutRequest{Key: []byte("b"), Value: []byte("2")}),
		EncodeCompact(&pb.CompactionRequest{Revision: 2}),
		EncodeDeleteRange(&pb.DeleteRangeRequest{Key: []byte("b")}),
		EncodeAlarm(&pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: 7, Alarm: pb.AlarmType_NOSPACE}),
	} {
		s.Apply(uint64(i+1), cmd)
	}
	snap, _ := s.Snapshot()
	var buf bytes.Buffer
	snap.Persist(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add([]byte("ckv\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := readSnapshot(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever decodes must be usable.
		_, _ = rangeKeys(st, &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
		_, _, _ = hashKV(st, 0)
		if st.size < 0 {
			t.Fatalf("restored size %d", st.size)
		}
	})
}
