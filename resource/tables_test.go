package resource

import (
	"context"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestOwnerIndexFollowsOwnerChanges: moving a resource from one owner to
// another moves it in the owner index, and an older view keeps what it
// saw (the tables are persistent).
func TestOwnerIndexFollowsOwnerChanges(t *testing.T) {
	s, b := newLocal(t, Config{})
	ctx := context.Background()
	a := mustWrite(t, ctx, b, &pbresource.Resource{Id: testID("Artist", "a")})
	o := mustWrite(t, ctx, b, &pbresource.Resource{Id: testID("Artist", "o")})
	r := mustWrite(t, ctx, b, &pbresource.Resource{Id: testID("Album", "r"), Owner: a.Id})
	before := s.view.Load()
	r.Owner = o.Id
	mustWrite(t, ctx, b, r)
	owned := func(v *view, owner *pbresource.ID) int { return len(v.listByOwner(owner)) }
	now := s.view.Load()
	if owned(now, a.Id) != 0 || owned(now, o.Id) != 1 {
		t.Fatalf("after the move: a owns %d, o owns %d; want 0 and 1", owned(now, a.Id), owned(now, o.Id))
	}
	if owned(before, a.Id) != 1 || owned(before, o.Id) != 0 {
		t.Fatalf("the earlier view changed: a owns %d, o owns %d; want 1 and 0", owned(before, a.Id), owned(before, o.Id))
	}
}

// TestAnyEqualAgreesWithProtoEqual: the fast comparison behind the
// generation rule gives proto.Equal's answer.
func TestAnyEqualAgreesWithProtoEqual(t *testing.T) {
	withUnknown := &anypb.Any{TypeUrl: "t", Value: []byte("v")}
	withUnknown.ProtoReflect().SetUnknown([]byte{0xf8, 0x3e, 0x01}) // field 999, varint 1
	vals := []*anypb.Any{nil, {}, {TypeUrl: "t"}, {TypeUrl: "t", Value: []byte("v")}, {TypeUrl: "t", Value: []byte("w")},
		{TypeUrl: "u", Value: []byte("v")}, {Value: []byte{}}, withUnknown}
	for _, x := range vals {
		for _, y := range vals {
			if got, want := anyEqual(x, y), proto.Equal(x, y); got != want {
				t.Errorf("anyEqual(%v, %v) = %v, proto.Equal says %v", x, y, got, want)
			}
		}
	}
}
