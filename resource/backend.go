package resource

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/concord-db/concord/node"
)

// Backend is the storage API of Consul's resource backend over a Store and
// its member's node: writes go through the log from any member (a follower
// forwards them; a retry is never applied twice), eventual reads read this
// member's state, and strong reads first pass the node's ReadBarrier on this
// member, without forwarding. Every method is safe for concurrent use.
//
// Resources returned by Read, List, ListByOwner and the write methods
// belong to the caller (a write's result shares the ID's type and tenancy,
// the owner, metadata and data of the resource it was given); those in
// watch events are shared (see Watch.Next).
type Backend struct {
	s   *Store
	n   Node
	now func() time.Time

	// acked is the highest log index of a write this member answered.
	// A write answers with the leader's apply result, without waiting
	// for this member to apply it: on a quiet cluster a follower learns
	// the new commit index only with raft's next AppendEntries, which
	// cost a follower's client up to raft's CommitTimeout per write.
	// Eventual reads and new watches wait for acked instead, which keeps
	// read-your-writes on one member (as server/etcdapi does); strong
	// reads need nothing more, their read index covers every acked write.
	acked atomic.Uint64
}

// NewBackend returns the Backend of store s on node n (the node s is
// registered with).
func NewBackend(s *Store, n Node) *Backend { return &Backend{s: s, n: n, now: time.Now} }

// Store returns the store b serves.
func (b *Backend) Store() *Store { return b.s }

// barrier waits as consistency c asks.
func (b *Backend) barrier(ctx context.Context, c ReadConsistency) error {
	switch c {
	case EventualConsistency:
		return b.readFence(ctx)
	case StrongConsistency:
		if err := b.n.ReadBarrier(ctx); err != nil {
			return fmt.Errorf("%w: %w", ErrInconsistent, err)
		}
		return nil
	}
	return ValidationError{Field: "consistency", Reason: fmt.Sprintf("unknown consistency %d", c)}
}

// Read returns the resource with id's type (group and kind), tenancy and
// name. If id names a uid, a resource with another uid is ErrNotFound. A
// resource stored with another group version is a
// GroupVersionMismatchError carrying it.
func (b *Backend) Read(ctx context.Context, c ReadConsistency, id *pbresource.ID) (*pbresource.Resource, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := b.barrier(ctx, c); err != nil {
		return nil, err
	}
	v := b.s.view.Load()
	res := v.db.get(id)
	switch {
	case res == nil, id.Uid != "" && id.Uid != res.Id.Uid:
		return nil, ErrNotFound
	case id.Type.GroupVersion != res.Id.Type.GroupVersion:
		return nil, GroupVersionMismatchError{RequestedType: id.Type, Stored: clone(res)}
	}
	return clone(res), nil
}

// WriteCAS creates or updates res. An empty res.Version creates it only if
// absent (ErrCASFailure otherwise); a non-empty one updates it only if that
// is the stored version. A created resource keeps res.Id.Uid, or gets a new
// ULID if that is empty; an update must name the stored uid (ErrWrongUid
// otherwise). The store sets version and generation (a new one when data,
// metadata, owner or group version change) and keeps the stored status
// (res.Status is ignored: WriteStatus writes statuses). It returns the
// stored resource. Bad input is a ValidationError and nothing is proposed.
func (b *Backend) WriteCAS(ctx context.Context, res *pbresource.Resource) (*pbresource.Resource, error) {
	return b.write(ctx, opWrite, res)
}

// Write stores res as Consul's resource service's Write does, in one log
// entry and without reading first: an empty res.Version writes over
// whatever is stored (creating the resource if absent); a non-empty one
// must be the stored version (ErrCASFailure otherwise, also when there is
// no resource). An empty res.Id.Uid names the stored resource (a new ULID
// on create); another uid than the stored one is ErrWrongUid. Everything
// else is as WriteCAS.
//
// The stored version is compared in apply, in log order, so the answer
// does not depend on how far this member has applied the log: a caller
// naming the version another member returned gets the answer the leader
// would give.
func (b *Backend) Write(ctx context.Context, res *pbresource.Resource) (*pbresource.Resource, error) {
	return b.write(ctx, opUpsert, res)
}

func (b *Backend) write(ctx context.Context, o op, res *pbresource.Resource) (*pbresource.Resource, error) {
	if res == nil {
		return nil, ValidationError{Field: "resource", Reason: "required"}
	}
	// Status and generation are the store's to set. A shallow copy
	// without them is enough: in is only encoded, and the fields it
	// shares with res are read, never written.
	in := &pbresource.Resource{Id: res.Id, Owner: res.Owner, Version: res.Version, Metadata: res.Metadata, Data: res.Data}
	if err := ValidateResource(in, b.s.cfg.MaxResourceBytes); err != nil {
		return nil, err
	}
	now := b.now()
	// A write naming its uid never uses the candidate: apply takes the
	// given uid on create and requires the stored one on update. Leaving
	// it out keeps 27 bytes of every such write out of the log.
	var uid string
	if in.Id.GetUid() == "" {
		uid = newULID(now)
	}
	r, err := b.propose(ctx, &command{op: o, maxBytes: uint64(b.s.cfg.MaxResourceBytes),
		uid: uid, generation: newULID(now), res: in})
	if err != nil {
		return nil, err
	}
	if !r.written {
		return r.res, nil
	}
	// The stored resource is in with what apply decided (applyWrite
	// builds it the same way from the command's copy of in).
	return &pbresource.Resource{
		Id:         &pbresource.ID{Uid: r.res.Id.Uid, Name: in.Id.Name, Type: in.Id.Type, Tenancy: in.Id.Tenancy},
		Owner:      in.Owner,
		Version:    r.res.Version,
		Generation: r.res.Generation,
		Metadata:   in.Metadata,
		Status:     r.res.Status,
		Data:       in.Data,
	}, nil
}

// WriteStatus sets the status under key of the resource id names, which
// must name its uid (ErrWrongUid otherwise, ErrNotFound if there is no such
// resource). A non-empty version must be the stored one (ErrCASFailure).
// The generation does not change. A status without updated_at gets the
// current time. It returns the stored resource.
func (b *Backend) WriteStatus(ctx context.Context, id *pbresource.ID, version, key string, status *pbresource.Status) (*pbresource.Resource, error) {
	if err := validateStatus(id, key, status); err != nil {
		return nil, err
	}
	if n := proto.Size(status); n > b.s.cfg.MaxResourceBytes {
		return nil, ValidationError{Field: "status", Reason: fmt.Sprintf("%d bytes encoded, larger than the %d-byte limit", n, b.s.cfg.MaxResourceBytes)}
	}
	if status.UpdatedAt == nil {
		status = proto.Clone(status).(*pbresource.Status)
		status.UpdatedAt = timestamppb.New(b.now())
	}
	r, err := b.propose(ctx, &command{op: opStatus, id: id, version: version, key: key, status: status})
	if err != nil {
		return nil, err
	}
	return r.res, nil
}

// DeleteCAS deletes the resource id names if version is its version
// (ErrCASFailure otherwise). Deleting a missing resource, or one with a uid
// other than a non-empty id.Uid, succeeds and does nothing; the group
// version of id is not checked.
func (b *Backend) DeleteCAS(ctx context.Context, id *pbresource.ID, version string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	_, err := b.propose(ctx, &command{op: opDelete, id: id, version: version})
	return err
}

// propose commits c through the node and records its index in acked.
func (b *Backend) propose(ctx context.Context, c *command) (result, error) {
	payload, err := c.encode()
	if err != nil {
		return result{}, err
	}
	out, err := b.n.Apply(ctx, node.TypeResource, payload)
	if err != nil {
		return result{}, fmt.Errorf("%w: %s: %w", ErrInconsistent, c.op, err)
	}
	r, err := decodeResult(out.Data)
	if err != nil {
		return result{}, fmt.Errorf("resource: %s: %w", c.op, err)
	}
	if r.err != nil {
		return result{}, r.err
	}
	b.ackWrite(out.Index)
	return r, nil
}

// ackWrite records that the write at index was answered.
func (b *Backend) ackWrite(index uint64) {
	for {
		cur := b.acked.Load()
		if index <= cur || b.acked.CompareAndSwap(cur, index) {
			return
		}
	}
}

// readFence waits until this member applied every write it answered.
func (b *Backend) readFence(ctx context.Context) error {
	b.s.waitIndex(ctx, b.acked.Load())
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: waiting for this member to apply its acknowledged writes: %w", ErrInconsistent, err)
	}
	return nil
}

// waitIndex waits until the store applied index, or ctx ends (the command
// is committed either way).
func (s *Store) waitIndex(ctx context.Context, index uint64) {
	for {
		v := s.view.Load()
		if v.index >= index {
			return
		}
		select {
		case <-v.next:
		case <-ctx.Done():
			return
		}
	}
}

// List returns the resources of type t (any group version) in tenancy whose
// names start with namePrefix, ordered by partition, namespace and name.
// A partition or namespace of "*" matches every value.
func (b *Backend) List(ctx context.Context, c ReadConsistency, t UnversionedType, tenancy *pbresource.Tenancy, namePrefix string) ([]*pbresource.Resource, error) {
	if err := validateQuery(t, tenancy); err != nil {
		return nil, err
	}
	if err := b.barrier(ctx, c); err != nil {
		return nil, err
	}
	found := b.s.view.Load().list(newQuery(t, tenancy, namePrefix))
	if err := checkListSize(ctx, found); err != nil {
		return nil, err
	}
	return cloneAll(found), nil
}

// ListByOwner returns the resources owned by owner, which must name its uid:
// the owner's other lifetimes own nothing of this one. Deleting an owner
// does not delete (or unlink) what it owns.
func (b *Backend) ListByOwner(ctx context.Context, c ReadConsistency, owner *pbresource.ID) ([]*pbresource.Resource, error) {
	if err := ValidateOwnerID(owner); err != nil {
		return nil, err
	}
	if err := b.barrier(ctx, c); err != nil {
		return nil, err
	}
	found := b.s.view.Load().listByOwner(owner)
	if err := checkListSize(ctx, found); err != nil {
		return nil, err
	}
	return cloneAll(found), nil
}

// WatchList watches the resources List(t, tenancy, namePrefix) would
// return. With fromVersion 0 it starts with the current state (Upserts,
// then EndOfSnapshot); with the version of an event a previous watch
// returned (on any member) it resumes right after it, with no gap and no
// duplicate, as long as this member retains that history (a
// HistoryCompactedError otherwise: watch again from 0). The watch ends
// when ctx ends or Close is called.
func (b *Backend) WatchList(ctx context.Context, t UnversionedType, tenancy *pbresource.Tenancy, namePrefix string, fromVersion uint64) (*Watch, error) {
	if err := validateQuery(t, tenancy); err != nil {
		return nil, err
	}
	if err := b.readFence(ctx); err != nil {
		return nil, err
	}
	return b.s.watch(ctx, newQuery(t, tenancy, namePrefix), fromVersion)
}

func validateQuery(t UnversionedType, tenancy *pbresource.Tenancy) error {
	if err := validateUnversionedType(t); err != nil {
		return err
	}
	return validateTenancy("tenancy", tenancy, true)
}

func clone(r *pbresource.Resource) *pbresource.Resource { return proto.Clone(r).(*pbresource.Resource) }

func cloneAll(rs []*pbresource.Resource) []*pbresource.Resource {
	out := make([]*pbresource.Resource, len(rs))
	for i, r := range rs {
		out[i] = clone(r)
	}
	return out
}
