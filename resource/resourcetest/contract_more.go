package resourcetest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/resource"
)

func clone[M proto.Message](m M) M { return proto.Clone(m).(M) }

const ulidA = "01HZZZZZZZZZZZZZZZZZZZZZZZ"

func testWriteStatus(e *env) {
	v1 := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "web"), Data: data("x")})
	s1 := &pbresource.Status{ObservedGeneration: v1.Generation, Conditions: []*pbresource.Condition{{Type: "Accepted", State: pbresource.Condition_STATE_TRUE}}}
	out, err := e.r(1).WriteStatus(e.ctx, v1.Id, "", "consul.io/a", s1)
	must(e.t, "status a", err)
	out, err = e.w().WriteStatus(e.ctx, out.Id, out.Version, "consul.io/b", &pbresource.Status{ObservedGeneration: ulidA})
	must(e.t, "status b with CAS", err)
	if out.Generation != v1.Generation || out.Version == v1.Version || !proto.Equal(out.Data, v1.Data) {
		e.t.Fatalf("status writes changed generation/data or kept the version: %v", out)
	}
	e.onEveryMember("read statuses", func(b Backend, c resource.ReadConsistency) error {
		got, err := b.Read(e.ctx, c, v1.Id)
		if err != nil {
			return err
		}
		a, bs := got.Status["consul.io/a"], got.Status["consul.io/b"]
		switch {
		case len(got.Status) != 2 || a == nil || bs == nil:
			return fmt.Errorf("statuses %v", got.Status)
		case a.ObservedGeneration != v1.Generation || len(a.Conditions) != 1 || a.Conditions[0].Type != "Accepted":
			return fmt.Errorf("status a is %v", a)
		case a.UpdatedAt == nil || bs.ObservedGeneration != ulidA:
			return fmt.Errorf("status a has no updated_at or b is %v", bs)
		}
		return nil
	})
}

func testWriteStatusErrors(e *env) {
	v1 := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "web")})
	st := &pbresource.Status{ObservedGeneration: v1.Generation}
	other := clone(v1.Id)
	other.Uid = "other"
	_, err := e.w().WriteStatus(e.ctx, other, "", "k", st)
	wantIs(e.t, "status naming another uid", err, resource.ErrWrongUid)
	missing := e.id("Album", "missing")
	missing.Uid = "u"
	_, err = e.r(1).WriteStatus(e.ctx, missing, "", "k", st)
	wantIs(e.t, "status of a missing resource", err, resource.ErrNotFound)
	_, err = e.w().WriteStatus(e.ctx, v1.Id, "999999999", "k", st)
	wantIs(e.t, "status with a wrong version", err, resource.ErrCASFailure)
	noUid := e.id("Album", "web")
	for what, call := range map[string]func() error{
		"no uid": func() error { _, err := e.w().WriteStatus(e.ctx, noUid, "", "k", st); return err },
		"no key": func() error { _, err := e.w().WriteStatus(e.ctx, v1.Id, "", "", st); return err },
		"no status": func() error {
			_, err := e.w().WriteStatus(e.ctx, v1.Id, "", "k", nil)
			return err
		},
		"bad observed generation": func() error {
			_, err := e.w().WriteStatus(e.ctx, v1.Id, "", "k", &pbresource.Status{ObservedGeneration: "nope"})
			return err
		},
		"condition without type": func() error {
			_, err := e.w().WriteStatus(e.ctx, v1.Id, "", "k", &pbresource.Status{ObservedGeneration: ulidA, Conditions: []*pbresource.Condition{{}}})
			return err
		},
	} {
		wantValidation(e.t, "status with "+what, call())
	}
	got, err := e.w().Read(e.ctx, resource.StrongConsistency, v1.Id)
	must(e.t, "read", err)
	if got.Version != v1.Version || len(got.Status) != 0 {
		e.t.Fatalf("failed status writes changed the resource: %v", got)
	}
}

func testDeleteCAS(e *env) {
	res := &pbresource.Resource{Id: e.id("Album", "web")}
	res.Id.Uid = "a"
	res = e.mustWrite(res)
	wantIs(e.t, "delete with no version", e.w().DeleteCAS(e.ctx, res.Id, ""), resource.ErrCASFailure)
	wantIs(e.t, "delete with a wrong version", e.r(1).DeleteCAS(e.ctx, res.Id, "some-version"), resource.ErrCASFailure)
	must(e.t, "delete", e.r(1).DeleteCAS(e.ctx, res.Id, res.Version))
	e.onEveryMember("read deleted", func(b Backend, c resource.ReadConsistency) error {
		_, err := b.Read(e.ctx, c, res.Id)
		return errIs(err, resource.ErrNotFound)
	})
}

func testDeleteUid(e *env) {
	res := &pbresource.Resource{Id: e.id("Album", "web")}
	res.Id.Uid = "a"
	res = e.mustWrite(res)
	id := clone(res.Id)
	id.Uid = "b"
	must(e.t, "delete another lifetime", e.w().DeleteCAS(e.ctx, id, res.Version))
	e.onEveryMember("read after deleting another lifetime", func(b Backend, c resource.ReadConsistency) error {
		_, err := b.Read(e.ctx, c, res.Id)
		return err
	})
}

func testDeleteMissing(e *env) {
	must(e.t, "delete missing", e.w().DeleteCAS(e.ctx, e.id("Album", "nothing"), "1"))
	res := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "web")})
	id := clone(res.Id)
	id.Type.GroupVersion = "v9"
	id.Uid = ""
	must(e.t, "delete with another group version and no uid", e.r(2).DeleteCAS(e.ctx, id, res.Version))
	e.onEveryMember("read deleted", func(b Backend, c resource.ReadConsistency) error {
		_, err := b.Read(e.ctx, c, res.Id)
		return errIs(err, resource.ErrNotFound)
	})
	for what, id := range e.badIDs() {
		wantValidation(e.t, "delete with "+what, e.w().DeleteCAS(e.ctx, id, "1"))
	}
}

// names returns the sorted "namespace/name" of rs.
func names(rs []*pbresource.Resource) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Id.Tenancy.GetPartition()+"/"+r.Id.Tenancy.GetNamespace()+"/"+r.Id.Name)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func testListByOwner(e *env) {
	owner := e.mustWrite(&pbresource.Resource{Id: e.id("Artist", "owner")})
	r1 := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "r1"), Owner: owner.Id})
	r2id := e.id("Album", "r2")
	r2id.Type.GroupVersion = "v2"
	r2 := e.mustWrite(&pbresource.Resource{Id: r2id, Owner: owner.Id})
	e.mustWrite(&pbresource.Resource{Id: e.id("Album", "unowned")})
	owned := func(id *pbresource.ID, want string) {
		e.t.Helper()
		e.onEveryMember("list by owner", func(b Backend, c resource.ReadConsistency) error {
			rs, err := b.ListByOwner(e.ctx, c, id)
			if err != nil {
				return err
			}
			if got := names(rs); got != want {
				return fmt.Errorf("owned %q, want %q", got, want)
			}
			return nil
		})
	}
	owned(owner.Id, "default/default/r1 default/default/r2")
	other := clone(owner.Id)
	other.Uid = "different"
	owned(other, "")
	must(e.t, "delete owner", e.w().DeleteCAS(e.ctx, owner.Id, owner.Version))
	owned(owner.Id, "default/default/r1 default/default/r2")
	must(e.t, "delete r2", e.w().DeleteCAS(e.ctx, r2.Id, r2.Version))
	owned(owner.Id, "default/default/r1")
	r1b := clone(r1)
	r1b.Owner = nil
	_, err := e.w().WriteCAS(e.ctx, r1b)
	must(e.t, "drop r1's owner", err)
	owned(owner.Id, "")
}

func testListByOwnerInvalid(e *env) {
	_, err := e.w().ListByOwner(e.ctx, resource.EventualConsistency, e.id("Artist", "o"))
	wantValidation(e.t, "list by an owner without uid", err)
	_, err = e.w().ListByOwner(e.ctx, resource.EventualConsistency, nil)
	wantValidation(e.t, "list by a nil owner", err)
}

// seed writes the data of Consul's List and WatchList table: kind Artist
// in three tenancies (and one of kind Album, and one Artist in group
// version v2) and returns them by short name.
func (e *env) seed(through Backend) map[string]*pbresource.Resource {
	mk := func(gv, kind, part, ns, name string) *pbresource.Resource {
		return &pbresource.Resource{Id: &pbresource.ID{Type: e.typ(gv, kind), Tenancy: &pbresource.Tenancy{Partition: part, Namespace: ns}, Name: name}}
	}
	in := map[string]*pbresource.Resource{
		"0": mk("v1", "Artist", "default", "default", "admin"),
		"1": mk("v1", "Artist", "default", "default", "api"),
		"2": mk("v2", "Artist", "default", "default", "web"),
		"3": mk("v1", "Artist", "billing", "default", "api"),
		"4": mk("v1", "Album", "default", "default", "admin"),
		"5": mk("v1", "Artist", "default", "ns1", "api"),
		"6": mk("v1", "Artist", "billing", "ns1", "web"),
	}
	out := map[string]*pbresource.Resource{}
	for _, k := range []string{"0", "1", "2", "3", "4", "5", "6"} {
		r, err := through.WriteCAS(e.ctx, in[k])
		must(e.t, "seed "+k, err)
		out[k] = r
	}
	return out
}

type listCase struct {
	tenancy *pbresource.Tenancy
	prefix  string
	want    []string // seed keys
}

var listCases = map[string]listCase{
	"fixed tenancy":                      {tenancyDefault, "", []string{"0", "1", "2"}},
	"other partition":                    {&pbresource.Tenancy{Partition: "billing", Namespace: "default"}, "", []string{"3"}},
	"fixed tenancy, name prefix":         {tenancyDefault, "a", []string{"0", "1"}},
	"wildcard tenancy":                   {wildcard, "", []string{"0", "1", "2", "3", "5", "6"}},
	"fixed partition, wildcard ns":       {&pbresource.Tenancy{Partition: "default", Namespace: "*"}, "", []string{"0", "1", "2", "5"}},
	"wildcard partition, fixed ns":       {&pbresource.Tenancy{Partition: "*", Namespace: "ns1"}, "", []string{"5", "6"}},
	"wildcard tenancy, name prefix":      {wildcard, "a", []string{"0", "1", "3", "5"}},
	"wildcard tenancy, prefix no match":  {wildcard, "zz", nil},
	"fixed partition, wildcard ns, pref": {&pbresource.Tenancy{Partition: "billing", Namespace: "*"}, "w", []string{"6"}},
}

func (e *env) want(seeded map[string]*pbresource.Resource, keys []string) string {
	var rs []*pbresource.Resource
	for _, k := range keys {
		rs = append(rs, seeded[k])
	}
	return names(rs)
}

func testListTable(e *env) {
	seeded := e.seed(e.w())
	for name, lc := range listCases {
		want := e.want(seeded, lc.want)
		e.onEveryMember("list "+name, func(b Backend, c resource.ReadConsistency) error {
			rs, err := b.List(e.ctx, c, e.utype("Artist"), lc.tenancy, lc.prefix)
			if err != nil {
				return err
			}
			if got := names(rs); got != want {
				return fmt.Errorf("listed %q, want %q", got, want)
			}
			for _, r := range rs {
				if r.Version == "" || r.Id.Uid == "" {
					return fmt.Errorf("listed %v without version or uid", r)
				}
			}
			return nil
		})
	}
}

func testListInvalid(e *env) {
	for what, q := range map[string]struct {
		t   resource.UnversionedType
		ten *pbresource.Tenancy
	}{
		"bad group":     {resource.UnversionedType{Group: "G", Kind: "Artist"}, wildcard},
		"bad kind":      {resource.UnversionedType{Group: e.group, Kind: "artist"}, wildcard},
		"bad partition": {e.utype("Artist"), &pbresource.Tenancy{Partition: "A", Namespace: "*"}},
	} {
		_, err := e.w().List(e.ctx, resource.EventualConsistency, q.t, q.ten, "")
		wantValidation(e.t, "list with "+what, err)
	}
}
