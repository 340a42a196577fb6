package resourceapi

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/resource"
)

// write stores res as Consul's resource service does. Every write is a
// compare-and-swap in the store: with a version it is the caller's; without
// one the current version is read and the write retried (up to CASRetries
// times, with a short backoff) when another writer got in between. The uid
// is filled in on create and kept on update, and statuses are carried over
// from the stored resource (only WriteStatus changes them).
//
// strict (StrictCASKey) skips all that: the store's WriteCAS as it is.
func (a *API) write(ctx context.Context, in *pbresource.Resource, strict bool) (*pbresource.Resource, error) {
	if err := a.checkResource(in); err != nil {
		return nil, err
	}
	if strict {
		return a.cfg.Backend.WriteCAS(ctx, in)
	}
	// A caller naming a version may have got it from another member: the
	// stored resource is then read after the read barrier, or a member
	// that has not applied that version yet would refuse a correct CAS.
	// Without a version a stale read only costs a CAS retry.
	consistency := resource.EventualConsistency
	if in.Version != "" {
		consistency = resource.StrongConsistency
	}
	var out *pbresource.Resource
	err := a.retryCAS(ctx, in.Version, func() error {
		res := proto.Clone(in).(*pbresource.Resource)
		existing, err := a.readCurrent(ctx, consistency, res.Id)
		switch {
		case errors.Is(err, resource.ErrNotFound):
			if res.Version != "" {
				// A CAS write of a resource that is gone.
				return resource.ErrCASFailure
			}
			res.Status = nil // the store gives a new resource a uid
		case err != nil:
			return err
		default:
			if res.Id.Uid != "" && res.Id.Uid != existing.Id.Uid {
				return resource.ErrWrongUid
			}
			res.Id.Uid = existing.Id.Uid
			if res.Version == "" {
				res.Version = existing.Version
			} else if res.Version != existing.Version {
				// Checked here too so a stale read cannot carry old statuses
				// over a version the caller named correctly.
				return resource.ErrCASFailure
			}
			res.Status = existing.Status
		}
		out, err = a.cfg.Backend.WriteCAS(ctx, res)
		return err
	})
	return out, err
}

// readCurrent reads the stored incarnation of id whatever group version
// it was stored with, since a write may move a resource to another one.
func (a *API) readCurrent(ctx context.Context, c resource.ReadConsistency, id *pbresource.ID) (*pbresource.Resource, error) {
	lookup := proto.Clone(id).(*pbresource.ID)
	lookup.Uid = ""
	res, err := a.cfg.Backend.Read(ctx, c, lookup)
	var gvm resource.GroupVersionMismatchError
	if errors.As(err, &gvm) && gvm.Stored != nil {
		return gvm.Stored, nil
	}
	return res, err
}

// writeStatus sets one status key; without a version it is retried like
// write.
func (a *API) writeStatus(ctx context.Context, req *pbresource.WriteStatusRequest) (*pbresource.Resource, error) {
	if err := checkWriteStatus(req); err != nil {
		return nil, err
	}
	var out *pbresource.Resource
	err := a.retryCAS(ctx, req.Version, func() error {
		var err error
		out, err = a.cfg.Backend.WriteStatus(ctx, req.Id, req.Version, req.Key, req.Status)
		return err
	})
	return out, err
}

func checkWriteStatus(req *pbresource.WriteStatusRequest) error {
	if err := checkID("id", req.GetId()); err != nil {
		return err
	}
	switch {
	case req.Id.Uid == "":
		return badField("id.uid", "required: statuses are written to one incarnation of a resource")
	case req.Key == "":
		return badField("key", "required")
	case req.Status == nil:
		return badField("status", "required")
	case req.Status.ObservedGeneration == "":
		return badField("status.observed_generation", "required")
	}
	for i, c := range req.Status.Conditions {
		if c.Type == "" {
			return badField("status.conditions["+strconv.Itoa(i)+"].type", "required")
		}
	}
	return nil
}

// remove deletes id. A missing resource is already deleted; an id with a
// uid other than the stored one names an incarnation that is gone, which
// is also already deleted (Consul's rule). Without a version the stored
// one is used, read strongly so that a lagging member never reports a
// resource deleted that it has not yet seen. strict (StrictCASKey) is the
// store's DeleteCAS as it is.
func (a *API) remove(ctx context.Context, id *pbresource.ID, version string, strict bool) error {
	if err := checkID("id", id); err != nil {
		return err
	}
	if strict {
		return a.cfg.Backend.DeleteCAS(ctx, id, version)
	}
	return a.retryCAS(ctx, version, func() error {
		existing, err := a.readCurrent(ctx, resource.StrongConsistency, id)
		switch {
		case errors.Is(err, resource.ErrNotFound):
			return nil
		case err != nil:
			return err
		case id.Uid != "" && id.Uid != existing.Id.Uid:
			return nil
		}
		v := version
		if v == "" {
			v = existing.Version
		}
		return a.cfg.Backend.DeleteCAS(ctx, existing.Id, v)
	})
}

// retryCAS runs op once when the caller named a version, and otherwise
// retries it while it loses compare-and-swap races, up to CASRetries
// attempts in all.
func (a *API) retryCAS(ctx context.Context, version string, op func() error) error {
	if version != "" {
		return op()
	}
	wait := 5 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		err = op()
		if !errors.Is(err, resource.ErrCASFailure) || attempt >= a.cfg.CASRetries {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}
