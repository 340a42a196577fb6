package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/concord-db/concord/node"
)

// MaxTxnStatements caps the statements of one interactive transaction:
// each Execute re-runs all earlier ones under the apply mutex.
const MaxTxnStatements = 500

// Errors of interactive transactions, for errors.Is.
var (
	// ErrTxnConflict: a serialization failure. A statement's result
	// changed since the client saw it, so the transaction was not (and
	// will not be) applied; run it again from the start.
	ErrTxnConflict = errors.New("sqlstore: transaction conflict (serialization failure), retry the transaction")
	// ErrTxnDone: the transaction was already committed, rolled back or
	// aborted.
	ErrTxnDone = errors.New("sqlstore: transaction has already ended")
	// ErrTxnTooLong: the transaction would pass MaxTxnStatements.
	ErrTxnTooLong = errors.New("sqlstore: too many statements in transaction")
	// ErrTxnAborted: a statement rolled back the whole transaction (ON
	// CONFLICT ROLLBACK or RAISE(ROLLBACK)); the transaction is over.
	ErrTxnAborted = errors.New("sqlstore: a statement rolled back the transaction")
	// ErrReadOnlyTxn is the error result of a statement that writes in a
	// read-only transaction.
	ErrReadOnlyTxn = errors.New("sqlstore: cannot write in a read-only transaction")
)

// TxOptions configure BeginTx.
type TxOptions struct {
	// ReadOnly refuses statements that write (each fails in its Result
	// with ErrReadOnlyTxn's text).
	ReadOnly bool
}

// Tx is an interactive transaction: optimistic, serializable (in fact
// strictly serializable), on any member, surviving leader changes.
//
// A Tx holds no lock and no connection between calls: only its statements,
// the hash of each result its client saw, and a time and random seed fixed
// at BeginTx. Each Execute runs the transaction tentatively under the apply
// mutex, on the apply connection: BEGIN, re-run every earlier statement
// (each must still give the result the client saw, or the transaction ends
// with ErrTxnConflict), run the new ones, ROLLBACK. So reads see the
// transaction's own writes, every result a client sees is consistent with
// one state of the database, and the cost of a transaction of n statements
// is O(n²) statement runs (hence MaxTxnStatements).
//
// Commit proposes one log command: the statements and their result hashes.
// Every member applies it in log order in one SQLite transaction; if any
// statement's result differs from the one its client saw, the work is
// rolled back and Commit returns ErrTxnConflict. Identical results at the
// commit's log position make the transaction equivalent to running
// atomically there. A transaction whose statements only read (or failed)
// commits without the log: a read barrier, then one more tentative run
// that must reproduce every result, places it atomically at a point
// between Commit's call and its return.
//
// random(), randomblob() and the clock functions use the transaction's own
// seed and time, so re-runs and the commit compute the same values; now()
// is the time the transaction began (as PostgreSQL's now()).
//
// A commit goes through node.Apply, which forwards it to the leader and
// retries it across leader changes without applying it twice. If its
// outcome cannot be known (the error matches node.ErrUnknownOutcome) the
// transaction is over and must not be committed again.
//
// Its methods are safe for concurrent use (they run one at a time). It
// holds nothing on the database, so a Tx dropped without Commit or
// Rollback costs only its memory.
type Tx struct {
	db       *DB
	ts       int64
	seed     uint64
	readOnly bool

	mu     sync.Mutex
	stmts  []Statement
	hashes []resultHash
	writes bool  // a statement wrote (succeeded and is not read-only)
	done   error // why the transaction ended; nil while open
}

// BeginTx starts a transaction on this member. It passes a read barrier
// first, so the transaction's first reads are as fresh as a
// linearizable read and on a follower it is unlikely to conflict merely
// for being behind.
func (db *DB) BeginTx(ctx context.Context, opts TxOptions) (*Tx, error) {
	if err := db.node.ReadBarrier(ctx); err != nil {
		return nil, fmt.Errorf("sqlstore: begin transaction: read barrier: %w", err)
	}
	ts := max(time.Now().UnixNano(), db.store.lastTimestamp())
	return &Tx{db: db, ts: ts, seed: rand.Uint64(), readOnly: opts.ReadOnly}, nil
}

// Execute runs stmts in the transaction, in order, and returns their
// results as of now, with the transaction's earlier writes visible. A
// statement that fails reports SQLite's error in its Result, has no
// effect, and stays part of the transaction (it must fail the same way at
// commit). ErrTxnConflict or ErrTxnAborted end the transaction; other
// errors (ErrParams, ErrForbidden, ErrNotDeterministic, ErrTxnTooLong,
// ErrQueryTimeout, ErrResultTooLarge) leave it as it was, without stmts.
func (tx *Tx) Execute(ctx context.Context, stmts []Statement) ([]Result, error) {
	if _, err := tx.db.store.inspect(Request{Statements: stmts}); err != nil {
		return nil, err
	}
	if _, err := encodeCommand(command{Request: Request{Statements: stmts}}); err != nil {
		return nil, err
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done != nil {
		return nil, tx.done
	}
	if n := len(tx.stmts) + len(stmts); n > MaxTxnStatements {
		return nil, fmt.Errorf("%w: %d statements, at most %d", ErrTxnTooLong, n, MaxTxnStatements)
	}
	results, hashes, err := tx.db.store.runTentative(ctx, tentative{
		ts: tx.ts, seed: tx.seed, prev: tx.stmts, prevHashes: tx.hashes, next: stmts, readOnly: tx.readOnly,
	})
	if err != nil {
		if errors.Is(err, ErrTxnConflict) || errors.Is(err, ErrTxnAborted) {
			tx.end(err)
		}
		return nil, err
	}
	tx.stmts = append(tx.stmts, stmts...)
	tx.hashes = append(tx.hashes, hashes...)
	for _, r := range results {
		if r.Error == "" && !r.ReadOnly {
			tx.writes = true
		}
	}
	return results, nil
}

// end records why the transaction is over; later calls return it.
func (tx *Tx) end(why error) {
	tx.done = fmt.Errorf("%w (%v)", ErrTxnDone, why)
}

// Commit applies the transaction, or returns ErrTxnConflict if it can no
// longer be applied as the client saw it. Whatever it returns, the
// transaction is over. An error matching node.ErrUnknownOutcome means the
// commit may or may not have been applied.
func (tx *Tx) Commit(ctx context.Context) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done != nil {
		return tx.done
	}
	err := tx.commit(ctx)
	if err != nil {
		tx.end(err)
	} else {
		tx.end(errors.New("committed"))
	}
	return err
}

func (tx *Tx) commit(ctx context.Context) error {
	if len(tx.stmts) == 0 {
		return nil
	}
	if !tx.writes {
		return tx.recheck(ctx)
	}
	b, err := encodeTxnCommand(command{
		Timestamp: tx.ts, Seed: tx.seed,
		Request: Request{Statements: tx.stmts, Transaction: true}, Check: tx.hashes,
	})
	if err != nil {
		return err
	}
	if err := tx.db.store.checkCommandSize(b); err != nil {
		return err
	}
	res, err := tx.db.node.Apply(ctx, node.TypeSQL, b)
	if err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	ar, err := decodeResult(res.Data)
	if err != nil {
		return fmt.Errorf("sqlstore: commit at index %d: %w", res.Index, err)
	}
	if ar.Err != "" {
		return commandError("commit", res.Index, ar.Err)
	}
	if len(ar.Results) > 0 {
		why := strings.TrimPrefix(ar.Results[0].Error, ErrTxnConflict.Error()+": ")
		return fmt.Errorf("%w: at index %d, %s", ErrTxnConflict, res.Index, why)
	}
	return nil
}

// recheck commits a transaction that wrote nothing: after a read barrier,
// every result must still be what the client saw.
func (tx *Tx) recheck(ctx context.Context) error {
	if err := tx.db.node.ReadBarrier(ctx); err != nil {
		return fmt.Errorf("sqlstore: commit: read barrier: %w", err)
	}
	_, _, err := tx.db.store.runTentative(ctx, tentative{ts: tx.ts, seed: tx.seed, prev: tx.stmts, prevHashes: tx.hashes, readOnly: tx.readOnly})
	return err
}

// Rollback forgets the transaction. It returns ErrTxnDone if the
// transaction had already ended.
func (tx *Tx) Rollback() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done != nil {
		return tx.done
	}
	tx.end(errors.New("rolled back"))
	return nil
}

// Len is the number of statements in the transaction so far.
func (tx *Tx) Len() int {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return len(tx.stmts)
}
