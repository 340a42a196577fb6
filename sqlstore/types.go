package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-db/concord/node"
)

// Statement is one SQL statement with its parameters: positional (the
// ?-placeholders, in order) or named (:name, @name, $name). Parameter
// values are nil, int64, float64, string, []byte or bool.
type Statement struct {
	SQL        string
	Positional []any
	Named      map[string]any
}

// Request is the statements of one client request. With Transaction they
// apply all or nothing; without it each statement stands alone and a
// failed statement does not stop the next (rqlite's rule).
type Request struct {
	Statements  []Statement
	Transaction bool
}

// Result is the outcome of one statement: rows for a read, the insert id
// and affected count for a write, or SQLite's own error text. Row values
// are nil, int64, float64, string or []byte.
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
// for LevelNone, and the query's time limit (db_timeout; zero means the
// store's QueryTimeout).
type QueryOptions struct {
	Level           Level
	Freshness       time.Duration
	FreshnessStrict bool
	Timeout         time.Duration
}

// Node is what DB needs from the consensus node (*node.Node implements it).
type Node interface {
	Apply(ctx context.Context, t node.Type, payload []byte) (node.Result, error)
	ReadBarrier(ctx context.Context) error
	Status() node.Status
}

// Status is the database's part of /v1/status.
type Status struct {
	SizeBytes    int64  `json:"size_bytes"`
	AppliedIndex uint64 `json:"applied_index"`
}
