package sqlapi

import (
	"context"
	"fmt"
	"io"
	"time"
)

// The request and result types below carry exactly the fields of
// sqlstore's (Statement, Request, Result, Level, QueryOptions), so that the
// HTTP layer can be built and tested while sqlstore is written; once
// sqlstore lands they become aliases of its types.

// Statement is one SQL statement with its parameters: positional (the
// ?-placeholders, in order) or named (:name, @name, $name).
type Statement struct {
	SQL        string
	Positional []any
	Named      map[string]any
}

// Request is the statements of one HTTP request. With Transaction they
// apply all or nothing; without it each statement stands alone.
type Request struct {
	Statements  []Statement
	Transaction bool
}

// Result is the outcome of one statement: rows for a read, the insert id
// and affected count for a write, or SQLite's error text.
type Result struct {
	Columns      []string
	Types        []string
	Rows         [][]any
	LastInsertID int64
	RowsAffected int64
	Error        string
	Time         time.Duration
	ReadOnly     bool
}

// Level is a read's consistency level (rqlite's names).
type Level int

// The levels, weakest first.
const (
	LevelNone Level = iota
	LevelWeak
	LevelLinearizable
	LevelStrong
)

var levelNames = []string{"none", "weak", "linearizable", "strong"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel parses rqlite's level names.
func ParseLevel(s string) (Level, error) {
	for i, name := range levelNames {
		if s == name {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown consistency level %q (want none, weak, linearizable or strong)", s)
}

// QueryOptions says how a read is served: its level, the freshness bound
// for LevelNone, and SQLite's time limit for the query (db_timeout).
type QueryOptions struct {
	Level           Level
	Freshness       time.Duration
	FreshnessStrict bool
	Timeout         time.Duration
}

// DB is what the HTTP API needs of the replicated database (sqlstore.DB).
type DB interface {
	Execute(ctx context.Context, req Request) ([]Result, error)
	Query(ctx context.Context, req Request, opts QueryOptions) ([]Result, error)
	Request(ctx context.Context, req Request, opts QueryOptions) ([]Result, error)
	Backup(ctx context.Context, w io.Writer) error
	Dump(ctx context.Context, w io.Writer) error
	Load(ctx context.Context, r io.Reader) error
}
