package kv

import (
	"testing"
	"time"

	"github.com/concord-db/concord/internal/metricstest"
	"github.com/prometheus/client_golang/prometheus"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestStoreMetrics: the store's series move with watchers opened and
// closed, events delivered live and from history, and leases granted and
// revoked (through Apply and ApplyBatch).
func TestStoreMetrics(t *testing.T) {
	s := newTestStore(t, Options{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Store)
	m := func() metricstest.Families { return metricstest.Gather(t, reg) }
	value := func(name string) float64 { return m().Must(t, name) }

	s.put("old", "1") // history for a catch-up watcher
	live := s.Watch(WatchRequest{Key: []byte("a"), RangeEnd: []byte("b")})
	q := s.NewWatchQueue()
	qw := q.Watch(WatchRequest{Key: []byte("a1")}, nil)
	if v := value("concord_kv_watchers"); v != 2 {
		t.Fatalf("watchers: %v, want 2", v)
	}
	s.put("a1", "x") // both
	s.put("a2", "y") // the range watcher only
	s.put("c", "z")  // nobody
	if v := value("concord_kv_watch_events_total"); v != 3 {
		t.Fatalf("events after 3 deliveries: %v", v)
	}
	catchUp := s.Watch(WatchRequest{Key: []byte("old"), StartRev: 1})
	deadline := time.Now().Add(10 * time.Second)
	for value("concord_kv_watch_events_total") != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the catch-up watcher's event was not counted: %v", value("concord_kv_watch_events_total"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := <-catchUp.C(); len(r.Events) != 1 {
		t.Fatalf("catch-up: %+v", r)
	}
	live.Close()
	qw.Close()
	catchUp.Close()
	if v := value("concord_kv_watchers"); v != 0 {
		t.Fatalf("watchers after Close: %v", v)
	}
	if v := value("concord_kv_revision"); v != float64(s.Rev()) {
		t.Fatalf("revision %v, store says %d", v, s.Rev())
	}

	s.must(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 1, TTL: 10}))
	s.idx++
	s.ApplyBatch(s.idx, [][]byte{
		EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 2, TTL: 10}),
		EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 3, TTL: 10}),
		EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: 2}),
	})
	s.must(EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: 1}))
	if _, err := s.do(EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: 99})); err == nil {
		t.Fatal("revoke of an unknown lease succeeded")
	}
	f := m()
	for name, want := range map[string]float64{
		"concord_kv_leases": 1, "concord_kv_lease_grants_total": 3, "concord_kv_lease_revokes_total": 2,
	} {
		if v := f.Must(t, name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
}
