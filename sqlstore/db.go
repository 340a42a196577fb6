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
// raft log, reads are served at the requested consistency level. Every
// method works on any member and is safe for concurrent use.
//
// Errors: bad input comes back as one of the package's sentinel errors
// (ErrParams, ErrTooManyStatements, ErrCommandTooLarge, ErrForbidden,
// ErrNotDeterministic, ErrResultTooLarge, ErrQueryTimeout, ErrStale,
// ErrLoadTooLarge, ErrBadLoad), wrapped with context, before anything is
// proposed; the node's errors (node.ErrNoLeader, node.ErrUnknownOutcome,
// ...) come through wrapped. A statement SQLite rejects is not an error of
// the call: its Result carries SQLite's text.
type DB struct {
	store *Store
	node  Node
}

// NewDB returns the API over store, replicated by n.
func NewDB(s *Store, n Node) *DB {
	return &DB{store: s, node: n}
}

// Store is the member's state machine under db.
func (db *DB) Store() *Store { return db.store }

// Execute runs req through the log, after inspect refused what may not
// reach it. This member stamps it with its time and a random seed so
// every member applies it identically.
func (db *DB) Execute(ctx context.Context, req Request) ([]Result, error) {
	if _, err := db.store.inspect(req); err != nil {
		return nil, err
	}
	return db.propose(ctx, req)
}

// propose encodes req as one command, checks its size and applies it
// through the log.
func (db *DB) propose(ctx context.Context, req Request) ([]Result, error) {
	b, err := encodeCommand(command{Timestamp: time.Now().UnixNano(), Seed: rand.Uint64(), Request: req})
	if err != nil {
		return nil, err
	}
	if err := db.store.checkCommandSize(b); err != nil {
		return nil, err
	}
	return db.apply(ctx, b, "execute")
}

// apply proposes an encoded command and decodes the leader's result.
func (db *DB) apply(ctx context.Context, b []byte, what string) ([]Result, error) {
	res, err := db.node.Apply(ctx, node.TypeSQL, b)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	ar, err := decodeResult(res.Data)
	if err != nil {
		return nil, err
	}
	if ar.Err != "" {
		return nil, commandError(what, res.Index, ar.Err)
	}
	return ar.Results, nil
}

// Query serves a read at opts.Level: none reads locally (refused with
// ErrStale past opts.Freshness), weak and linearizable pass a read
// barrier then read locally, strong goes through the log.
func (db *DB) Query(ctx context.Context, req Request, opts QueryOptions) ([]Result, error) {
	if opts.Level == LevelStrong {
		return db.Execute(ctx, req)
	}
	if err := db.readAt(ctx, opts); err != nil {
		return nil, err
	}
	return db.store.Query(ctx, req, opts.Timeout)
}

// readAt waits until a local read at opts.Level may be served.
func (db *DB) readAt(ctx context.Context, opts QueryOptions) error {
	switch opts.Level {
	case LevelNone:
		if opts.Freshness > 0 {
			st := db.node.Status()
			if st.State != "Leader" && (st.Leader == "" || st.LastContact > opts.Freshness) {
				return fmt.Errorf("%w: last heard from the leader %v ago, bound %v", ErrStale, st.LastContact, opts.Freshness)
			}
		}
	case LevelWeak, LevelLinearizable:
		if err := db.node.ReadBarrier(ctx); err != nil {
			return fmt.Errorf("sqlstore: read barrier: %w", err)
		}
	default:
		return errors.New("sqlstore: unknown consistency level " + opts.Level.String())
	}
	return nil
}

// Request is rqlite's /db/request: a request whose statements all read
// is served as Query at opts' level; one with any write goes through the
// log whole (its reads included, so they see its writes).
func (db *DB) Request(ctx context.Context, req Request, opts QueryOptions) ([]Result, error) {
	readOnly, err := db.store.inspect(req)
	if readOnly {
		return db.Query(ctx, req, opts)
	}
	if err != nil {
		return nil, err
	}
	return db.propose(ctx, req)
}
