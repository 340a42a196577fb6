package kv

import (
	"bytes"
	"context"
	"errors"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func activate(member uint64) []byte {
	return EncodeAlarm(&pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: member, Alarm: pb.AlarmType_NOSPACE})
}

func deactivate(member uint64) []byte {
	return EncodeAlarm(&pb.AlarmRequest{Action: pb.AlarmRequest_DEACTIVATE, MemberID: member, Alarm: pb.AlarmType_NOSPACE})
}

// TestNoSpaceCapsWrites: while NOSPACE is raised, puts, txns that may put
// and lease grants fail at apply; reads, deletes, delete-only txns,
// compaction and revokes work; disarming lets puts in again.
func TestNoSpaceCapsWrites(t *testing.T) {
	s := newTestStore(t, Options{})
	s.put("a", "1")
	s.put("b", "2")
	s.must(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 7, TTL: 60}))
	resp := s.must(activate(42)).(*pb.AlarmResponse)
	if len(resp.Alarms) != 1 || resp.Alarms[0].MemberID != 42 || resp.Alarms[0].Alarm != pb.AlarmType_NOSPACE {
		t.Fatalf("activate answered %v", resp.Alarms)
	}
	if !s.NoSpace() {
		t.Fatal("NoSpace false after activate")
	}
	rev := s.Rev()
	putOp := &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("c")}}}
	delOp := &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte("b")}}}
	refused := map[string][]byte{
		"put":             EncodePut(&pb.PutRequest{Key: []byte("c"), Value: []byte("3")}),
		"txn put":         EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{putOp}}),
		"txn put in else": EncodeTxn(&pb.TxnRequest{Failure: []*pb.RequestOp{putOp}}),
		"nested txn put":  EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestTxn{RequestTxn: &pb.TxnRequest{Success: []*pb.RequestOp{putOp}}}}}}),
		"lease grant":     EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 8, TTL: 60}),
	}
	for name, cmd := range refused {
		if _, err := s.do(cmd); !errors.Is(err, ErrNoSpace) {
			t.Errorf("%s: err %v, want ErrNoSpace", name, err)
		}
	}
	if s.Rev() != rev || s.get("c") != nil {
		t.Fatalf("a refused write changed the store: rev %d -> %d", rev, s.Rev())
	}
	if s.get("a") == nil {
		t.Fatal("read failed under NOSPACE")
	}
	s.must(EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{delOp}}))
	s.del("a", "")
	if err := s.compact(s.Rev()); err != nil {
		t.Fatalf("compact under NOSPACE: %v", err)
	}
	s.must(EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: 7}))
	if got := s.must(deactivate(42)).(*pb.AlarmResponse).Alarms; len(got) != 1 {
		t.Fatalf("deactivate answered %v", got)
	}
	if got := s.must(deactivate(42)).(*pb.AlarmResponse).Alarms; len(got) != 0 {
		t.Fatalf("second deactivate answered %v, want nothing", got)
	}
	s.put("c", "3")
}

// TestAlarmBadRequests: malformed alarm commands fail with ErrBadAlarm and
// change nothing.
func TestAlarmBadRequests(t *testing.T) {
	s := newTestStore(t, Options{})
	for name, r := range map[string]*pb.AlarmRequest{
		"no member":  {Action: pb.AlarmRequest_ACTIVATE, Alarm: pb.AlarmType_NOSPACE},
		"no type":    {Action: pb.AlarmRequest_ACTIVATE, MemberID: 1},
		"bad type":   {Action: pb.AlarmRequest_ACTIVATE, MemberID: 1, Alarm: 99},
		"bad action": {Action: 9, MemberID: 1, Alarm: pb.AlarmType_NOSPACE},
	} {
		if _, err := s.do(EncodeAlarm(r)); !errors.Is(err, ErrBadAlarm) {
			t.Errorf("%s: err %v, want ErrBadAlarm", name, err)
		}
	}
	if len(s.Alarms(pb.AlarmType_NONE)) != 0 {
		t.Fatal("a bad request raised an alarm")
	}
}

// TestAlarmsSurviveSnapshot: alarms are in the snapshot, in order; a store
// without alarms writes the same bytes as before alarms existed (no 'A').
func TestAlarmsSurviveSnapshot(t *testing.T) {
	s := newTestStore(t, Options{})
	s.put("k", "v")
	var plain bytes.Buffer
	snap, _ := s.Snapshot()
	if err := snap.Persist(&plain); err != nil {
		t.Fatal(err)
	}
	s.must(activate(9))
	s.must(activate(3))
	s.must(EncodeAlarm(&pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: 3, Alarm: pb.AlarmType_CORRUPT}))
	var buf bytes.Buffer
	snap, _ = s.Snapshot()
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	r := newTestStore(t, Options{})
	if err := r.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	got := r.Alarms(pb.AlarmType_NONE)
	want := []string{"memberID:3 alarm:NOSPACE ", "memberID:3 alarm:CORRUPT ", "memberID:9 alarm:NOSPACE "}
	if len(got) != len(want) {
		t.Fatalf("restored %v", got)
	}
	for i := range got {
		if got[i].String() != want[i] {
			t.Errorf("alarm %d: %q, want %q", i, got[i].String(), want[i])
		}
	}
	if !r.NoSpace() || len(r.Alarms(pb.AlarmType_CORRUPT)) != 1 {
		t.Fatal("restored store lost NOSPACE or CORRUPT")
	}
	if r.Size() != s.Size() {
		t.Fatalf("restored size %d, want %d", r.Size(), s.Size())
	}
	e := newTestStore(t, Options{})
	if err := e.Restore(bytes.NewReader(plain.Bytes())); err != nil || len(e.Alarms(pb.AlarmType_NONE)) != 0 {
		t.Fatalf("snapshot without alarms: %v, alarms %v", err, e.Alarms(pb.AlarmType_NONE))
	}
	// Out of order alarm records are refused.
	bad := bytes.Replace(buf.Bytes(), []byte{'A', 3, 1, 'A', 3, 2}, []byte{'A', 3, 2, 'A', 3, 1}, 1)
	if bytes.Equal(bad, buf.Bytes()) {
		t.Fatal("test did not find the alarm records to swap")
	}
	if err := New(Options{}).Restore(bytes.NewReader(bad)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("swapped alarms: %v, want ErrBadSnapshot", err)
	}
}

// walkSize is Size the slow way, to check the running count.
func walkSize(s *Store) int64 {
	var n int64
	it := s.view().keys.Iterator()
	for !it.Done() {
		_, vs, _ := it.Next()
		for _, r := range vs {
			n += recSize(r)
		}
	}
	return n
}

// TestSizeTracksWrites: the O(1) Size matches a full walk after puts,
// deletes, txns, compactions, batches and a restore.
func TestSizeTracksWrites(t *testing.T) {
	s := newTestStore(t, Options{})
	check := func(what string) {
		t.Helper()
		if got, want := s.Size(), walkSize(s.Store); got != want {
			t.Fatalf("after %s: Size %d, walk %d", what, got, want)
		}
	}
	check("nothing")
	for i := 0; i < 50; i++ {
		s.put(string(rune('a'+i%7)), string(bytes.Repeat([]byte{'x'}, i)))
	}
	check("puts")
	s.del("a", "c")
	check("deletes")
	before := s.Size()
	if err := s.compact(s.Rev() - 5); err != nil {
		t.Fatal(err)
	}
	check("compact")
	if s.Size() >= before {
		t.Fatalf("compaction did not shrink Size: %d -> %d", before, s.Size())
	}
	s.idx++
	s.ApplyBatch(s.idx, [][]byte{EncodePut(&pb.PutRequest{Key: []byte("z"), Value: []byte("zz")}), EncodeDeleteRange(&pb.DeleteRangeRequest{Key: []byte("d")})})
	check("batch")
	var buf bytes.Buffer
	snap, _ := s.Snapshot()
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	r := newTestStore(t, Options{})
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if r.Size() != s.Size() {
		t.Fatalf("restored Size %d, want %d", r.Size(), s.Size())
	}
}

// TestGuard: a write past the quota raises NOSPACE through propose and is
// refused; later writes are refused without proposing; writes that fit, and
// a guard with no quota, pass.
func TestGuard(t *testing.T) {
	s := newTestStore(t, Options{})
	s.put("k", "v")
	var proposed int
	g := NewGuard(s.Store, s.Size()+100, 5, func(_ context.Context, cmd []byte) error {
		proposed++
		_, err := s.do(cmd)
		return err
	}, noBarrier)
	ctx := context.Background()
	if err := g.Check(ctx, 100); err != nil {
		t.Fatalf("a write that fits: %v", err)
	}
	if err := g.Check(ctx, 101); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("a write past the quota: %v", err)
	}
	if proposed != 1 || !s.NoSpace() || s.Alarms(pb.AlarmType_NOSPACE)[0].MemberID != 5 {
		t.Fatalf("alarm not raised once by member 5: proposed %d, alarms %v", proposed, s.Alarms(pb.AlarmType_NONE))
	}
	if err := g.Check(ctx, 1); !errors.Is(err, ErrNoSpace) || proposed != 1 {
		t.Fatalf("under NOSPACE: %v, proposed %d", err, proposed)
	}
	// A disarm committed elsewhere but not applied here yet: the guard
	// passes the barrier (which applies it) before refusing.
	lagging := NewGuard(s.Store, -1, 5, nil, func(context.Context) error {
		s.must(deactivate(5))
		return nil
	})
	if err := lagging.Check(ctx, 1); err != nil || s.NoSpace() {
		t.Fatalf("after a disarm the barrier applied: %v", err)
	}
	failing := NewGuard(newTestStore(t, Options{}).Store, 1, 5, func(context.Context, []byte) error { return errors.New("no leader") }, noBarrier)
	var nse *NoSpaceError
	if err := failing.Check(ctx, 2); !errors.Is(err, ErrNoSpace) || !errors.As(err, &nse) {
		t.Fatalf("raise failed: %v", err)
	}
	if err := NewGuard(newTestStore(t, Options{}).Store, -1, 5, nil, nil).Check(ctx, 1<<40); err != nil {
		t.Fatalf("no quota: %v", err)
	}
	if DefaultQuota() <= 0 || DefaultQuota() > DefaultQuotaBytes {
		t.Fatalf("DefaultQuota %d", DefaultQuota())
	}
}

func noBarrier(context.Context) error { return nil }

func TestCosts(t *testing.T) {
	put := &pb.PutRequest{Key: []byte("abc"), Value: []byte("12345")}
	if PutCost(put) != 8+perVersion {
		t.Fatalf("PutCost %d", PutCost(put))
	}
	op := &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: put}}
	txn := &pb.TxnRequest{Success: []*pb.RequestOp{op}, Failure: []*pb.RequestOp{op, op}}
	if TxnCost(txn) != 2*PutCost(put) {
		t.Fatalf("TxnCost %d", TxnCost(txn))
	}
}
