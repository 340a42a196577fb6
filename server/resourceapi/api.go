// Package resourceapi serves concord's typed resources (package resource)
// on the client port: Consul's gRPC ResourceService
// (hashicorp.consul.resource.ResourceService from proto-public's pbresource)
// and a REST API under /v1/resource for curl, scripts and `concord
// resource`.
//
// Both wires share the request rules of this package: the same
// validation (validate.go), the same write, status and delete logic
// (ops.go: a write is one compare-and-swap in the store, with Consul's
// conventions applied there) and the one table that turns errors
// into gRPC codes and HTTP statuses (errors.go).
package resourceapi

import (
	"context"
	"errors"
	"log/slog"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/resource"
)

// Backend is what the API needs of the resource store: the methods of
// *resource.Backend, with WatchList returning the Watcher interface so
// that NewBackend can adapt it (see backend.go).
type Backend interface {
	Read(ctx context.Context, c resource.ReadConsistency, id *pbresource.ID) (*pbresource.Resource, error)
	WriteCAS(ctx context.Context, res *pbresource.Resource) (*pbresource.Resource, error)
	// Write is a write with Consul's conventions (an empty version or
	// uid names the stored one), decided by the store in one log entry.
	Write(ctx context.Context, res *pbresource.Resource) (*pbresource.Resource, error)
	WriteStatus(ctx context.Context, id *pbresource.ID, version, key string, status *pbresource.Status) (*pbresource.Resource, error)
	DeleteCAS(ctx context.Context, id *pbresource.ID, version string) error
	List(ctx context.Context, c resource.ReadConsistency, t resource.UnversionedType, tenancy *pbresource.Tenancy, namePrefix string) ([]*pbresource.Resource, error)
	ListByOwner(ctx context.Context, c resource.ReadConsistency, owner *pbresource.ID) ([]*pbresource.Resource, error)
	WatchList(ctx context.Context, t resource.UnversionedType, tenancy *pbresource.Tenancy, namePrefix string, fromVersion uint64) (Watcher, error)
}

// Watcher is one list watch: Next blocks for the next event (the current
// state as upserts, then EndOfSnapshot, then every change) until ctx ends
// or the watch fails; Close releases it.
type Watcher interface {
	Next(ctx context.Context) (resource.Event, error)
	Close()
}

// Config builds an API.
type Config struct {
	// Backend is the member's resource store. Required.
	Backend Backend
	// MaxRequestBytes caps a REST request body (the client port's
	// --max-request-bytes). Default DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxListBytes caps what one List or ListByOwner returns (the client
	// port's --max-range-bytes): past it the list fails with
	// resource.ErrListTooLarge before any resource is copied. 0: no cap.
	MaxListBytes int64
	// MaxResourceBytes caps one resource's protobuf encoding, checked
	// before anything is written (resource.Config.MaxResourceBytes, which
	// the store enforces too). Default 4 MiB, the store's default.
	MaxResourceBytes int
	// CASRetries is how many times a status write or delete without a
	// version is retried after losing a compare-and-swap race (a Write
	// needs none: the store decides it in apply). Default
	// DefaultCASRetries.
	CASRetries int
	// Logger logs the server's own failures. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxRequestBytes  = 1536 * 1024
	DefaultMaxResourceBytes = 4 << 20
	DefaultCASRetries       = 5
)

// Validate reports a missing or out-of-range field.
func (c Config) Validate() error {
	switch {
	case c.Backend == nil:
		return errors.New("resourceapi: Config.Backend is required")
	case c.MaxRequestBytes < 0:
		return errors.New("resourceapi: Config.MaxRequestBytes must not be negative")
	case c.MaxResourceBytes < 0:
		return errors.New("resourceapi: Config.MaxResourceBytes must not be negative")
	case c.CASRetries < 0:
		return errors.New("resourceapi: Config.CASRetries must not be negative")
	}
	return nil
}

// API serves one member's resources over gRPC and REST.
type API struct {
	pbresource.UnimplementedResourceServiceServer
	cfg    Config
	m      *metrics
	events *eventCache // each watch event's encodings, shared by the watchers
}

// New validates cfg, fills its defaults and returns the API.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxResourceBytes == 0 {
		cfg.MaxResourceBytes = DefaultMaxResourceBytes
	}
	if cfg.CASRetries == 0 {
		cfg.CASRetries = DefaultCASRetries
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &API{cfg: cfg, m: newMetrics(), events: newEventCache()}, nil
}
