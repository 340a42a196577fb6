package main

import (
	"fmt"
	"time"

	"github.com/concord-db/concord/sqlstore"
	"github.com/spf13/pflag"
)

// agentSQLOptions are the agent's flags for the SQL database (/db/*).
type agentSQLOptions struct {
	queryTimeout   time.Duration
	maxResultBytes int64
	maxStatements  int
	readConns      int
	maxLoadBytes   int64
}

func (o *agentSQLOptions) addFlags(f *pflag.FlagSet) {
	f.DurationVar(&o.queryTimeout, "sql-query-timeout", sqlstore.DefaultQueryTimeout, "SQL: time limit of a query without ?db_timeout; past it the query is interrupted")
	f.Int64Var(&o.maxResultBytes, "sql-max-result-bytes", sqlstore.DefaultMaxResultBytes, "SQL: largest query result, in bytes of row values; a larger one ends with an error")
	f.IntVar(&o.maxStatements, "sql-max-statements", sqlstore.DefaultMaxStatements, "SQL: most statements in one request")
	f.IntVar(&o.readConns, "sql-read-conns", sqlstore.DefaultReadConns, "SQL: idle read-only connections kept for queries")
	f.Int64Var(&o.maxLoadBytes, "sql-max-load-bytes", sqlstore.DefaultMaxLoadBytes, "SQL: largest POST /db/load (file, or the SQL text it becomes); move larger databases with concord snapshot restore")
}

// config checks the flags and returns the database's settings (Dir and
// the request cap are filled in by the agent).
func (o *agentSQLOptions) config() (sqlstore.Config, error) {
	cfg := sqlstore.Config{QueryTimeout: o.queryTimeout, MaxResultBytes: o.maxResultBytes,
		MaxStatements: o.maxStatements, ReadConns: o.readConns, MaxLoadBytes: o.maxLoadBytes}
	if o.queryTimeout <= 0 || o.maxResultBytes <= 0 || o.maxStatements <= 0 || o.readConns <= 0 || o.maxLoadBytes <= 0 {
		return cfg, fmt.Errorf("--sql-query-timeout (%v), --sql-max-result-bytes (%d), --sql-max-statements (%d), --sql-read-conns (%d) and --sql-max-load-bytes (%d) must be positive",
			o.queryTimeout, o.maxResultBytes, o.maxStatements, o.readConns, o.maxLoadBytes)
	}
	check := cfg
	check.Dir = "-"
	return cfg, check.Validate()
}
