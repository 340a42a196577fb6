package agent

import (
	"context"
	"log/slog"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/server"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Face is one API face of a member beyond the built-in key-value store: a
// state machine on the node and the APIs that serve it (the replicated SQL
// database with rqlite's HTTP API, Consul's typed resources with their
// gRPC API, ...). The agent drives every face through the same steps, in
// the order faces are listed in faces.go.
type Face interface {
	// Name identifies the face in logs, errors and GET /v1/status.
	Name() string
	// Open builds the face's state on env and registers its state
	// machines and leader handlers on env.Node. It runs before the node
	// starts, so the node replays the log into the face.
	Open(env FaceEnv) error
	// RegisterGRPC registers the face's gRPC services on the client port.
	RegisterGRPC(s *grpc.Server)
	// Extension returns the face's HTTP endpoints and status section.
	Extension() server.Extension
	// Run does the face's background work once the node has started, until
	// ctx ends. It may return at once if there is none.
	Run(ctx context.Context)
	// Close releases the face's resources (files, watchers) after the node
	// has stopped or crashed. Close after a failed Open must be safe.
	Close() error
}

// Diskless is implemented by a face that keeps nothing on disk: the agent
// creates no directory for it and its FaceEnv.DataDir is empty, so a data
// dir holds only what some face stores.
type Diskless interface {
	Diskless()
}

// FaceEnv is what a face is built from.
type FaceEnv struct {
	// Node is the member's consensus node, not yet started.
	Node *node.Node
	// DataDir is the face's own directory, <data-dir>/<face name>, created
	// before Open; empty for a Diskless face.
	DataDir string
	// Logger is the member's logger with the face's name attached.
	Logger *slog.Logger
	// Registry is served on GET /metrics: the face registers its
	// collectors on it.
	Registry *prometheus.Registry
	// Auth is the member's auth store. A face authorizes each request
	// with Auth.Authorize(ctx, auth.Request{User: id, Op, Namespace,
	// Key, RangeEnd}), id being auth.IdentityFromContext(ctx) on its
	// HTTP routes and gRPC services alike (the client port's guard and
	// interceptor put it there). The built-in faces wrap their stores in
	// the check (face_sql_auth.go, face_resource_auth.go).
	Auth *auth.Store
	// MaxRequestBytes caps one request, the same for every API (etcd's
	// --max-request-bytes).
	MaxRequestBytes int
	// MaxRangeBytes caps what one read may return, for the faces' lists
	// (--max-range-bytes; the resource face's List): 0 or less, no cap.
	MaxRangeBytes int64
	// Quota is the member's space-quota guard (--quota-backend-bytes and
	// the NOSPACE alarm): a face checks its writes with it before
	// proposing (the built-in faces propose through quotaNode).
	Quota *kv.Guard
}
