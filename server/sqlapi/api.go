// Package sqlapi serves rqlite's HTTP API for concord's replicated SQLite
// database on the client port: /db/execute, /db/query, /db/request,
// /db/backup, /db/load, and the /status and /nodes that rqlite's clients
// read to find the cluster's members.
package sqlapi

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"

	"github.com/concord-db/concord/node"
)

// Cluster is what /status and /nodes need of the member's node
// (*node.Node).
type Cluster interface {
	ID() string
	Leader() (id, addr string, err error)
	Members(ctx context.Context) ([]node.Member, error)
}

// Config builds an API.
type Config struct {
	// DB is the replicated database. Required.
	DB DB
	// Cluster is the member's node. Required.
	Cluster Cluster
	// MaxRequestBytes caps a request body of the statement endpoints,
	// the same cap as the key-value API's. Default DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// MaxLoadBytes caps the body of POST /db/load (a whole database).
	// Default DefaultMaxLoadBytes.
	MaxLoadBytes int64
	// Logger logs the server's own failures. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxRequestBytes = 1536 * 1024
	DefaultMaxLoadBytes    = 8 << 30
)

// Validate reports a missing or out-of-range field.
func (c Config) Validate() error {
	switch {
	case c.DB == nil:
		return errors.New("sqlapi: Config.DB is required")
	case c.Cluster == nil:
		return errors.New("sqlapi: Config.Cluster is required")
	case c.MaxRequestBytes < 0:
		return errors.New("sqlapi: Config.MaxRequestBytes must not be negative")
	case c.MaxLoadBytes < 0:
		return errors.New("sqlapi: Config.MaxLoadBytes must not be negative")
	}
	return nil
}

// API is rqlite's HTTP API over one member's database.
type API struct {
	cfg  Config
	txns *txnRegistry // open interactive transactions (txn.go); nil without a TxnDB
}

// New validates cfg, fills its defaults and returns the API.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxLoadBytes == 0 {
		cfg.MaxLoadBytes = DefaultMaxLoadBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &API{cfg: cfg, txns: newTxnRegistry(cfg.DB)}, nil
}

// Routes are the API's endpoints as ServeMux patterns, for
// server.Extension. Each group lives in its own file; a new group (the
// interactive transactions' tx*.go) adds one line here.
func (a *API) Routes() map[string]http.Handler {
	routes := map[string]http.Handler{}
	for _, group := range []map[string]http.Handler{a.statementRoutes(), a.backupRoutes(), a.clusterRoutes(), a.txnRoutes()} {
		maps.Copy(routes, group)
	}
	return routes
}

// fail writes err and logs it when it is the server's problem.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errorStatus(err) == http.StatusInternalServerError {
		a.cfg.Logger.Error("sql api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, err)
}
