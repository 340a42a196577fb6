package resource

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"github.com/prometheus/client_golang/prometheus"
)

func TestStatusAndMetrics(t *testing.T) {
	s, b := newLocal(t, Config{})
	ctx := testCtx(t)
	writeN(t, b, "Artist", 3)
	al := writeN(t, b, "Album", 2)
	if err := b.DeleteCAS(ctx, al[0].Id, al[0].Version); err != nil {
		t.Fatal(err)
	}
	a := al[1]
	a.Version = "1"
	if _, err := b.WriteCAS(ctx, a); err == nil {
		t.Fatal("stale CAS succeeded")
	}
	w, err := b.WatchList(ctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		nextEvent(t, w)
	}
	st := s.Status()
	if st.Resources != 4 || st.ByType["demo.Artist"] != 3 || st.ByType["demo.Album"] != 1 || st.Revision != 6 {
		t.Fatalf("status %+v", st)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(s); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"concord_resource_resources":               4,
		"concord_resource_revision":                6,
		"concord_resource_commands_applied_total":  7, // 6 ok + 1 CAS failure
		"concord_resource_watches_active":          1,
		"concord_resource_watches_started_total":   1,
		"concord_resource_watch_events_sent_total": 4,
		"concord_resource_watch_overflows_total":   0,
	} {
		got, err := sum(reg, name)
		if err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", name, got, err, want)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "concord_resource_commands_applied_total" && len(mf.Metric) != 3 {
			t.Errorf("%d outcome series, want ok, cas_failure and rejected", len(mf.Metric))
		}
	}
	w.Close()
	if got, _ := sum(reg, "concord_resource_watches_active"); got != 0 {
		t.Errorf("active watches after Close: %v", got)
	}
}

// sum adds the values of every series of metric name.
func sum(g prometheus.Gatherer, name string) (float64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var total float64
		for _, m := range mf.Metric {
			total += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
		return total, nil
	}
	return 0, fmt.Errorf("no metric %s", name)
}

// TestConcurrentReadsDuringApply reads, lists and watches from many
// goroutines while writes apply (run with -race): readers always see a
// consistent view and never block apply.
func TestConcurrentReadsDuringApply(t *testing.T) {
	_, b := newLocal(t, Config{})
	ctx, cancel := context.WithCancel(testCtx(t))
	var wg sync.WaitGroup
	w, err := b.WatchList(ctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var last uint64
		for {
			ev, err := w.Next(ctx)
			if err != nil {
				return
			}
			if ev.Kind != EndOfSnapshot && ev.Version <= last {
				t.Errorf("event at %d after %d", ev.Version, last)
			}
			last = ev.Version
		}
	}()
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				list, err := b.List(ctx, EventualConsistency, artists, &pbresource.Tenancy{Partition: "*", Namespace: "*"}, "")
				if err != nil {
					t.Error(err)
					return
				}
				for _, res := range list {
					got, err := b.Read(ctx, EventualConsistency, res.Id)
					if err == nil && got.Id.Uid != res.Id.Uid {
						t.Errorf("reader %d: uid changed under a read", r)
					}
				}
			}
		}()
	}
	for i := range 200 {
		id := testID("Artist", fmt.Sprintf("c%d", i%10))
		cur, err := b.Read(ctx, EventualConsistency, id)
		if err != nil {
			cur = &pbresource.Resource{Id: id}
		}
		cur.Metadata = map[string]string{"i": fmt.Sprint(i)}
		if _, err := b.WriteCAS(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
}

// TestWriteLeavesItsArgumentAlone: Write and WriteCAS clear status and
// generation from what they propose (the store sets them), but the
// caller's resource keeps its own.
func TestWriteLeavesItsArgumentAlone(t *testing.T) {
	_, b := newLocal(t, Config{})
	ctx := testCtx(t)
	st := map[string]*pbresource.Status{"ctl": {ObservedGeneration: ulidA}}
	for _, write := range []func(context.Context, *pbresource.Resource) (*pbresource.Resource, error){b.Write, b.WriteCAS} {
		in := &pbresource.Resource{Id: testID("Artist", fmt.Sprintf("arg-%p", write)), Data: testData("x"), Generation: "caller-gen", Status: st}
		out, err := write(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if in.Generation != "caller-gen" || len(in.Status) != 1 || in.Version != "" || in.Id.Uid != "" {
			t.Errorf("the argument changed: %v", in)
		}
		if out.Generation == "caller-gen" || len(out.Status) != 0 || out.Version == "" || out.Id.Uid == "" {
			t.Errorf("the store kept the caller's status or generation, or set no version or uid: %v", out)
		}
	}
}

// TestWriteNamingItsUidCarriesNoCandidate: only a write without a uid
// needs the proposer's candidate; one naming its uid (every update a
// controller makes with the resource it read) leaves it out of the log,
// and both still store the right uid.
func TestWriteNamingItsUidCarriesNoCandidate(t *testing.T) {
	s, _ := Open(Config{})
	t.Cleanup(func() { s.Close() })
	n := &localNode{s: s}
	b := NewBackend(s, n)
	ctx := testCtx(t)
	lastCandidate := func() string {
		c, err := decodeCommand(n.last, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.uid
	}
	created, err := b.Write(ctx, &pbresource.Resource{Id: testID("Artist", "cand"), Data: testData("a")})
	if err != nil {
		t.Fatal(err)
	}
	if c := lastCandidate(); c == "" || c != created.Id.Uid {
		t.Fatalf("create without a uid: candidate %q, stored uid %q", c, created.Id.Uid)
	}
	for _, write := range []func(context.Context, *pbresource.Resource) (*pbresource.Resource, error){b.Write, b.WriteCAS} {
		updated, err := write(ctx, &pbresource.Resource{Id: created.Id, Version: created.Version, Data: testData("b")})
		if err != nil {
			t.Fatal(err)
		}
		if c := lastCandidate(); c != "" {
			t.Errorf("update naming its uid proposed candidate %q", c)
		}
		if updated.Id.Uid != created.Id.Uid {
			t.Errorf("update changed the uid %q to %q", created.Id.Uid, updated.Id.Uid)
		}
		created = updated
	}
	id := testID("Artist", "given")
	id.Uid = ulidA
	given, err := b.WriteCAS(ctx, &pbresource.Resource{Id: id, Data: testData("c")})
	if err != nil {
		t.Fatal(err)
	}
	if c := lastCandidate(); c != "" || given.Id.Uid != ulidA {
		t.Errorf("create with a given uid: candidate %q, stored uid %q", c, given.Id.Uid)
	}
}

// TestPublishedViewsDoNotChange: a log entry's writes go to transient
// tables changed in place, so a view published before the entry (what a
// reader or a snapshot holds) must still show the state it was published
// with: the same resources at the same versions, none added or removed.
func TestPublishedViewsDoNotChange(t *testing.T) {
	s, _ := newLocal(t, Config{})
	encode := func(name, version string) []byte {
		c := &command{op: opUpsert, maxBytes: 1 << 20, uid: ulidA, generation: ulidA,
			res: &pbresource.Resource{Id: testID("Artist", name), Version: version, Data: testData(name)}}
		b, err := c.encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var first [][]byte
	for i := range 200 {
		first = append(first, encode(fmt.Sprintf("a%03d", i), ""))
	}
	s.ApplyBatch(1, first)
	before := s.view.Load()
	want := map[string]string{}
	for _, r := range before.list(newQuery(artists, &pbresource.Tenancy{Partition: Wildcard, Namespace: Wildcard}, "")) {
		want[r.Id.Name] = r.Version
	}
	if len(want) != 200 {
		t.Fatalf("%d resources after the first entry", len(want))
	}
	// Rewrite every other one and add as many, in entries of 11.
	var next [][]byte
	for i := 0; i < 400; i += 2 {
		next = append(next, encode(fmt.Sprintf("a%03d", i), ""))
	}
	for i := 0; i < len(next); i += 11 {
		s.ApplyBatch(uint64(2+i), next[i:min(i+11, len(next))])
	}
	got := map[string]string{}
	for _, r := range before.list(newQuery(artists, &pbresource.Tenancy{Partition: Wildcard, Namespace: Wildcard}, "")) {
		got[r.Id.Name] = r.Version
	}
	if !maps.Equal(got, want) {
		t.Fatalf("the published view changed: %d resources, want %d", len(got), len(want))
	}
	if now := s.view.Load().list(newQuery(artists, &pbresource.Tenancy{Partition: Wildcard, Namespace: Wildcard}, "")); len(now) != 300 {
		t.Fatalf("the new view has %d resources, want 300", len(now))
	}
}
