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
	Upsert EventKind = iota
	Delete
	EndOfSnapshot
)

// Event is one change seen by a Watch; Version is the store version (raft
// index) it happened at.
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
