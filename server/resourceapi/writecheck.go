package resourceapi

import (
	"context"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

// WriteChecker is a Backend that can tell, without writing, whether the
// caller in ctx may write the resource id names: the auth wrapper of the
// agent is one. MutateAndValidate asks it, so that a dry run of a write
// is authorised like the write (a user learns nothing from it that the
// write would not tell).
type WriteChecker interface {
	CheckWrite(ctx context.Context, id *pbresource.ID) error
}

// checkWrite asks the backend whether ctx's caller may write id; nil if
// the backend does not check permissions.
func (a *API) checkWrite(ctx context.Context, id *pbresource.ID) error {
	if wc, ok := a.cfg.Backend.(WriteChecker); ok {
		return wc.CheckWrite(ctx, id)
	}
	return nil
}
