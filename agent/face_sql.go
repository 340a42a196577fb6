package agent

import (
	"context"
	"fmt"
	"net/http"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/server"
	"github.com/concord-db/concord/server/sqlapi"
	"github.com/concord-db/concord/sqlstore"
	"google.golang.org/grpc"
)

// sqlFace is the replicated SQLite database (sqlstore) with rqlite's HTTP
// API (server/sqlapi) on the client port.
type sqlFace struct {
	cfg   sqlstore.Config
	store *sqlstore.Store
	db    *sqlstore.DB
	api   *sqlapi.API
}

func (f *sqlFace) Name() string { return "sql" }

// Open opens the database in the face's directory and registers it with
// the node, before the node starts and replays the log into it.
func (f *sqlFace) Open(env FaceEnv) error {
	cfg := f.cfg
	cfg.Dir = env.DataDir
	if cfg.Logger == nil {
		cfg.Logger = env.Logger
	}
	if cfg.MaxCommandBytes == 0 {
		cfg.MaxCommandBytes = int64(env.MaxRequestBytes)
	}
	maxLoad := cfg.MaxLoadBytes
	if maxLoad == 0 {
		maxLoad = sqlstore.DefaultMaxLoadBytes
	}
	store, err := sqlstore.Open(cfg)
	if err != nil {
		return fmt.Errorf("sql: opening the database: %w", err)
	}
	f.store = store
	if err := env.Node.Register(node.TypeSQL, stampedSQL{store, env.Auth}); err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	if err := env.Registry.Register(store); err != nil {
		return fmt.Errorf("sql: registering metrics: %w", err)
	}
	f.db = sqlstore.NewDB(store, guardedNode(env, nil)) // every SQL proposal may write
	// Every request is authorized (face_sql_auth.go) before it reaches
	// the database.
	// The load body may pass the store's cap by one byte, so the store
	// answers with its own error (pointing to concord snapshot restore).
	f.api, err = sqlapi.New(sqlapi.Config{DB: sqlAuthDB{db: f.db, auth: env.Auth}, Cluster: env.Node,
		MaxRequestBytes: int64(env.MaxRequestBytes), MaxLoadBytes: maxLoad + 1, Logger: env.Logger})
	return err
}

func (f *sqlFace) RegisterGRPC(*grpc.Server) {}

// Extension serves rqlite's API and a status section with the database's
// size and applied index.
func (f *sqlFace) Extension() server.Extension {
	routes := map[string]http.Handler{}
	if f.api != nil {
		routes = f.api.Routes()
	}
	return server.Extension{
		Name:   f.Name(),
		Routes: routes,
		Status: func(context.Context) any { return f.store.Status() },
	}
}

func (f *sqlFace) Run(ctx context.Context) {}

func (f *sqlFace) Close() error {
	if f.store == nil {
		return nil
	}
	return f.store.Close()
}

// SQL is the member's replicated database, for tests and embedding
// programs; nil if the SQL face is not running.
func (a *Agent) SQL() *sqlstore.DB {
	for _, face := range a.Faces {
		if f, ok := face.(*sqlFace); ok {
			return f.db
		}
	}
	return nil
}
