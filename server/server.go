package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-db/concord/node"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Node is what the client port needs from the consensus layer. *node.Node
// implements it.
type Node interface {
	ID() string
	Status() node.Status
	Members(ctx context.Context) ([]node.Member, error)
	Ready() <-chan struct{}
	Leader() (id, addr string, err error)
	Removed() bool
	AddVoter(ctx context.Context, id, peerAddr, clientAddr string) error
	AddNonVoter(ctx context.Context, id, peerAddr, clientAddr string) error
	RemoveServer(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, id string) error
}

var _ Node = (*node.Node)(nil)

// Defaults.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultRequestTimeout = 30 * time.Second
	// sniffTimeout bounds how long a new connection may take to send the
	// bytes that decide its protocol.
	sniffTimeout = 10 * time.Second
)

// Config configures a Server.
type Config struct {
	// Node is the consensus node the API reports on and changes. Required.
	Node Node
	// Logger receives request errors and connection problems. Default: discard.
	Logger *slog.Logger
	// Registry receives the node's gauges and the HTTP request counters, and
	// is served on GET /metrics. Default: a new registry with the Go and
	// process collectors.
	Registry *prometheus.Registry
	// MaxBodyBytes caps a request body; larger bodies get 413. Default 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout bounds one membership or leadership request (on top of
	// the node's own LeaderTimeout and ApplyTimeout). Default 30s.
	RequestTimeout time.Duration
	// ClientSendTimeout bounds each write to an HTTP client: a client that
	// reads nothing for that long has its connection closed (limits.go).
	// Default DefaultClientSendTimeout; negative: no bound.
	ClientSendTimeout time.Duration
	// KV serves the REST key-value API (/v1/kv, /v1/txn, /v1/watch). If
	// nil those endpoints answer 404.
	KV KV
	// GRPCOptions are passed to grpc.NewServer.
	GRPCOptions []grpc.ServerOption
	// Snapshots serves GET /v1/snapshot and POST /v1/snapshot/restore
	// (server/snapshot.go). If nil those endpoints answer 404.
	Snapshots *SnapshotConfig
	// Extensions are the API faces' endpoints and status sections
	// (server/extension.go).
	Extensions []Extension
	// Auth, if set, guards every HTTP route (server/auth.go) and serves
	// POST /v1/auth/authenticate. Nil: no guard.
	Auth Guard
	// GuardMetrics makes GET /metrics ask for an authenticated user while
	// auth is enabled. Default: open, as etcd's /metrics (health and
	// readiness probes are always open).
	GuardMetrics bool
	// Pprof serves Go's profiles (net/http/pprof) under /debug/pprof,
	// root only while auth is enabled (server/pprof.go). Default off.
	Pprof bool
	// Version is the member's build, reported by GET /v1/status. Default:
	// the main module's version from the build info.
	Version string
}

// Server is the client port. Create it with New, register gRPC services
// through GRPC before Serve, then Serve a listener.
type Server struct {
	cfg     Config
	grpc    *grpc.Server
	health  *health.Server
	http    *http.Server
	metrics *serverMetrics
	snaps   *snapshots
	streams *streamStopper // ends watches and keepalives at Shutdown

	mu   sync.Mutex
	mux  *connMux
	done bool
	// routes are the patterns Handler served, for Routes.
	routes atomic.Pointer[[]string]
}

// New builds a Server. It registers the node's Prometheus gauges on
// cfg.Registry and the gRPC health service on the gRPC server.
func New(cfg Config) (*Server, error) {
	if cfg.Node == nil {
		return nil, errors.New("server: Config.Node is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.ClientSendTimeout == 0 {
		cfg.ClientSendTimeout = DefaultClientSendTimeout
	}
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	if cfg.Version == "" {
		cfg.Version = buildVersion()
	}
	m, err := registerNodeMetrics(cfg.Registry, cfg.Node)
	if err != nil {
		return nil, fmt.Errorf("server: register metrics: %w", err)
	}
	// The request metrics' interceptors come first, so they see every
	// call, those the auth interceptor refuses included.
	// The stream stopper comes last, nearest the handler, so that the
	// code the others see is the one the client gets.
	streams := newStreamStopper()
	opts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(m.req.unaryInterceptor()),
		grpc.ChainStreamInterceptor(m.req.streamInterceptor()),
	}, cfg.GRPCOptions...)
	opts = append(opts, grpc.ChainStreamInterceptor(streams.intercept))
	s := &Server{cfg: cfg, grpc: grpc.NewServer(opts...), health: health.NewServer(), metrics: m, streams: streams}
	healthpb.RegisterHealthServer(s.grpc, s.health)
	if cfg.Snapshots != nil {
		s.snaps = newSnapshots(*cfg.Snapshots, s)
	}
	s.http = &http.Server{
		Handler:           withConnTLS(streams.httpStreams(s.Handler())),
		ConnContext:       connContext,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// GRPC returns the gRPC server of the client port, so that services (etcd's
// KV, Watch, Lease, ...) can be registered on it. Register before Serve.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Registry returns the Prometheus registry served on GET /metrics, for
// more collectors (see EnableRaftMetrics).
func (s *Server) Registry() *prometheus.Registry { return s.cfg.Registry }

// SetServing sets the status the gRPC health service reports for service
// ("" is the whole server).
func (s *Server) SetServing(service string, serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus(service, st)
}

// Serve accepts connections on ln and serves gRPC and HTTP on it until
// Shutdown. It returns nil after Shutdown, or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	m := newConnMux(ln, s.cfg.Logger)
	s.mux = m
	s.mu.Unlock()

	errc := make(chan error, 3)
	go func() { errc <- s.grpc.Serve(m.grpc) }()
	go func() { errc <- s.http.Serve(writeGuardListener{m.http, s.cfg.ClientSendTimeout}) }()
	err := m.serve()
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, ends the gRPC streams that never
// end on their own (watches, lease keepalives, resource watches: with
// Unavailable, so clients move to another member), and waits, until ctx
// ends, for in-flight HTTP requests and the other gRPC calls to finish;
// then it closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.done = true
	m := s.mux
	s.mu.Unlock()
	s.health.Shutdown()
	if m != nil {
		m.Close()
	}
	s.streams.stop()
	grpcDone := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(grpcDone)
	}()
	err := s.http.Shutdown(ctx)
	select {
	case <-grpcDone:
	case <-ctx.Done():
		s.grpc.Stop()
		<-grpcDone
	}
	if err != nil {
		s.http.Close()
	}
	return err
}
