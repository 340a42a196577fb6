package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Query runs req's statements on a pooled read-only connection of the
// local database (the real time and random functions, no log), all in
// one read transaction so they see the same state. It ends with
// ErrQueryTimeout after timeout (zero: Config.QueryTimeout), with
// ErrResultTooLarge once the rows read pass Config.MaxResultBytes, and
// with ErrForbidden for ATTACH, transaction control or a PRAGMA that
// would change the connection. A write statement fails with SQLite's
// read-only error in its Result.
func (s *Store) Query(ctx context.Context, req Request, timeout time.Duration) ([]Result, error) {
	if err := s.checkRequest(req); err != nil {
		return nil, err
	}
	if err := s.failedErr(); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = s.cfg.QueryTimeout
	}
	start := time.Now()
	defer func() { s.met().querySeconds.Observe(time.Since(start).Seconds()) }()
	rc, err := s.reader()
	if err != nil {
		return nil, err
	}
	defer s.release(rc)
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc.conn.SetInterrupt(qctx)
	if err := rc.ctl.exec(rc.conn, "BEGIN"); err != nil {
		return nil, fmt.Errorf("sqlstore: query: %w", err)
	}
	defer rc.ctl.exec(rc.conn, "ROLLBACK")
	budget := s.cfg.MaxResultBytes
	results := make([]Result, 0, len(req.Statements))
	for i, st := range req.Statements {
		begin := time.Now()
		rc.user = true
		r, err := runStmtCached(rc.conn, rc.stmts, st, &budget)
		rc.user = false
		if err != nil {
			switch {
			case rc.denied != nil:
				return nil, fmt.Errorf("statement %d: %w", i+1, rc.denied)
			case errors.Is(err, ErrResultTooLarge):
				return nil, fmt.Errorf("statement %d: %w: more than %d bytes of rows (MaxResultBytes; select fewer rows or columns)", i+1, ErrResultTooLarge, s.cfg.MaxResultBytes)
			case errors.Is(err, sqlite3.INTERRUPT) || qctx.Err() != nil:
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				s.met().interrupted.Inc()
				return nil, fmt.Errorf("%w after %v", ErrQueryTimeout, timeout)
			}
			r = Result{Error: errorText(err)}
		}
		r.Time = time.Since(begin)
		results = append(results, r)
	}
	return results, nil
}

// rowBytes is what one row counts against MaxResultBytes: the length of
// each text and blob, 8 bytes for any other value.
func rowBytes(row []any) int64 {
	var n int64
	for _, v := range row {
		switch x := v.(type) {
		case string:
			n += int64(len(x))
		case []byte:
			n += int64(len(x))
		default:
			n += 8
		}
	}
	return n
}

// runStmt prepares, binds and steps one statement on conn, prepared anew
// (runStmtCached with no cache).
func runStmt(conn *sqlite3.Conn, st Statement, budget *int64) (Result, error) {
	return runStmtCached(conn, nil, st, budget)
}

// runStmtCached prepares (through cache, stmtcache.go), binds and steps
// one statement on conn. Column types are the declared types in lower
// case, as rqlite reports them; columns are read after the first step,
// when a cached statement SQLite re-prepared after a schema change
// reports the current ones. Rows count against *budget when budget is not
// nil; past it the statement stops with ErrResultTooLarge, so a huge
// result never sits in memory whole.
func runStmtCached(conn *sqlite3.Conn, cache *stmtCache, st Statement, budget *int64) (Result, error) {
	stmt, tail, cached, err := cache.prepare(conn, st.SQL)
	if err != nil {
		return Result{}, err
	}
	if stmt == nil {
		return Result{}, errors.New("empty statement")
	}
	defer cache.done(stmt, cached)
	if tail != "" && !onlySpace(tail) {
		return Result{}, errors.New("one statement per entry: trailing SQL after the first statement")
	}
	if err := bindParams(stmt, st); err != nil {
		return Result{}, err
	}
	more := stmt.Step()
	r := Result{ReadOnly: stmt.ReadOnly()}
	n := stmt.ColumnCount()
	if n > 0 {
		r.Columns = make([]string, n)
		r.Types = make([]string, n)
		for i := 0; i < n; i++ {
			r.Columns[i] = stmt.ColumnName(i)
			r.Types[i] = strings.ToLower(stmt.ColumnDeclType(i))
		}
	}
	for ; more; more = stmt.Step() {
		row := make([]any, n)
		for i := range row {
			row[i] = columnValue(stmt, i)
		}
		if budget != nil {
			if *budget -= rowBytes(row); *budget < 0 {
				return Result{}, ErrResultTooLarge
			}
		}
		r.Rows = append(r.Rows, row)
	}
	if err := stmt.Err(); err != nil {
		return Result{}, err
	}
	if n == 0 {
		r.LastInsertID = conn.LastInsertRowID()
		r.RowsAffected = conn.Changes()
	}
	return r, nil
}

// errorText is a failed statement's error as its Result carries it:
// SQLite's own message ("no such table: t"), as rqlite reports it,
// without the driver's "sqlite3: <code>: " prefix; other errors whole.
func errorText(err error) string {
	var e *sqlite3.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	msg := strings.TrimPrefix(e.Error(), "sqlite3: ")
	if _, after, ok := strings.Cut(msg, ": "); ok {
		return after
	}
	return msg
}
