package resource

import (
	"context"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

// Store is the resource state machine. Not implemented yet: its methods
// are declared so API code compiles against them.
type Store struct{ cfg Config }

// New returns a Store configured by cfg with defaults filled in.
func New(cfg Config) *Store { return &Store{cfg: cfg.withDefaults()} }

// Backend serves the storage contract over a Store and the Node it runs on.
type Backend struct {
	store *Store
	node  Node
}

// NewBackend returns a Backend reading s and proposing writes through n.
func NewBackend(s *Store, n Node) *Backend { return &Backend{store: s, node: n} }

// Watch is a stream of Events from WatchList.
type Watch struct{}

// Next returns the next event.
func (w *Watch) Next(ctx context.Context) (Event, error) { return Event{}, ErrUnimplemented }

// Close stops the watch.
func (w *Watch) Close() {}

func (b *Backend) WriteCAS(ctx context.Context, res *pbresource.Resource) (*pbresource.Resource, error) {
	return nil, ErrUnimplemented
}

func (b *Backend) WriteStatus(ctx context.Context, id *pbresource.ID, key string, status *pbresource.Status, version string) (*pbresource.Resource, error) {
	return nil, ErrUnimplemented
}

func (b *Backend) DeleteCAS(ctx context.Context, id *pbresource.ID, version string) error {
	return ErrUnimplemented
}

func (b *Backend) Read(ctx context.Context, c ReadConsistency, id *pbresource.ID) (*pbresource.Resource, error) {
	return nil, ErrUnimplemented
}

func (b *Backend) List(ctx context.Context, c ReadConsistency, typ UnversionedType, tenancy *pbresource.Tenancy, namePrefix string) ([]*pbresource.Resource, error) {
	return nil, ErrUnimplemented
}

func (b *Backend) ListByOwner(ctx context.Context, c ReadConsistency, owner *pbresource.ID) ([]*pbresource.Resource, error) {
	return nil, ErrUnimplemented
}

func (b *Backend) WatchList(ctx context.Context, typ UnversionedType, tenancy *pbresource.Tenancy, namePrefix string, fromVersion uint64) (*Watch, error) {
	return nil, ErrUnimplemented
}
