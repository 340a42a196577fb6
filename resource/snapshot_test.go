package resource

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/node"
)

func persist(t testing.TB, s *Store) []byte {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fillStore writes owners, owned resources, updates, statuses and deletes.
func fillStore(t testing.TB, b *Backend) {
	ctx := testCtx(t)
	owner := mustWrite(t, ctx, b, &pbresource.Resource{Id: testID("Artist", "owner"), Data: testData("o")})
	for _, n := range []string{"a", "b", "c"} {
		mustWrite(t, ctx, b, &pbresource.Resource{Id: testID("Album", n), Owner: owner.Id, Metadata: map[string]string{"n": n}})
	}
	x := mustWrite(t, ctx, b, &pbresource.Resource{Id: testID("Artist", "x")})
	x.Data = testData("x2")
	x = mustWrite(t, ctx, b, x)
	if _, err := b.WriteStatus(ctx, x.Id, "", "ctl", &pbresource.Status{ObservedGeneration: x.Generation}); err != nil {
		t.Fatal(err)
	}
	c, err := b.Read(ctx, EventualConsistency, testID("Album", "c"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteCAS(ctx, c.Id, c.Version); err != nil {
		t.Fatal(err)
	}
}

func allResources(t testing.TB, s *Store) []*pbresource.Resource {
	t.Helper()
	var out []*pbresource.Resource
	scan(s.view.Load().db.byID, "", func(r *pbresource.Resource) bool {
		out = append(out, r)
		return true
	})
	return out
}

func TestSnapshotRoundTrip(t *testing.T) {
	src, b := newLocal(t, Config{})
	fillStore(t, b)
	data := persist(t, src)

	dst, db := newLocal(t, Config{})
	if err := dst.ValidateSnapshot(bytes.NewReader(data)); err != nil {
		t.Fatalf("ValidateSnapshot: %v", err)
	}
	if err := dst.Restore(bytes.NewReader(data)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	want, got := allResources(t, src), allResources(t, dst)
	if len(want) != 4 || len(got) != len(want) {
		t.Fatalf("restored %d resources, want %d (4)", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(want[i], got[i]) {
			t.Fatalf("restored %v, want %v (uid, version, generation, owner, status must survive)", got[i], want[i])
		}
	}
	if src.Revision() != dst.Revision() || dst.Status().Resources != 4 || dst.Status().ByType["demo.Album"] != 2 {
		t.Fatalf("revision %d (want %d), status %+v", dst.Revision(), src.Revision(), dst.Status())
	}
	ctx := testCtx(t)
	owner, _ := db.Read(ctx, EventualConsistency, testID("Artist", "owner"))
	owned, err := db.ListByOwner(ctx, EventualConsistency, owner.Id)
	if err != nil || len(owned) != 2 {
		t.Fatalf("owner index after restore: %v, %v", owned, err)
	}
	// The watch history came along: resume from the start on the copy.
	sv, dv := src.view.Load(), dst.view.Load()
	if len(sv.hist) != len(dv.hist) || len(dv.hist) == 0 {
		t.Fatalf("history of %d events restored, want %d", len(dv.hist), len(sv.hist))
	}
	w, err := db.WatchList(ctx, artists, testTenancy, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, want := range []string{"x", "x", "x"} {
		if ev := nextEvent(t, w); ev.Resource.Id.Name != want || ev.Kind != Upsert {
			t.Fatalf("resumed event %s %s, want upsert %s", ev.Kind, ev.Resource.Id.Name, want)
		}
	}
	// And writes go on from the restored revision, keeping uids.
	x, _ := db.Read(ctx, EventualConsistency, testID("Artist", "x"))
	x2 := mustWrite(t, ctx, db, x)
	if x2.Version != "9" || x2.Id.Uid != x.Id.Uid {
		t.Fatalf("write after restore: version %s (want 9), uid %s (want %s)", x2.Version, x2.Id.Uid, x.Id.Uid)
	}
	// Persisting the same state again gives the same bytes.
	if again := persist(t, src); !bytes.Equal(again, data) {
		t.Fatal("persisting the same state twice gave different bytes")
	}
}

func TestRestoreEmpty(t *testing.T) {
	s, b := newLocal(t, Config{})
	fillStore(t, b)
	if err := s.Restore(bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.Resources != 0 || st.Revision != 0 || len(allResources(t, s)) != 0 {
		t.Fatalf("after an empty restore: %+v", st)
	}
}

func TestRestoreRefusesBadSections(t *testing.T) {
	src, b := newLocal(t, Config{})
	fillStore(t, b)
	good := persist(t, src)
	dup := append([]byte{}, good[:len(good)-1]...)
	dup = append(dup, tagResource)
	dup = appendProto(dup, allResources(t, src)[0])
	dup = append(dup, tagEnd)
	cases := map[string][]byte{
		"truncated":      good[:len(good)/2],
		"no end":         good[:len(good)-1],
		"trailing bytes": append(append([]byte{}, good...), 0),
		"bad version":    append([]byte{9}, good[1:]...),
		"unknown tag":    append(append([]byte{}, good[:len(good)-1]...), 77),
		"duplicate id":   dup,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			dst, db := newLocal(t, Config{})
			mustWrite(t, testCtx(t), db, &pbresource.Resource{Id: testID("Artist", "keep")})
			if err := dst.ValidateSnapshot(bytes.NewReader(data)); !errors.Is(err, node.ErrBadSnapshot) {
				t.Fatalf("ValidateSnapshot: %v, want node.ErrBadSnapshot", err)
			}
			if err := dst.Restore(bytes.NewReader(data)); err == nil {
				t.Fatal("Restore accepted it")
			}
			if r := allResources(t, dst); len(r) != 1 || r[0].Id.Name != "keep" || dst.Revision() != 1 {
				t.Fatalf("a refused restore changed the store: %v", r)
			}
		})
	}
}
