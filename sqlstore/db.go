package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/concord-db/concord/node"
)

// DB is the Go API of the replicated database: writes go through the
// raft log, reads are served at the requested consistency level.
type DB struct {
	store *Store
	node  Node
}

// NewDB returns the API over store, replicated by n.
func NewDB(s *Store, n Node) *DB {
	return &DB{store: s, node: n}
}

// Execute runs req through the log; this member stamps it with its time
// and a random seed so every member applies it identically.
func (db *DB) Execute(ctx context.Context, req Request) ([]Result, error) {
	if err := db.store.checkRequest(req); err != nil {
		return nil, err
	}
	b, err := encodeCommand(command{Timestamp: time.Now().UnixNano(), Seed: rand.Uint64(), Request: req})
	if err != nil {
		return nil, err
	}
	res, err := db.node.Apply(ctx, node.TypeSQL, b)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: execute: %w", err)
	}
	ar, err := decodeResult(res.Data)
	if err != nil {
		return nil, err
	}
	if ar.Err != "" {
		return nil, fmt.Errorf("sqlstore: execute at index %d: %s", res.Index, ar.Err)
	}
	return ar.Results, nil
}

// Query serves a read at opts.Level: none reads locally (refused with
// ErrStale past opts.Freshness), weak and linearizable pass a read
// barrier then read locally, strong goes through the log.
func (db *DB) Query(ctx context.Context, req Request, opts QueryOptions) ([]Result, error) {
	switch opts.Level {
	case LevelNone:
		if opts.Freshness > 0 {
			st := db.node.Status()
			if st.State != "Leader" && (st.Leader == "" || st.LastContact > opts.Freshness) {
				return nil, fmt.Errorf("%w: last heard from the leader %v ago, bound %v", ErrStale, st.LastContact, opts.Freshness)
			}
		}
	case LevelWeak, LevelLinearizable:
		if err := db.node.ReadBarrier(ctx); err != nil {
			return nil, fmt.Errorf("sqlstore: read barrier: %w", err)
		}
	case LevelStrong:
		return db.Execute(ctx, req)
	default:
		return nil, errors.New("sqlstore: unknown consistency level " + opts.Level.String())
	}
	return db.store.Query(ctx, req, opts.Timeout)
}
