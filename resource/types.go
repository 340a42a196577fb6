package resource

import (
	"context"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/node"
)

// UnversionedType identifies a resource type without its group version; it is
// the part of the type that belongs to a resource's identity, as in Consul.
type UnversionedType struct{ Group, Kind string }

// ReadConsistency selects how fresh a read must be.
type ReadConsistency int

const (
	// EventualConsistency reads this member's local state.
	EventualConsistency ReadConsistency = iota
	// StrongConsistency waits for node.ReadBarrier on this member, then reads locally.
	StrongConsistency
)

// EventKind tells what a watch Event reports.
type EventKind int

const (
	// Upsert: the resource was created or updated (or is part of the
	// initial snapshot).
	Upsert EventKind = iota
	// Delete: the resource was deleted.
	Delete
	// EndOfSnapshot: the initial snapshot is complete.
	EndOfSnapshot
)

func (k EventKind) String() string {
	switch k {
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	case EndOfSnapshot:
		return "end_of_snapshot"
	}
	return "unknown"
}

// Event is one change seen by a Watch. Version is the store revision of
// the write it reports (for the initial snapshot's Upserts and its
// EndOfSnapshot, the revision of the snapshot): a watch resumes after it.
// A Delete carries the resource as it was before the delete.
type Event struct {
	Kind     EventKind
	Resource *pbresource.Resource
	Version  uint64
}

// Node is the part of *node.Node a Backend uses.
type Node interface {
	Apply(ctx context.Context, t node.Type, payload []byte) (node.Result, error)
	ReadBarrier(ctx context.Context) error
	ID() string
}
