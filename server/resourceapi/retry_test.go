package resourceapi

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/resource"
)

// casLoser is a Backend whose WriteStatus loses the race a set number of
// times. A fake, because a real cluster cannot be made to lose a race on
// demand; everything else is tested on real clusters.
type casLoser struct {
	Backend
	losses, writes int
}

func (b *casLoser) WriteStatus(_ context.Context, id *pbresource.ID, _, _ string, _ *pbresource.Status) (*pbresource.Resource, error) {
	b.writes++
	if b.writes <= b.losses {
		return nil, resource.ErrCASFailure
	}
	return &pbresource.Resource{Id: id}, nil
}

// TestStatusRetriesLostCASBounded: a status write without a version is
// retried while it loses compare-and-swap races, CASRetries attempts in
// all; with a version it is tried once.
func TestStatusRetriesLostCASBounded(t *testing.T) {
	req := &pbresource.WriteStatusRequest{
		Id:     &pbresource.ID{Type: &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"}, Name: "x", Uid: "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
		Key:    "consul.io/artist-controller",
		Status: &pbresource.Status{ObservedGeneration: "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
	}
	for _, tc := range []struct {
		losses, writes int
		ok             bool
	}{{0, 1, true}, {4, 5, true}, {5, 5, false}, {50, 5, false}} {
		b := &casLoser{losses: tc.losses}
		a, err := New(Config{Backend: b})
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.writeStatus(context.Background(), req)
		if tc.ok != (err == nil) || b.writes != tc.writes {
			t.Errorf("%d losses: %d writes, err %v; want %d writes, ok=%v", tc.losses, b.writes, err, tc.writes, tc.ok)
		}
		if !tc.ok && !errors.Is(err, resource.ErrCASFailure) {
			t.Errorf("%d losses: err %v, want ErrCASFailure", tc.losses, err)
		}
	}
	// With a version the caller's CAS is tried once.
	b := &casLoser{losses: 1}
	a, _ := New(Config{Backend: b})
	withVersion := proto.Clone(req).(*pbresource.WriteStatusRequest)
	withVersion.Version = "3"
	if _, err := a.writeStatus(context.Background(), withVersion); !errors.Is(err, resource.ErrCASFailure) || b.writes != 1 {
		t.Errorf("status write naming a version: err %v after %d writes, want ErrCASFailure after 1", err, b.writes)
	}
}
