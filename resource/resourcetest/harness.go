// Package resourcetest holds the contract of the resource store: a table of
// cases every implementation of the resource Backend API must pass, written
// once and run against the Go API (resource.Backend on an in-process
// cluster) and through the gRPC API (server/resourceapi with proto-public's
// client), as Consul runs its storage conformance suite against each
// backend.
package resourcetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/resource"
)

// Backend is the API under test: resource.Backend's methods, with the watch
// behind an interface so a remote client can implement it. Errors must
// match resource's sentinels and typed errors (errors.Is / errors.As): an
// adapter over a wire maps them back.
type Backend interface {
	Read(ctx context.Context, c resource.ReadConsistency, id *pbresource.ID) (*pbresource.Resource, error)
	WriteCAS(ctx context.Context, res *pbresource.Resource) (*pbresource.Resource, error)
	WriteStatus(ctx context.Context, id *pbresource.ID, version, key string, status *pbresource.Status) (*pbresource.Resource, error)
	DeleteCAS(ctx context.Context, id *pbresource.ID, version string) error
	List(ctx context.Context, c resource.ReadConsistency, t resource.UnversionedType, tenancy *pbresource.Tenancy, namePrefix string) ([]*pbresource.Resource, error)
	ListByOwner(ctx context.Context, c resource.ReadConsistency, owner *pbresource.ID) ([]*pbresource.Resource, error)
	WatchList(ctx context.Context, t resource.UnversionedType, tenancy *pbresource.Tenancy, namePrefix string, fromVersion uint64) (Watch, error)
}

// Watch is a list watch (resource.Watch).
type Watch interface {
	Next(ctx context.Context) (resource.Event, error)
	Close()
}

// FromBackend adapts a *resource.Backend to Backend.
func FromBackend(b *resource.Backend) Backend { return goBackend{b} }

type goBackend struct{ *resource.Backend }

func (g goBackend) WatchList(ctx context.Context, t resource.UnversionedType, tenancy *pbresource.Tenancy, namePrefix string, from uint64) (Watch, error) {
	w, err := g.Backend.WatchList(ctx, t, tenancy, namePrefix, from)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Options configure RunContract.
type Options struct {
	// Backends returns the backends of one cluster, one per member (at
	// least one). Cases write through one member and read, list and watch
	// through the others too, so reads on followers are covered. It may
	// return the same cluster every time: every case works in a resource
	// group of its own.
	Backends func(t *testing.T) []Backend
	// MaxResourceBytes is the size cap the backends were configured with.
	MaxResourceBytes int
	// Timeout bounds each wait for an eventual read or a watch event.
	// Default 10s.
	Timeout time.Duration
}

// env is what a case works with.
type env struct {
	t        *testing.T
	ctx      context.Context
	bs       []Backend
	group    string
	opts     Options
	deadline time.Duration
}

var groupSeq atomic.Uint64

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	bs := o.Backends(t)
	if len(bs) == 0 {
		t.Fatal("resourcetest: Backends returned none")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &env{t: t, ctx: ctx, bs: bs, group: fmt.Sprintf("ct%d", groupSeq.Add(1)), opts: o, deadline: o.Timeout}
}

// sub is e for subtest t, with a resource group of its own.
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	c.group = fmt.Sprintf("ct%d", groupSeq.Add(1))
	return &c
}

// w is the backend cases write through; r(i) the i-th reader (wrapping).
func (e *env) w() Backend      { return e.bs[0] }
func (e *env) r(i int) Backend { return e.bs[i%len(e.bs)] }
func (e *env) typ(gv, kind string) *pbresource.Type {
	return &pbresource.Type{Group: e.group, GroupVersion: gv, Kind: kind}
}
func (e *env) utype(kind string) resource.UnversionedType {
	return resource.UnversionedType{Group: e.group, Kind: kind}
}

var (
	tenancyDefault = &pbresource.Tenancy{Partition: "default", Namespace: "default"}
	wildcard       = &pbresource.Tenancy{Partition: resource.Wildcard, Namespace: resource.Wildcard}
)

func (e *env) id(kind, name string) *pbresource.ID {
	return &pbresource.ID{Type: e.typ("v1", kind), Tenancy: clone(tenancyDefault), Name: name}
}

// mustWrite writes through the writer, failing the test on error.
func (e *env) mustWrite(res *pbresource.Resource) *pbresource.Resource {
	e.t.Helper()
	out, err := e.w().WriteCAS(e.ctx, res)
	if err != nil {
		e.t.Fatalf("WriteCAS %s: %v", res.GetId().GetName(), err)
	}
	return out
}

// eventually retries f until it returns nil or the deadline passes.
func (e *env) eventually(what string, f func() error) {
	e.t.Helper()
	d := e.deadline
	if d == 0 {
		d = 10 * time.Second
	}
	end := time.Now().Add(d)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(end) {
			e.t.Fatalf("%s: still failing after %s: %v", what, d, err)
		}
		time.Sleep(delay)
	}
}

// onEveryMember checks f on every backend: at once with a strong read, and
// eventually with an eventual one.
func (e *env) onEveryMember(what string, f func(b Backend, c resource.ReadConsistency) error) {
	e.t.Helper()
	for i, b := range e.bs {
		if err := f(b, resource.StrongConsistency); err != nil {
			e.t.Fatalf("%s on member %d (strong): %v", what, i, err)
		}
		e.eventually(fmt.Sprintf("%s on member %d (eventual)", what, i), func() error {
			return f(b, resource.EventualConsistency)
		})
	}
}

// sameContent reports whether two resources are equal but for version and
// generation (which the store assigns).
func sameContent(a, b *pbresource.Resource) bool {
	a, b = proto.Clone(a).(*pbresource.Resource), proto.Clone(b).(*pbresource.Resource)
	a.Version, b.Version, a.Generation, b.Generation = "", "", "", ""
	if a.Id != nil && b.Id != nil && (a.Id.Uid == "" || b.Id.Uid == "") {
		a.Id.Uid, b.Id.Uid = "", ""
	}
	return proto.Equal(a, b)
}

func errIs(err, target error) error {
	if !errors.Is(err, target) {
		return fmt.Errorf("got error %v, want %v", err, target)
	}
	return nil
}

func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if e := errIs(err, target); e != nil {
		t.Fatalf("%s: %v", what, e)
	}
}

func wantValidation(t *testing.T, what string, err error) {
	t.Helper()
	var ve resource.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: got %v, want a resource.ValidationError", what, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
