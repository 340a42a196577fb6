package sqlstore

import (
	"errors"
	"fmt"
)

// A statement can end the whole SQLite transaction of an apply: an
// INSERT or UPDATE OR ROLLBACK whose constraint fails, or a trigger's
// RAISE(ROLLBACK, ...). SQLite then rolls back the BEGIN IMMEDIATE that
// holds the raft entry, with the other commands of the batch, the
// command's earlier statements and every savepoint. rqlite runs each
// request on its own, where OR ROLLBACK acts like ABORT: the statement
// fails and is undone, a ?transaction request is undone whole, and
// nothing else is touched. The apply gives the same: it notes the
// statement's failure, begins the entry again, and on the re-run reports
// the noted failure for that statement without running it. What ran
// before it runs again with the same time and seed on the same data, so
// it gives the same results on every member. Each start over notes one
// more statement, so the entry ends.

// applyRun is the state of one Apply or ApplyBatch across its starts.
type applyRun struct {
	pos    int               // the running command's position in its entry
	failed map[runKey]string // statements that rolled back everything: their error
}

// runKey names a statement of the entry; stmt is -1 for a whole command
// (a transaction's commit or a load).
type runKey struct{ pos, stmt int }

// errRolledBackAll: a statement ended the entry's SQLite transaction.
type errRolledBackAll struct {
	key runKey
	msg string
}

func (e *errRolledBackAll) Error() string {
	return fmt.Sprintf("sqlstore: command %d statement %d rolled back the apply transaction: %s", e.key.pos+1, e.key.stmt+1, e.msg)
}

// runOne runs statement i of the current command, or reports the failure
// noted for it by an earlier start.
func (s *Store) runOne(i int, st Statement) (Result, error) {
	k := runKey{s.run.pos, i}
	if msg, ok := s.run.failed[k]; ok {
		return Result{Error: msg}, nil
	}
	r := s.runStatement(st)
	if s.conn.GetAutocommit() {
		msg := r.Error
		if msg == "" {
			msg = "the statement rolled back the transaction"
		}
		return Result{}, &errRolledBackAll{key: k, msg: msg}
	}
	return r, nil
}

// runWhole runs a command that is one unit (a transaction's commit or a
// load), or reports the failure noted for it.
func (s *Store) runWhole(c command, ts int64) ([]Result, error) {
	k := runKey{s.run.pos, -1}
	if msg, ok := s.run.failed[k]; ok {
		return []Result{{Error: msg}}, nil
	}
	var res []Result
	var err error
	if c.Load != "" {
		res, err = s.runLoad(c, ts) // a /db/load (load.go)
	} else {
		res, err = s.runTxn(c) // an interactive transaction's commit (txn_exec.go)
	}
	if s.conn.GetAutocommit() {
		msg := "the command rolled back the transaction"
		if err != nil {
			msg = errorText(err)
		} else if len(res) > 0 && res[0].Error != "" {
			msg = res[0].Error
		}
		return nil, &errRolledBackAll{key: k, msg: msg}
	}
	return res, err
}

// startOver reports whether err is a statement that rolled back the
// entry's transaction; if so it notes the statement's failure, and the
// caller begins the entry again.
func (s *Store) startOver(err error) bool {
	var rb *errRolledBackAll
	if !errors.As(err, &rb) || !s.conn.GetAutocommit() {
		return false
	}
	if _, seen := s.run.failed[rb.key]; seen {
		return false // cannot happen: a noted statement does not run
	}
	if s.run.failed == nil {
		s.run.failed = map[runKey]string{}
	}
	s.run.failed[rb.key] = rb.msg
	return true
}

// endRun forgets an apply's start-over state.
func (s *Store) endRun() { s.run = applyRun{} }
