package sqlstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults for the zero fields of Config.
const (
	DefaultQueryTimeout   = 5 * time.Second
	DefaultMaxResultBytes = 64 << 20
	DefaultMaxStatements  = 1000
	DefaultReadConns      = 4
	// DefaultMaxCommandBytes is the key-value and SQL APIs' request cap
	// (etcd's --max-request-bytes, 1.5 MiB).
	DefaultMaxCommandBytes = 1536 * 1024
	// DefaultMaxLoadBytes caps a /db/load: the load travels as one log
	// entry, so it is bounded well below the peer RPC's 64 MiB message.
	DefaultMaxLoadBytes = 32 << 20
)

// Config is the store's configuration. Zero fields take the defaults
// above; Dir is required.
type Config struct {
	// Dir holds the database file (and its -wal/-shm and temp files).
	Dir string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// QueryTimeout is a read's time limit when the request sets none
	// (rqlite's db_timeout). Default 5s.
	QueryTimeout time.Duration
	// MaxResultBytes caps one request's result; a query past it ends
	// with ErrResultTooLarge. Default 64 MiB.
	MaxResultBytes int64
	// MaxStatements caps the statements of one request. Default 1000.
	MaxStatements int
	// ReadConns is how many idle read-only connections are kept for
	// reuse; more concurrent reads open (and then close) their own.
	// Default 4.
	ReadConns int
	// MaxCommandBytes caps one encoded write request; the agent sets it
	// to the API's request cap (--max-request-bytes). Default 1.5 MiB.
	MaxCommandBytes int64
	// MaxLoadBytes caps a Load: the SQLite file received and the SQL text
	// it becomes. A larger database is moved with `concord snapshot
	// restore` instead. Default 32 MiB.
	MaxLoadBytes int64
}

// withDefaults returns cfg with its zero fields set to the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.MaxResultBytes == 0 {
		cfg.MaxResultBytes = DefaultMaxResultBytes
	}
	if cfg.MaxStatements == 0 {
		cfg.MaxStatements = DefaultMaxStatements
	}
	if cfg.ReadConns == 0 {
		cfg.ReadConns = DefaultReadConns
	}
	if cfg.MaxCommandBytes == 0 {
		cfg.MaxCommandBytes = DefaultMaxCommandBytes
	}
	if cfg.MaxLoadBytes == 0 {
		cfg.MaxLoadBytes = DefaultMaxLoadBytes
	}
	return cfg
}

// Validate reports every invalid field, after defaults are applied.
func (cfg Config) Validate() error {
	cfg = cfg.withDefaults()
	var errs []error
	if cfg.Dir == "" {
		errs = append(errs, errors.New("sqlstore: Dir is required"))
	}
	if cfg.QueryTimeout < 0 {
		errs = append(errs, fmt.Errorf("sqlstore: QueryTimeout %v is negative", cfg.QueryTimeout))
	}
	if cfg.MaxResultBytes < 0 {
		errs = append(errs, fmt.Errorf("sqlstore: MaxResultBytes %d is negative", cfg.MaxResultBytes))
	}
	if cfg.MaxStatements < 0 {
		errs = append(errs, fmt.Errorf("sqlstore: MaxStatements %d is negative", cfg.MaxStatements))
	}
	if cfg.ReadConns < 0 {
		errs = append(errs, fmt.Errorf("sqlstore: ReadConns %d is negative", cfg.ReadConns))
	}
	if cfg.MaxCommandBytes < 0 {
		errs = append(errs, fmt.Errorf("sqlstore: MaxCommandBytes %d is negative", cfg.MaxCommandBytes))
	}
	if cfg.MaxLoadBytes < 0 {
		errs = append(errs, fmt.Errorf("sqlstore: MaxLoadBytes %d is negative", cfg.MaxLoadBytes))
	}
	return errors.Join(errs...)
}
