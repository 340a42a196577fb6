package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Query runs req's statements on a read-only connection of the local
// database (the real time and random functions, no log). It ends with
// ErrQueryTimeout after timeout (zero: Config.QueryTimeout). A write
// statement fails with SQLite's read-only error in its Result.
func (s *Store) Query(ctx context.Context, req Request, timeout time.Duration) ([]Result, error) {
	if err := s.checkRequest(req); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = s.cfg.QueryTimeout
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	conn, err := sqlite3.OpenFlags(filepath.Join(s.cfg.Dir, dbFileName), sqlite3.OPEN_READONLY)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query: open: %w", err)
	}
	defer conn.Close()
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn.SetInterrupt(qctx)
	// One read transaction: every statement sees the same state.
	if err := conn.Exec("BEGIN"); err != nil {
		return nil, fmt.Errorf("sqlstore: query: %w", err)
	}
	defer conn.Exec("ROLLBACK")
	results := make([]Result, 0, len(req.Statements))
	for _, st := range req.Statements {
		start := time.Now()
		r, err := execStatement(conn, st)
		if err != nil {
			if errors.Is(err, sqlite3.INTERRUPT) || qctx.Err() != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("%w after %v", ErrQueryTimeout, timeout)
			}
			r = Result{Error: err.Error()}
		}
		r.Time = time.Since(start)
		results = append(results, r)
	}
	return results, nil
}

// checkRequest refuses requests over the statement cap or empty ones.
func (s *Store) checkRequest(req Request) error {
	if len(req.Statements) == 0 {
		return fmt.Errorf("%w: no statements", ErrParams)
	}
	if len(req.Statements) > s.cfg.MaxStatements {
		return fmt.Errorf("%w: %d statements, at most %d", ErrTooManyStatements, len(req.Statements), s.cfg.MaxStatements)
	}
	return nil
}
