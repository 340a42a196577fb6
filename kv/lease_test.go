package kv

import (
	"slices"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func TestLeaseGrantRevoke(t *testing.T) {
	lessor := NewLessor(LessorConfig{})
	s := newTestStore(t, Options{MinLeaseTTL: 5, Lessor: lessor})
	_, err := s.do(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 0, TTL: 10}))
	wantErr(t, err, ErrLeaseIDRequired)
	_, err = s.do(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 1, TTL: MaxLeaseTTL + 1}))
	wantErr(t, err, ErrLeaseTTLTooLarge)
	g := s.must(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 1, TTL: 2})).(*pb.LeaseGrantResponse)
	if g.ID != 1 || g.TTL != 5 {
		t.Fatalf("grant: %v (min TTL not applied?)", g)
	}
	_, err = s.do(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 1, TTL: 10}))
	wantErr(t, err, ErrLeaseExists)
	s.must(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 2, TTL: 10}))
	s.putLease("b", "1", 1)
	s.putLease("a", "1", 1)
	s.putLease("c", "1", 2)
	s.putLease("d", "1", 1)
	s.putLease("d", "2", 2) // moves d from lease 1 to 2
	ttl, err := s.LeaseTimeToLive(1, true)
	if err != nil || ttl.GrantedTTL != 5 || ttl.TTL != 5 || keysOfBytes(ttl.Keys) != "a b " {
		t.Fatalf("ttl: %v %v", ttl, err)
	}
	rev := s.Rev()
	r := s.must(EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: 1})).(*pb.LeaseRevokeResponse)
	if r.Header.Revision != rev+1 || s.Rev() != rev+1 {
		t.Fatalf("revoke must delete all keys in one revision: %d -> %d", rev, r.Header.Revision)
	}
	if s.get("a") != nil || s.get("b") != nil || s.get("c") == nil || s.get("d") == nil {
		t.Fatal("wrong keys deleted")
	}
	_, err = s.LeaseTimeToLive(1, false)
	wantErr(t, err, ErrLeaseNotFound)
	_, err = s.do(EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: 1}))
	wantErr(t, err, ErrLeaseNotFound)
	if got := s.Leases(); len(got) != 1 || got[0].ID != 2 {
		t.Fatalf("leases %v", got)
	}
	// Revoking a lease with no keys does not bump the revision.
	s.must(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 3, TTL: 10}))
	rev = s.Rev()
	s.must(EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: 3}))
	if s.Rev() != rev {
		t.Fatal("empty revoke bumped revision")
	}
	// Checkpoint.
	s.must(EncodeLeaseCheckpoint(&pb.LeaseCheckpointRequest{Checkpoints: []*pb.LeaseCheckpoint{{ID: 2, Remaining_TTL: 4}, {ID: 99, Remaining_TTL: 1}}}))
	ttl, _ = s.LeaseTimeToLive(2, false)
	if ttl.TTL != 4 || ttl.GrantedTTL != 10 {
		t.Fatalf("after checkpoint: %v", ttl)
	}
	// The lessor followed along.
	now := time.Unix(1000, 0)
	lessor.Promote(now)
	if got, _ := lessor.TimeToLive(2, now); got != 4 {
		t.Fatalf("promote used %d, want checkpointed 4", got)
	}
}

func keysOfBytes(ks [][]byte) string {
	out := ""
	for _, k := range ks {
		out += string(k) + " "
	}
	return out
}

func TestLessor(t *testing.T) {
	l := NewLessor(LessorConfig{CheckpointInterval: time.Minute})
	l.applied([]leaseOp{{kind: 'g', id: 1, ttl: 10}, {kind: 'g', id: 2, ttl: 100}})
	t0 := time.Unix(1000, 0)
	if _, err := l.Renew(1, t0); err != ErrNotPrimary {
		t.Fatalf("follower renew: %v", err)
	}
	if l.Expired(t0.Add(time.Hour)) != nil {
		t.Fatal("a follower never expires leases")
	}
	l.Promote(t0)
	if got := l.Expired(t0.Add(9 * time.Second)); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	if ttl, err := l.Renew(1, t0.Add(9*time.Second)); err != nil || ttl != 10 {
		t.Fatalf("renew: %d %v", ttl, err)
	}
	if got := l.Expired(t0.Add(18 * time.Second)); len(got) != 0 {
		t.Fatalf("renew did not extend: %v", got)
	}
	if got := l.Expired(t0.Add(19 * time.Second)); !slices.Equal(got, []int64{1}) {
		t.Fatalf("expired = %v", got)
	}
	if got := l.Expired(t0.Add(20 * time.Second)); len(got) != 0 {
		t.Fatalf("reported again before retry interval: %v", got)
	}
	if _, err := l.Renew(1, t0.Add(20*time.Second)); err != ErrLeaseNotFound {
		t.Fatalf("renew of expired lease: %v", err)
	}
	l.applied([]leaseOp{{kind: 'r', id: 1}})
	// Checkpoints: after the interval, lease 2 reports its remaining TTL.
	cps := l.Checkpoints(t0.Add(61 * time.Second))
	if len(cps) != 1 || cps[0].ID != 2 || cps[0].Remaining_TTL != 39 {
		t.Fatalf("checkpoints %v", cps)
	}
	l.applied([]leaseOp{{kind: 'c', id: 2, remaining: 39}})
	// Leader change: the new leader restarts lease 2 from its checkpoint,
	// not from its full TTL, and never earlier than that.
	l.Demote()
	t1 := t0.Add(90 * time.Second)
	l.Promote(t1)
	if got, _ := l.TimeToLive(2, t1); got != 39 {
		t.Fatalf("after promote ttl = %d", got)
	}
	// A renewal of a checkpointed lease clears the checkpoint.
	l.Renew(2, t1)
	cps = l.Checkpoints(t1)
	if len(cps) != 1 || cps[0].Remaining_TTL != 0 {
		t.Fatalf("clear checkpoint: %v", cps)
	}
}
