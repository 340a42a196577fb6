package agent

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/server"
	"github.com/concord-db/concord/server/resourceapi"
)

// resourceFace is Consul's typed resources (package resource) with
// Consul's gRPC ResourceService and the /v1/resource REST API
// (server/resourceapi) on the client port.
type resourceFace struct {
	cfg     resource.Config
	store   *resource.Store
	backend *resource.Backend
	api     *resourceapi.API
}

func (f *resourceFace) Name() string { return "resource" }

// Open opens the store and registers it with the node, before the node
// starts and replays the log into it.
func (f *resourceFace) Open(env FaceEnv) error {
	cfg := f.cfg
	if cfg.Logger == nil {
		cfg.Logger = env.Logger
	}
	store, err := resource.Open(cfg)
	if err != nil {
		return fmt.Errorf("resource: opening the store: %w", err)
	}
	f.store = store
	if err := env.Node.Register(node.TypeResource, stampedResource{store, env.Auth}); err != nil {
		return fmt.Errorf("resource: %w", err)
	}
	f.backend = resource.NewBackend(store, guardedNode(env, resource.CommandGrows))
	f.api, err = resourceapi.New(resourceapi.Config{
		Backend:          resourceAuthBackend{next: storeBackend{f.backend}, auth: env.Auth}, // face_resource_auth.go
		MaxRequestBytes:  env.MaxRequestBytes,
		MaxListBytes:     env.MaxRangeBytes,
		MaxResourceBytes: cfg.WithDefaults().MaxResourceBytes,
		Logger:           env.Logger,
	})
	if err != nil {
		return err
	}
	for _, c := range []prometheus.Collector{f.api, f.store} {
		if err := env.Registry.Register(c); err != nil {
			return fmt.Errorf("resource: registering metrics: %w", err)
		}
	}
	return nil
}

// RegisterGRPC serves hashicorp.consul.resource.ResourceService.
func (f *resourceFace) RegisterGRPC(s *grpc.Server) {
	if f.api != nil {
		f.api.Register(s)
	}
}

// Extension serves /v1/resource and a status section with the resource
// count, the count by type and the store's version.
func (f *resourceFace) Extension() server.Extension {
	routes := map[string]http.Handler{}
	if f.api != nil {
		routes = f.api.Routes()
	}
	return server.Extension{
		Name:   f.Name(),
		Routes: routes,
		Status: func(context.Context) any { return f.status() },
	}
}

// resourceStatus is the face's section of GET /v1/status.
type resourceStatus struct {
	Resources int            `json:"resources"`
	ByType    map[string]int `json:"by_type,omitempty"`
	Version   uint64         `json:"version"`
}

func (f *resourceFace) status() resourceStatus {
	st := f.store.Status()
	return resourceStatus{Resources: st.Resources, ByType: st.ByType, Version: st.Revision}
}

func (f *resourceFace) Run(ctx context.Context) {}

func (f *resourceFace) Close() error {
	if f.store == nil {
		return nil
	}
	return f.store.Close()
}

// Resources is the member's resource store API (Consul's storage
// backend contract), for tests and embedding programs; nil if the
// resource face is not running.
func (a *Agent) Resources() *resource.Backend {
	for _, face := range a.Faces {
		if f, ok := face.(*resourceFace); ok {
			return f.backend
		}
	}
	return nil
}

// storeBackend adapts *resource.Backend to resourceapi.Backend (its
// WatchList returns the concrete *resource.Watch).
type storeBackend struct{ *resource.Backend }

func (b storeBackend) WatchList(ctx context.Context, t resource.UnversionedType, ten *pbresource.Tenancy, prefix string, from uint64) (resourceapi.Watcher, error) {
	w, err := b.Backend.WatchList(ctx, t, ten, prefix, from)
	if err != nil {
		return nil, err
	}
	return w, nil
}
