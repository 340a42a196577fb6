// Package console is the web console every member serves at /ui on its
// client port: the cluster's members and their health, live throughput
// and latency, a key browser with history and live watches, an SQL
// console, a resource browser and snapshot download.
//
// The pages are plain HTML, CSS and JavaScript embedded in the binary
// (assets/), loaded from the member itself: no CDN, no build step, and the
// console works offline. The JavaScript uses the member's REST APIs (/v1/kv,
// /v1/watch, /db/query, /v1/resource, /v1/snapshot, /v1/auth/authenticate)
// with the caller's bearer token, so the console can do exactly what its
// user may do through the API and no more. Three small JSON endpoints serve
// what no API had in the shape a page needs:
//
//	GET /v1/console/cluster  every member's raft state, lag, last contact, alarms and health
//	GET /v1/console/metrics  this member's Prometheus metrics as JSON, for the live charts
//	GET /v1/console/session  who the caller is and whether they may write
//
// The static files are public (they hold no data); the three endpoints need
// an authenticated user while auth is on, like GET /v1/status.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/node"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/api/v3/authpb"
)

// Route patterns of the console, as server.Extension wants them.
const (
	routeRoot    = "GET /ui"
	routeFiles   = "GET /ui/{file...}"
	routeCluster = "GET /v1/console/cluster"
	routeMetrics = "GET /v1/console/metrics"
	routeSession = "GET /v1/console/session"
)

// Node is what the console reads of the member's consensus node.
// *node.Node implements it.
type Node interface {
	// Members lists the members with each one's own status (asked over
	// the peer RPC).
	Members(ctx context.Context) ([]node.Member, error)
	// Status is this member's own view.
	Status() node.Status
}

// Auth is what the console reads of the auth store, to tell the page who
// its user is and whether they may write. *auth.Store implements it.
type Auth interface {
	Enabled() bool
	IsRoot(id auth.Identity) bool
	UserGet(ctx context.Context, who auth.Identity, name string) ([]string, error)
	RoleGet(ctx context.Context, who auth.Identity, name string) ([]*authpb.Permission, error)
}

// Alarm is one raised alarm: etcd's member id and the alarm's name
// (NOSPACE, CORRUPT).
type Alarm struct {
	MemberID uint64
	Name     string
}

// Config is what a Console is built from.
type Config struct {
	// Node is the member's node. Required.
	Node Node
	// Auth is the member's auth store; nil means no authentication.
	Auth Auth
	// Gatherer is the member's metrics registry (what GET /metrics
	// serves). Required.
	Gatherer prometheus.Gatherer
	// Alarms lists the raised alarms as this member has applied them;
	// nil means none can be raised.
	Alarms func() []Alarm
	// MemberID maps a node id to the etcd member id alarms name. Required
	// with Alarms.
	MemberID func(nodeID string) uint64
	// Logger receives request errors. Default: discard.
	Logger *slog.Logger
}

// Console serves the web console.
type Console struct {
	cfg   Config
	files map[string]*asset
}

// New returns the console of cfg's member.
func New(cfg Config) (*Console, error) {
	if cfg.Node == nil || cfg.Gatherer == nil {
		return nil, errors.New("console: Config.Node and Config.Gatherer are required")
	}
	if cfg.Alarms != nil && cfg.MemberID == nil {
		return nil, errors.New("console: Config.MemberID is required with Config.Alarms")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	files, err := loadAssets()
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, files: files}, nil
}

// Routes returns the console's HTTP routes as ServeMux patterns.
func (c *Console) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		routeRoot:    http.RedirectHandler("/ui/", http.StatusMovedPermanently),
		routeFiles:   http.HandlerFunc(c.serveFile),
		routeCluster: http.HandlerFunc(c.cluster),
		routeMetrics: http.HandlerFunc(c.metrics),
		routeSession: http.HandlerFunc(c.session),
	}
}

// Public returns the routes served without credentials while auth is on:
// the static files, which hold no data.
func (c *Console) Public() []string { return []string{routeRoot, routeFiles} }
