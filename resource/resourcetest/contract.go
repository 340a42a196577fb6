package resourcetest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/concord-db/concord/resource"
)

// RunContract runs every case of the contract against the backends o
// returns.
func RunContract(t *testing.T, o Options) {
	if o.Backends == nil {
		t.Fatal("resourcetest: Options.Backends is required")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(newEnv(t, o)) })
	}
}

type contractCase struct {
	name string
	run  func(e *env)
}

// cases is the contract, in the order of Consul's storage conformance
// suite (Read, CAS Write, CAS Delete, OwnerReferences, List, WatchList),
// then what concord adds: WriteStatus, generations, validation, strong
// reads on every member and resumable watches.
var cases = []contractCase{
	{"Read/simple", testReadSimple},
	{"Read/no uid", testReadNoUid},
	{"Read/different id", testReadDifferentID},
	{"Read/different uid", testReadDifferentUid},
	{"Read/different group version", testReadGroupVersion},
	{"Read/invalid id", testReadInvalid},
	{"WriteCAS/version-based CAS", testWriteCAS},
	{"WriteCAS/uid immutability", testUidImmutable},
	{"WriteCAS/uid assigned and renewed on re-create", testUidAssigned},
	{"WriteCAS/versions increase", testVersionsIncrease},
	{"WriteCAS/generation", testGeneration},
	{"WriteCAS/status kept and not written", testWriteKeepsStatus},
	{"WriteCAS/other group version overwrites", testWriteOtherGroupVersion},
	{"WriteCAS/bad input writes nothing", testWriteInvalid},
	{"WriteStatus/one key", testWriteStatus},
	{"WriteStatus/errors", testWriteStatusErrors},
	{"DeleteCAS/version-based CAS", testDeleteCAS},
	{"DeleteCAS/uid must match", testDeleteUid},
	{"DeleteCAS/missing and any group version", testDeleteMissing},
	{"ListByOwner", testListByOwner},
	{"ListByOwner/owner needs uid", testListByOwnerInvalid},
	{"List/table", testListTable},
	{"List/bad input", testListInvalid},
	{"WatchList/initial snapshot", testWatchSnapshot},
	{"WatchList/following events", testWatchFollowing},
	{"WatchList/resume on every member", testWatchResume},
	{"WatchList/bad input", testWatchInvalid},
}

func data(s string) *anypb.Any {
	a, err := anypb.New(wrapperspb.String(s))
	if err != nil {
		panic(err)
	}
	return a
}

func testReadSimple(e *env) {
	res := &pbresource.Resource{Id: e.id("Artist", "web"), Data: data("x"), Metadata: map[string]string{"k": "v"}}
	res.Id.Uid = "a"
	out := e.mustWrite(res)
	if !sameContent(res, out) || out.Version == "" || out.Generation == "" {
		e.t.Fatalf("WriteCAS returned %v for %v", out, res)
	}
	e.onEveryMember("read", func(b Backend, c resource.ReadConsistency) error {
		got, err := b.Read(e.ctx, c, res.Id)
		if err != nil {
			return err
		}
		if !sameContent(res, got) || got.Version != out.Version || got.Generation != out.Generation {
			return fmt.Errorf("read %v, wrote %v", got, out)
		}
		return nil
	})
}

func testReadNoUid(e *env) {
	out := e.mustWrite(&pbresource.Resource{Id: e.id("Artist", "web")})
	id := e.id("Artist", "web")
	e.onEveryMember("read without uid", func(b Backend, c resource.ReadConsistency) error {
		got, err := b.Read(e.ctx, c, id)
		if err != nil {
			return err
		}
		if got.Id.Uid != out.Id.Uid || got.Version != out.Version {
			return fmt.Errorf("read %v, wrote %v", got, out)
		}
		return nil
	})
}

func testReadDifferentID(e *env) {
	e.mustWrite(&pbresource.Resource{Id: e.id("Artist", "web")})
	for _, id := range []*pbresource.ID{e.id("Artist", "different"), e.id("Album", "web"),
		{Type: e.typ("v1", "Artist"), Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "other"}, Name: "web"}} {
		e.onEveryMember("read another id", func(b Backend, c resource.ReadConsistency) error {
			_, err := b.Read(e.ctx, c, id)
			return errIs(err, resource.ErrNotFound)
		})
	}
}

func testReadDifferentUid(e *env) {
	out := e.mustWrite(&pbresource.Resource{Id: e.id("Artist", "web")})
	id := e.id("Artist", "web")
	id.Uid = out.Id.Uid + "x"
	e.onEveryMember("read another uid", func(b Backend, c resource.ReadConsistency) error {
		_, err := b.Read(e.ctx, c, id)
		return errIs(err, resource.ErrNotFound)
	})
}

func testReadGroupVersion(e *env) {
	out := e.mustWrite(&pbresource.Resource{Id: e.id("Artist", "web"), Data: data("v1 form")})
	id := e.id("Artist", "web")
	id.Type.GroupVersion = "v2"
	e.onEveryMember("read with group version v2", func(b Backend, c resource.ReadConsistency) error {
		_, err := b.Read(e.ctx, c, id)
		var gv resource.GroupVersionMismatchError
		if !errors.As(err, &gv) {
			return fmt.Errorf("got %v, want a GroupVersionMismatchError", err)
		}
		if gv.RequestedType.GroupVersion != "v2" || gv.Stored.GetVersion() != out.Version || !sameContent(gv.Stored, out) {
			return fmt.Errorf("mismatch error carries %v / %v, stored %v", gv.RequestedType, gv.Stored, out)
		}
		return nil
	})
}

// badIDs are IDs Consul's resource service refuses.
func (e *env) badIDs() map[string]*pbresource.ID {
	mk := func(edit func(*pbresource.ID)) *pbresource.ID {
		id := e.id("Artist", "web")
		edit(id)
		return id
	}
	return map[string]*pbresource.ID{
		"no type":          mk(func(id *pbresource.ID) { id.Type = nil }),
		"upper case group": mk(func(id *pbresource.ID) { id.Type.Group = "Demo" }),
		"bad version":      mk(func(id *pbresource.ID) { id.Type.GroupVersion = "1" }),
		"lower case kind":  mk(func(id *pbresource.ID) { id.Type.Kind = "artist" }),
		"no name":          mk(func(id *pbresource.ID) { id.Name = "" }),
		"upper case name":  mk(func(id *pbresource.ID) { id.Name = "Web" }),
		"dotted name":      mk(func(id *pbresource.ID) { id.Name = "a.b" }),
		"long name":        mk(func(id *pbresource.ID) { id.Name = strings.Repeat("a", 64) }),
		"name ends in -":   mk(func(id *pbresource.ID) { id.Name = "web-" }),
		"bad partition":    mk(func(id *pbresource.ID) { id.Tenancy.Partition = "a_b" }),
		"bad namespace":    mk(func(id *pbresource.ID) { id.Tenancy.Namespace = "-x" }),
		"wildcard tenancy": mk(func(id *pbresource.ID) { id.Tenancy.Namespace = "*" }),
	}
}

func testReadInvalid(e *env) {
	for what, id := range e.badIDs() {
		_, err := e.r(1).Read(e.ctx, resource.StrongConsistency, id)
		wantValidation(e.t, "read with "+what, err)
	}
}

func testWriteCAS(e *env) {
	v1 := &pbresource.Resource{Id: e.id("Album", "web")}
	v1.Id.Uid = "a"
	v1.Version = "some-version"
	_, err := e.w().WriteCAS(e.ctx, v1)
	wantIs(e.t, "create with a version", err, resource.ErrCASFailure)

	v1.Version = ""
	v1 = e.mustWrite(v1)
	v2, err := e.w().WriteCAS(e.ctx, v1)
	must(e.t, "update with the stored version", err)
	if v2.Version == "" || v2.Version == v1.Version {
		e.t.Fatalf("update kept version %q (was %q)", v2.Version, v1.Version)
	}
	v3 := clone(v2)
	v3.Version = ""
	_, err = e.w().WriteCAS(e.ctx, v3)
	wantIs(e.t, "create over an existing resource", err, resource.ErrCASFailure)
	v3.Version = v1.Version
	_, err = e.r(1).WriteCAS(e.ctx, v3)
	wantIs(e.t, "update with a stale version (through another member)", err, resource.ErrCASFailure)
	e.onEveryMember("read after failed CAS", func(b Backend, c resource.ReadConsistency) error {
		got, err := b.Read(e.ctx, c, v2.Id)
		if err == nil && got.Version != v2.Version {
			err = fmt.Errorf("version %s, want %s", got.Version, v2.Version)
		}
		return err
	})
}

func testUidImmutable(e *env) {
	res := &pbresource.Resource{Id: e.id("Album", "web")}
	res.Id.Uid = "a"
	v1 := e.mustWrite(res)
	v2 := clone(v1)
	v2.Id.Uid = ""
	if _, err := e.w().WriteCAS(e.ctx, v2); err == nil {
		e.t.Fatal("an update without the uid succeeded")
	}
	v2.Id.Uid = "b"
	_, err := e.r(1).WriteCAS(e.ctx, v2)
	wantIs(e.t, "update naming another uid", err, resource.ErrWrongUid)
	v2.Id.Uid = v1.Id.Uid
	v2, err = e.w().WriteCAS(e.ctx, v2)
	must(e.t, "update naming the uid", err)
	must(e.t, "delete", e.w().DeleteCAS(e.ctx, v2.Id, v2.Version))
	v3 := clone(v2)
	v3.Id.Uid, v3.Version = "b", ""
	v3, err = e.w().WriteCAS(e.ctx, v3)
	must(e.t, "re-create with another uid", err)
	if v3.Id.Uid != "b" {
		e.t.Fatalf("re-created with uid %q, want b", v3.Id.Uid)
	}
}

func testUidAssigned(e *env) {
	v1 := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "web")})
	if len(v1.Id.Uid) != 26 {
		e.t.Fatalf("assigned uid %q is not a ULID", v1.Id.Uid)
	}
	must(e.t, "delete", e.r(1).DeleteCAS(e.ctx, v1.Id, v1.Version))
	v2 := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "web")})
	if v2.Id.Uid == "" || v2.Id.Uid == v1.Id.Uid {
		e.t.Fatalf("re-created resource has uid %q, first lifetime had %q", v2.Id.Uid, v1.Id.Uid)
	}
	old := clone(v1.Id)
	e.onEveryMember("read the first lifetime", func(b Backend, c resource.ReadConsistency) error {
		_, err := b.Read(e.ctx, c, old)
		return errIs(err, resource.ErrNotFound)
	})
}

func versionNum(t *testing.T, v string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("version %q is not a revision: %v", v, err)
	}
	return n
}

func testVersionsIncrease(e *env) {
	a := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "a")})
	b := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "b")})
	a2, err := e.r(2).WriteCAS(e.ctx, a)
	must(e.t, "update a", err)
	va, vb, va2 := versionNum(e.t, a.Version), versionNum(e.t, b.Version), versionNum(e.t, a2.Version)
	if !(va < vb && vb < va2) {
		e.t.Fatalf("versions %d, %d, %d do not increase", va, vb, va2)
	}
}

func testGeneration(e *env) {
	g := func(r *pbresource.Resource) string { return r.Generation }
	v1 := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "web"), Data: data("1"), Metadata: map[string]string{"a": "1"}})
	same, err := e.w().WriteCAS(e.ctx, v1)
	must(e.t, "identical write", err)
	if g(same) != g(v1) || same.Version == v1.Version {
		e.t.Fatalf("identical write: generation %q->%q, version %q->%q", g(v1), g(same), v1.Version, same.Version)
	}
	st, err := e.w().WriteStatus(e.ctx, same.Id, "", "ctl", &pbresource.Status{ObservedGeneration: same.Generation})
	must(e.t, "status write", err)
	if g(st) != g(v1) {
		e.t.Fatalf("status write changed the generation %q->%q", g(v1), g(st))
	}
	prev := st
	for what, edit := range map[string]func(*pbresource.Resource){
		"data":     func(r *pbresource.Resource) { r.Data = data("2") },
		"metadata": func(r *pbresource.Resource) { r.Metadata = map[string]string{"a": "2"} },
		"owner": func(r *pbresource.Resource) {
			r.Owner = &pbresource.ID{Type: e.typ("v1", "Artist"), Tenancy: tenancyDefault, Name: "o", Uid: "u"}
		},
	} {
		in := clone(prev)
		edit(in)
		out, err := e.r(1).WriteCAS(e.ctx, in)
		must(e.t, "write changing "+what, err)
		if g(out) == g(prev) || len(g(out)) != 26 {
			e.t.Fatalf("writing new %s left generation %q (was %q)", what, g(out), g(prev))
		}
		prev = out
	}
}

func testWriteKeepsStatus(e *env) {
	v1 := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "web"),
		Status: map[string]*pbresource.Status{"sneaky": {ObservedGeneration: "x"}}})
	if len(v1.Status) != 0 {
		e.t.Fatalf("WriteCAS stored a status: %v", v1.Status)
	}
	st, err := e.w().WriteStatus(e.ctx, v1.Id, v1.Version, "ctl", &pbresource.Status{ObservedGeneration: v1.Generation})
	must(e.t, "status write", err)
	in := clone(st)
	in.Status = nil
	in.Data = data("new")
	out, err := e.w().WriteCAS(e.ctx, in)
	must(e.t, "update", err)
	if out.Status["ctl"].GetObservedGeneration() != v1.Generation {
		e.t.Fatalf("update lost the stored status: %v", out.Status)
	}
}

func testWriteOtherGroupVersion(e *env) {
	v1 := e.mustWrite(&pbresource.Resource{Id: e.id("Album", "web"), Data: data("v1")})
	v2 := clone(v1)
	v2.Id.Type.GroupVersion = "v2"
	v2.Data = data("v2")
	out, err := e.w().WriteCAS(e.ctx, v2)
	must(e.t, "overwrite with v2", err)
	if out.Id.Uid != v1.Id.Uid || out.Generation == v1.Generation {
		e.t.Fatalf("v2 overwrite: uid %q (was %q), generation %q (was %q)", out.Id.Uid, v1.Id.Uid, out.Generation, v1.Generation)
	}
	e.onEveryMember("read as v2", func(b Backend, c resource.ReadConsistency) error {
		got, err := b.Read(e.ctx, c, out.Id)
		if err == nil && got.Version != out.Version {
			err = fmt.Errorf("version %s, want %s", got.Version, out.Version)
		}
		return err
	})
}

func testWriteInvalid(e *env) {
	bad := map[string]*pbresource.Resource{}
	for what, id := range e.badIDs() {
		bad[what] = &pbresource.Resource{Id: id}
	}
	bad["nil resource"] = nil
	bad["no id"] = &pbresource.Resource{}
	bad["owner without uid"] = &pbresource.Resource{Id: e.id("Album", "web"),
		Owner: &pbresource.ID{Type: e.typ("v1", "Artist"), Tenancy: tenancyDefault, Name: "o"}}
	bad["owner with a bad name"] = &pbresource.Resource{Id: e.id("Album", "web"),
		Owner: &pbresource.ID{Type: e.typ("v1", "Artist"), Tenancy: tenancyDefault, Name: "O", Uid: "u"}}
	bad["data with an empty type_url"] = &pbresource.Resource{Id: e.id("Album", "web"), Data: &anypb.Any{Value: []byte{1}}}
	bad["data with a bad type_url"] = &pbresource.Resource{Id: e.id("Album", "web"), Data: &anypb.Any{TypeUrl: "type.googleapis.com/not a name"}}
	if m := e.opts.MaxResourceBytes; m > 0 {
		bad["oversized"] = &pbresource.Resource{Id: e.id("Album", "web"), Data: &anypb.Any{TypeUrl: "type.googleapis.com/google.protobuf.BytesValue", Value: make([]byte, m)}}
	}
	for what, res := range bad {
		_, err := e.r(1).WriteCAS(e.ctx, res)
		wantValidation(e.t, "write with "+what, err)
	}
	list, err := e.w().List(e.ctx, resource.StrongConsistency, e.utype("Album"), wildcard, "")
	must(e.t, "list", err)
	if len(list) != 0 {
		e.t.Fatalf("bad writes stored %v", list)
	}
}
