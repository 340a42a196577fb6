package resourceapi

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/resource"
)

// casLoser is a Backend whose WriteCAS loses the race a set number of
// times. A fake, because a real cluster cannot be made to lose a race on
// demand; everything else is tested on real clusters.
type casLoser struct {
	Backend
	losses, writes int
}

func (b *casLoser) Read(context.Context, resource.ReadConsistency, *pbresource.ID) (*pbresource.Resource, error) {
	return nil, resource.ErrNotFound
}

func (b *casLoser) WriteCAS(_ context.Context, res *pbresource.Resource) (*pbresource.Resource, error) {
	b.writes++
	if b.writes <= b.losses {
		return nil, resource.ErrCASFailure
	}
	return res, nil
}

func TestWriteRetriesLostCASBounded(t *testing.T) {
	for _, tc := range []struct {
		losses, writes int
		ok             bool
	}{{0, 1, true}, {4, 5, true}, {5, 5, false}, {50, 5, false}} {
		b := &casLoser{losses: tc.losses}
		a, err := New(Config{Backend: b})
		if err != nil {
			t.Fatal(err)
		}
		res := &pbresource.Resource{Id: &pbresource.ID{Type: &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"}, Name: "x"}}
		_, err = a.write(context.Background(), res, false)
		if tc.ok != (err == nil) || b.writes != tc.writes {
			t.Errorf("%d losses: %d writes, err %v; want %d writes, ok=%v", tc.losses, b.writes, err, tc.writes, tc.ok)
		}
		if !tc.ok && !errors.Is(err, resource.ErrCASFailure) {
			t.Errorf("%d losses: err %v, want ErrCASFailure", tc.losses, err)
		}
		// With a version the caller's CAS is tried once.
		b = &casLoser{losses: 1}
		a, _ = New(Config{Backend: b})
		res.Version = "3"
		if _, err := a.write(context.Background(), res, false); !errors.Is(err, resource.ErrCASFailure) || b.writes != 0 {
			t.Errorf("CAS write of a missing resource: err %v after %d writes", err, b.writes)
		}
		res.Version = ""
	}
}
