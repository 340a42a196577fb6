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

// write stores res as Consul's resource service does: the store's Write,
// one log entry in which apply compares the version (an empty one means
// whatever is stored), fills in the uid on create and keeps it on update,
// and carries the stored statuses over (only WriteStatus changes them).
// Nothing is read first, so the answer is the leader's whichever member
// takes the request and however far it has applied the log.
//
// strict (StrictCASKey) is the store's WriteCAS as it is.
func (a *API) write(ctx context.Context, in *pbresource.Resource, strict bool) (*pbresource.Resource, error) {
	if err := a.checkResource(in); err != nil {
		return nil, err
	}
	if strict {
		return a.cfg.Backend.WriteCAS(ctx, in)
	}
	return a.cfg.Backend.Write(ctx, in)
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

// retryCAS runs op (a status write or a delete) once when the caller named
// a version, and otherwise retries it while it loses compare-and-swap races, up to CASRetries
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
