package resourcetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/resource"
)

// next returns w's next event, failing the test after the deadline.
func (e *env) next(w Watch) resource.Event {
	e.t.Helper()
	d := e.deadline
	if d == 0 {
		d = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(e.ctx, d)
	defer cancel()
	ev, err := w.Next(ctx)
	if err != nil {
		e.t.Fatalf("watch Next: %v", err)
	}
	return ev
}

// snapshot reads w's initial snapshot up to EndOfSnapshot.
func (e *env) snapshot(w Watch) ([]*pbresource.Resource, uint64) {
	e.t.Helper()
	var rs []*pbresource.Resource
	for {
		ev := e.next(w)
		switch ev.Kind {
		case resource.EndOfSnapshot:
			for _, r := range rs {
				if v := versionNum(e.t, r.Version); v > ev.Version {
					e.t.Fatalf("snapshot at %d holds %s at version %d", ev.Version, r.Id.Name, v)
				}
			}
			return rs, ev.Version
		case resource.Upsert:
			rs = append(rs, ev.Resource)
		default:
			e.t.Fatalf("%s event in the initial snapshot", ev.Kind)
		}
	}
}

func (e *env) watch(b Backend, t resource.UnversionedType, ten *pbresource.Tenancy, prefix string, from uint64) Watch {
	e.t.Helper()
	w, err := b.WatchList(e.ctx, t, ten, prefix, from)
	must(e.t, "WatchList", err)
	e.t.Cleanup(w.Close)
	return w
}

func testWatchSnapshot(e *env) {
	seeded := e.seed(e.w())
	i := 0
	for name, lc := range listCases {
		b := e.r(i)
		i++
		// A watch may start on a member that has not applied the seed
		// yet: a strong List first makes it catch up.
		_, err := b.List(e.ctx, resource.StrongConsistency, e.utype("Artist"), wildcard, "")
		must(e.t, "strong list", err)
		w := e.watch(b, e.utype("Artist"), lc.tenancy, lc.prefix, 0)
		rs, _ := e.snapshot(w)
		if got, want := names(rs), e.want(seeded, lc.want); got != want {
			e.t.Fatalf("%s: snapshot %q, want %q", name, got, want)
		}
		w.Close()
	}
}

func testWatchFollowing(e *env) {
	for name, lc := range listCases {
		if len(lc.want) == 0 {
			continue
		}
		e.t.Run(name, func(t *testing.T) {
			e := e.sub(t)
			b := e.r(1) // a member that did not propose the writes
			w := e.watch(b, e.utype("Artist"), lc.tenancy, lc.prefix, 0)
			if rs, _ := e.snapshot(w); len(rs) != 0 {
				t.Fatalf("snapshot of an empty group: %v", names(rs))
			}
			seeded := e.seed(e.w())
			want := map[string]bool{}
			for _, k := range lc.want {
				want[seeded[k].Id.Name+"@"+seeded[k].Id.Tenancy.String()] = true
			}
			var last uint64
			for range lc.want {
				ev := e.next(w)
				key := ev.Resource.GetId().GetName() + "@" + ev.Resource.GetId().GetTenancy().String()
				if ev.Kind != resource.Upsert || !want[key] || ev.Version <= last {
					t.Fatalf("event %s %s at %d (after %d), want one of %v", ev.Kind, key, ev.Version, last, want)
				}
				delete(want, key)
				last = ev.Version
				// Monotonic reads: the member that sent the event has it.
				got, err := b.Read(e.ctx, resource.EventualConsistency, ev.Resource.Id)
				must(t, "read after event", err)
				if got.Version != ev.Resource.Version {
					t.Fatalf("read version %s after an event of version %s", got.Version, ev.Resource.Version)
				}
			}
			del := seeded[lc.want[len(lc.want)-1]]
			must(t, "delete", e.w().DeleteCAS(e.ctx, del.Id, del.Version))
			ev := e.next(w)
			if ev.Kind != resource.Delete || ev.Resource.GetVersion() != del.Version || !sameContent(ev.Resource, del) || ev.Version <= last {
				t.Fatalf("after delete: event %s %v at %d, want delete of %v", ev.Kind, ev.Resource, ev.Version, del)
			}
			_, err := b.Read(e.ctx, resource.EventualConsistency, del.Id)
			wantIs(t, "read after delete event", err, resource.ErrNotFound)
		})
	}
}

// testWatchResume writes a history, watches part of it, and resumes on
// every member from every version seen: each resumed watch must send
// exactly the rest, in order.
func testWatchResume(e *env) {
	w := e.watch(e.w(), e.utype("Album"), wildcard, "", 0)
	_, start := e.snapshot(w)
	a := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "a")})
	b := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "b")})
	e.mustWrite(&pbresource.Resource{Id: e.id("Artist", "not-watched")})
	a2, err := e.r(1).WriteCAS(e.ctx, a)
	must(e.t, "update a", err)
	must(e.t, "delete b", e.r(2).DeleteCAS(e.ctx, b.Id, b.Version))
	_, err = e.w().WriteStatus(e.ctx, a2.Id, "", "k", &pbresource.Status{ObservedGeneration: a2.Generation})
	must(e.t, "status a", err)
	var seen []resource.Event
	for range 4 {
		seen = append(seen, e.next(w))
	}
	w.Close()
	kinds := fmt.Sprintf("%s %s %s %s", seen[0].Kind, seen[1].Kind, seen[2].Kind, seen[3].Kind)
	if kinds != "upsert upsert upsert delete" {
		e.t.Fatalf("events %s, want upsert a, upsert b, upsert a, delete b", kinds)
	}
	versions := []uint64{start}
	for _, ev := range seen {
		versions = append(versions, ev.Version)
	}
	last := e.next(e.watch(e.w(), e.utype("Album"), wildcard, "", versions[len(versions)-1]))
	if last.Kind != resource.Upsert || len(last.Resource.Status) != 1 {
		e.t.Fatalf("after the delete: %s %v, want the status upsert", last.Kind, last.Resource)
	}
	all := append(seen, last)
	for i, bk := range e.bs {
		for j, from := range versions {
			rw := e.watch(bk, e.utype("Album"), wildcard, "", from)
			for _, want := range all[j:] {
				got := e.next(rw)
				if got.Kind != want.Kind || got.Version != want.Version || got.Resource.GetVersion() != want.Resource.GetVersion() {
					e.t.Fatalf("member %d resumed from %d: got %s@%d, want %s@%d", i, from, got.Kind, got.Version, want.Kind, want.Version)
				}
			}
			// Nothing more: a write of another kind must not show, the
			// next write of this kind must come right after.
			c := e.mustWrite(&pbresource.Resource{Id: e.id("Album", fmt.Sprintf("c%d-%d", i, j))})
			if got := e.next(rw); got.Resource.GetVersion() != c.Version {
				e.t.Fatalf("member %d resumed from %d: got %s of %s, want the upsert of %s", i, from, got.Kind, got.Resource.GetVersion(), c.Version)
			}
			rw.Close()
			all = append(all, resource.Event{Kind: resource.Upsert, Resource: c, Version: versionNum(e.t, c.Version)})
		}
	}
}

func testWatchInvalid(e *env) {
	_, err := e.w().WatchList(e.ctx, resource.UnversionedType{Group: "G", Kind: "Artist"}, wildcard, "", 0)
	wantValidation(e.t, "watch with a bad group", err)
	_, err = e.w().WatchList(e.ctx, e.utype("Artist"), &pbresource.Tenancy{Partition: "-", Namespace: "*"}, "", 0)
	wantValidation(e.t, "watch with a bad partition", err)
}
