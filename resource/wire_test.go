package resource

import (
	"fmt"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// wireSamples are resources as writes carry them, and a few that the fast
// path must hand to proto.Unmarshal.
func wireSamples() []*pbresource.Resource {
	full := &pbresource.Resource{
		Id:         &pbresource.ID{Uid: ulidA, Name: "web", Type: &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"}, Tenancy: testTenancy},
		Owner:      &pbresource.ID{Uid: ulidA, Name: "owner", Type: &pbresource.Type{Group: "demo", GroupVersion: "v1", Kind: "Album"}, Tenancy: &pbresource.Tenancy{Partition: "p", Namespace: "n"}},
		Version:    "42",
		Generation: ulidA,
		Metadata:   map[string]string{"a": "1", "b": "", "": "empty key"},
		Data:       testData("some data"),
	}
	return []*pbresource.Resource{
		{},
		{Id: testID("Artist", "a")},
		{Id: &pbresource.ID{}, Data: &anypb.Any{}},
		{Id: &pbresource.ID{Type: &pbresource.Type{}, Tenancy: &pbresource.Tenancy{}}},
		full,
		// A status map is left to proto.Unmarshal.
		{Id: testID("Artist", "s"), Status: map[string]*pbresource.Status{"k": {ObservedGeneration: ulidA, UpdatedAt: timestamppb.New(timestamppb.Now().AsTime())}}},
	}
}

// TestDecodeResourceFastTakesWhatWritesCarry: the resources writes carry
// are decoded without proto.Unmarshal, and equal what it would give.
func TestDecodeResourceFastTakesWhatWritesCarry(t *testing.T) {
	for i, r := range wireSamples() {
		b, err := marshal.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, fast := decodeResourceFast(b, newInterner())
		if wantFast := len(r.Status) == 0; fast != wantFast {
			t.Errorf("sample %d: fast path %v, want %v", i, fast, wantFast)
		}
		if fast && !proto.Equal(got, r) {
			t.Errorf("sample %d: fast decode = %v, want %v", i, got, r)
		}
		if got, err := decodeResource(b, nil); err != nil || !proto.Equal(got, r) {
			t.Errorf("sample %d: decodeResource = %v, %v; want %v", i, got, err, r)
		}
	}
}

// TestDecodeResourceFastLeavesTheUnusual: input the fast path does not
// take, each of which proto.Unmarshal decodes in its own way.
func TestDecodeResourceFastLeavesTheUnusual(t *testing.T) {
	id, _ := marshal.Marshal(testID("Artist", "a"))
	field := func(n protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, n, protowire.BytesType), v)
	}
	cases := map[string][]byte{
		"repeated id (merged)":         append(field(1, id), field(1, id)...),
		"unknown field":                field(9, []byte("x")),
		"known field, other wire type": protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 7),
		"invalid UTF-8 version":        field(3, []byte{0xff}),
		"invalid UTF-8 kind":           field(1, field(3, field(3, []byte{0xc3}))),
		"duplicate metadata key":       append(field(5, field(1, []byte("k"))), field(5, field(1, []byte("k")))...),
		"status":                       field(6, field(1, []byte("k"))),
		"unknown field in data":        field(7, field(3, nil)),
		"truncated":                    field(1, id)[:4],
	}
	for name, b := range cases {
		if r, fast := decodeResourceFast(b, newInterner()); fast {
			t.Errorf("%s: fast path took it: %v", name, r)
		}
		checkLikeUnmarshal(t, name, b)
	}
}

// TestInternerSharesValidStrings: a repeated type string is shared, and
// invalid UTF-8 is refused even once interned strings exist.
func TestInternerSharesValidStrings(t *testing.T) {
	in := newInterner()
	a, _ := in.str([]byte("demo"))
	b, _ := in.str([]byte("demo"))
	if a != b || len(in.m) != 1 {
		t.Fatalf("interned %q and %q, table %v", a, b, in.m)
	}
	if _, ok := in.str([]byte{0xff}); ok || len(in.m) != 1 {
		t.Fatalf("invalid UTF-8 accepted or kept: %v", in.m)
	}
	if allocs := testing.AllocsPerRun(100, func() { in.str([]byte("demo")) }); allocs != 0 {
		t.Fatalf("a shared string costs %v allocations", allocs)
	}
	// The table is bounded: in count, and in the length of what it keeps.
	if s, ok := in.str(make([]byte, maxInternedLen+1)); !ok || len(s) != maxInternedLen+1 || len(in.m) != 1 {
		t.Fatalf("a long string: %d bytes, ok %v, table of %d", len(s), ok, len(in.m))
	}
	for i := range 2 * maxInterned {
		if s, ok := in.str(fmt.Appendf(nil, "t%d", i)); !ok || s != fmt.Sprintf("t%d", i) {
			t.Fatalf("string %d came back as %q, %v", i, s, ok)
		}
	}
	if len(in.m) != maxInterned {
		t.Fatalf("table holds %d strings, want the cap %d", len(in.m), maxInterned)
	}
}

// checkLikeUnmarshal: decodeResource(b) fails exactly when proto.Unmarshal
// does, and otherwise gives an equal resource.
func checkLikeUnmarshal(t *testing.T, name string, b []byte) {
	t.Helper()
	want := &pbresource.Resource{}
	wantErr := proto.Unmarshal(b, want)
	got, err := decodeResource(b, newInterner())
	switch {
	case (err == nil) != (wantErr == nil):
		t.Errorf("%s: decodeResource error %v, proto.Unmarshal error %v", name, err, wantErr)
	case err == nil && !proto.Equal(got, want):
		t.Errorf("%s: decodeResource = %v, proto.Unmarshal = %v", name, got, want)
	}
}

// FuzzDecodeResource holds decodeResource to proto.Unmarshal on any input.
func FuzzDecodeResource(f *testing.F) {
	for _, r := range wireSamples() {
		b, _ := marshal.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLikeUnmarshal(t, "input", b)
	})
}
