package agent

import (
	"context"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/auth"
)

// Write is WriteCAS's check for resourceapi's one-entry Write (Consul's
// write conventions decided in apply): write permission on the resource's
// key. Kept beside face_resource_auth.go so the resource work does not
// edit that file.
func (b resourceAuthBackend) Write(ctx context.Context, res *pbresource.Resource) (*pbresource.Resource, error) {
	ctx = b.stamped(ctx) // auth_stamp.go
	if err := b.check(ctx, auth.OpWrite, idKey(res.GetId()), nil); err != nil {
		return nil, err
	}
	return b.next.Write(ctx, res)
}
