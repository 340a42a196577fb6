package sqlapi

import (
	"context"
	"io"

	"github.com/concord-db/concord/sqlstore"
)

// The request, result and level types are sqlstore's: the HTTP layer
// decodes into them and encodes from them, with no copy in between.
type (
	Statement    = sqlstore.Statement
	Request      = sqlstore.Request
	Result       = sqlstore.Result
	Level        = sqlstore.Level
	QueryOptions = sqlstore.QueryOptions
)

// The levels, weakest first (sqlstore's).
const (
	LevelNone         = sqlstore.LevelNone
	LevelWeak         = sqlstore.LevelWeak
	LevelLinearizable = sqlstore.LevelLinearizable
	LevelStrong       = sqlstore.LevelStrong
)

// ParseLevel parses rqlite's level names.
func ParseLevel(s string) (Level, error) { return sqlstore.ParseLevel(s) }

// DB is what the HTTP API needs of the replicated database (sqlstore.DB).
type DB interface {
	Execute(ctx context.Context, req Request) ([]Result, error)
	Query(ctx context.Context, req Request, opts QueryOptions) ([]Result, error)
	Request(ctx context.Context, req Request, opts QueryOptions) ([]Result, error)
	Backup(ctx context.Context, w io.Writer) error
	Dump(ctx context.Context, w io.Writer) error
	Load(ctx context.Context, r io.Reader) error
}
