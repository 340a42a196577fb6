package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// tentative is one run of an interactive transaction on the apply
// connection: its earlier statements (each must still give the result the
// client saw) and the new ones, inside a SQLite transaction that is always
// rolled back.
type tentative struct {
	ts         int64  // the transaction's time: now() for all its statements
	seed       uint64 // the transaction's random seed
	prev       []Statement
	prevHashes []resultHash
	next       []Statement
	readOnly   bool // refuse statements that write
}

// runTentative runs t under the apply mutex and returns the new
// statements' results and hashes. Nothing it does reaches the file. An
// earlier statement whose result changed ends it with ErrTxnConflict; a
// statement that rolls back the whole transaction with ErrTxnAborted; a
// run past the query time limit with ErrQueryTimeout.
func (s *Store) runTentative(ctx context.Context, t tentative) ([]Result, []resultHash, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	if err := s.failedErr(); err != nil {
		return nil, nil, err
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	old := s.conn.SetInterrupt(qctx)
	defer s.conn.SetInterrupt(old)
	if err := s.execCtl("BEGIN"); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: transaction: begin: %w", err)
	}
	results, hashes, err := s.tentativeStatements(qctx, t)
	if !s.conn.GetAutocommit() {
		s.conn.SetInterrupt(context.Background())
		if rerr := s.execCtl("ROLLBACK"); rerr != nil {
			return nil, nil, errors.Join(err, fmt.Errorf("sqlstore: transaction: rollback: %w", rerr))
		}
	}
	if err != nil {
		if qctx.Err() != nil && !errors.Is(err, ErrTxnConflict) && !errors.Is(err, ErrTxnAborted) {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, nil, fmt.Errorf("%w after %v", ErrQueryTimeout, s.cfg.QueryTimeout)
		}
		return nil, nil, err
	}
	return results, hashes, nil
}

func (s *Store) tentativeStatements(ctx context.Context, t tentative) ([]Result, []resultHash, error) {
	if err := s.resetCounters(); err != nil {
		return nil, nil, err
	}
	for i, st := range t.prev {
		_, h, err := s.txnStatement(st, t.ts, t.seed, i, t.readOnly, false, nil)
		if err != nil {
			return nil, nil, err
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if h != t.prevHashes[i] {
			return nil, nil, conflictError(i, st)
		}
	}
	budget := s.cfg.MaxResultBytes
	results := make([]Result, 0, len(t.next))
	hashes := make([]resultHash, 0, len(t.next))
	for j, st := range t.next {
		r, h, err := s.txnStatement(st, t.ts, t.seed, len(t.prev)+j, t.readOnly, false, &budget)
		if err != nil {
			return nil, nil, err
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		results = append(results, r)
		hashes = append(hashes, h)
	}
	return results, hashes, nil
}

// runTxn applies a committed transaction c at its log position, inside
// the apply's SQLite transaction: every statement runs with the
// transaction's own time and seed, and must give the result its client
// saw. If one does not, the transaction's work is rolled back and the one
// Result returned carries the conflict; on success there are no results
// (the client has them already). The error return is for failures of the
// savepoint machinery, or a statement that rolled back everything.
func (s *Store) runTxn(c command) ([]Result, error) {
	if err := s.execCtl("SAVEPOINT txn"); err != nil {
		return nil, err
	}
	if err := s.resetCounters(); err != nil {
		return nil, err
	}
	for i, st := range c.Request.Statements {
		_, h, err := s.txnStatement(st, c.Timestamp, c.Seed, i, false, true, nil)
		if err != nil {
			return nil, err
		}
		if h != c.Check[i] {
			if err := s.execCtl("ROLLBACK TO txn"); err != nil {
				return nil, err
			}
			return []Result{{Error: conflictError(i, st).Error()}}, s.execCtl("RELEASE txn")
		}
	}
	return nil, s.execCtl("RELEASE txn")
}

// resetCounters zeroes last_insert_rowid() and changes(), so the results
// of a transaction's statements do not depend on what the apply
// connection ran before it.
func (s *Store) resetCounters() error {
	s.conn.SetLastInsertRowID(0)
	return s.execCtl("DELETE FROM _concord_meta WHERE 0")
}

func conflictError(i int, st Statement) error {
	sql := st.SQL
	if len(sql) > 60 {
		sql = sql[:60] + "..."
	}
	return fmt.Errorf("%w: statement %d (%q) no longer gives the result the transaction saw", ErrTxnConflict, i+1, sql)
}

// txnStatement runs one statement of a transaction under its own
// savepoint, so a failed statement leaves no trace, and returns its
// result (rows kept only when budget is not nil) and hash. The error is
// for what must end the run: an interrupt, a result over the budget, the
// savepoint machinery, or a statement that rolled back the transaction.
// When applying a commit, a local failure (I/O, corruption) stops the
// store, as for any apply.
func (s *Store) txnStatement(st Statement, ts int64, seed uint64, pos int, refuseWrites, applying bool, budget *int64) (Result, resultHash, error) {
	s.clock.setStatement(ts, seed, pos)
	if err := s.execCtl("SAVEPOINT stmt"); err != nil {
		return Result{}, resultHash{}, err
	}
	start := time.Now()
	s.user = true
	r, h, err := execHashed(s.conn, st, refuseWrites, budget)
	s.user = false
	if s.conn.GetAutocommit() {
		return Result{}, resultHash{}, fmt.Errorf("%w: statement %d (%q)", ErrTxnAborted, pos+1, st.SQL)
	}
	if err != nil {
		if errors.Is(err, sqlite3.INTERRUPT) || errors.Is(err, ErrResultTooLarge) {
			return Result{}, resultHash{}, err
		}
		if applying {
			s.noteFailure(err) // a local I/O or corruption failure: fail stop (recover.go)
		}
		msg := errorText(err)
		r, h = Result{Error: msg}, errorHash(msg)
		if err := s.execCtl("ROLLBACK TO stmt"); err != nil {
			return Result{}, resultHash{}, err
		}
	}
	r.Time = time.Since(start)
	return r, h, s.execCtl("RELEASE stmt")
}

// execHashed prepares, binds and steps one statement, hashing its result
// as it streams. Rows are kept only when budget is not nil, and their
// size counts against it.
func execHashed(conn *sqlite3.Conn, st Statement, refuseWrites bool, budget *int64) (Result, resultHash, error) {
	stmt, tail, err := conn.Prepare(st.SQL)
	if err != nil {
		return Result{}, resultHash{}, err
	}
	if stmt == nil {
		return Result{}, resultHash{}, errors.New("empty statement")
	}
	defer stmt.Close()
	if tail != "" && !onlySpace(tail) {
		return Result{}, resultHash{}, errors.New("one statement per entry: trailing SQL after the first statement")
	}
	if refuseWrites && !stmt.ReadOnly() {
		return Result{}, resultHash{}, ErrReadOnlyTxn
	}
	if err := bindParams(stmt, st); err != nil {
		return Result{}, resultHash{}, err
	}
	r := Result{ReadOnly: stmt.ReadOnly()}
	n := stmt.ColumnCount()
	for i := 0; i < n; i++ {
		r.Columns = append(r.Columns, stmt.ColumnName(i))
		r.Types = append(r.Types, strings.ToLower(stmt.ColumnDeclType(i))) // rqlite's form, as query.go
	}
	rh := newResultHasher(r.Columns)
	row := make([]any, n)
	for stmt.Step() {
		for i := range row {
			row[i] = columnValue(stmt, i)
		}
		rh.row(row)
		if budget == nil {
			continue
		}
		for _, v := range row {
			*budget -= valueSize(v)
		}
		if *budget < 0 {
			return Result{}, resultHash{}, ErrResultTooLarge
		}
		r.Rows = append(r.Rows, row)
		row = make([]any, n)
	}
	if err := stmt.Err(); err != nil {
		return Result{}, resultHash{}, err
	}
	if n == 0 {
		r.LastInsertID = conn.LastInsertRowID()
		r.RowsAffected = conn.Changes()
	}
	return r, rh.sum(r.LastInsertID, r.RowsAffected), nil
}

// valueSize is a row value's share of the result size cap.
func valueSize(v any) int64 {
	switch x := v.(type) {
	case string:
		return int64(len(x)) + 8
	case []byte:
		return int64(len(x)) + 8
	default:
		return 8
	}
}

// lastTimestamp is the time of the last applied command, so a
// transaction's time never runs behind the data it reads.
func (s *Store) lastTimestamp() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastTS
}
