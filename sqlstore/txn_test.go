package sqlstore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
)

// logNode is a one-member "cluster" without raft: Apply appends the
// command to a log and applies it to every store in order at once, so
// tests control the interleaving of transactions exactly and can replay
// the same log on several stores.
type logNode struct {
	mu       sync.Mutex
	stores   []*Store
	log      [][]byte
	barriers int
}

func (n *logNode) Apply(_ context.Context, _ node.Type, payload []byte) (node.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = append(n.log, payload)
	idx := uint64(len(n.log))
	var out []byte
	for i, s := range n.stores {
		r := s.Apply(idx, payload)
		if i == 0 {
			out = r
		}
	}
	return node.Result{Index: idx, Data: out}, nil
}

func (n *logNode) ReadBarrier(context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.barriers++
	return nil
}

func (n *logNode) Status() node.Status { return node.Status{State: "Leader"} }

func (n *logNode) entries() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.log)
}

// txnDB is a DB over one store (more stores replay the same log).
func txnDB(t *testing.T, replicas int) (*DB, *logNode) {
	t.Helper()
	n := &logNode{}
	for range replicas {
		n.stores = append(n.stores, openTestStore(t))
	}
	return NewDB(n.stores[0], n), n
}

func mustExec(t *testing.T, db *DB, sql ...string) {
	t.Helper()
	rs, err := db.Execute(context.Background(), Request{Statements: stmts(sql...)})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.Error != "" {
			t.Fatalf("%s: %s", sql[i], r.Error)
		}
	}
}

func mustTx(t *testing.T, tx *Tx, sql string, args ...any) Result {
	t.Helper()
	rs, err := tx.Execute(context.Background(), []Statement{{SQL: sql, Positional: args}})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if rs[0].Error != "" {
		t.Fatalf("%s: %s", sql, rs[0].Error)
	}
	return rs[0]
}

func begin(t *testing.T, db *DB, opts TxOptions) *Tx {
	t.Helper()
	tx, err := db.BeginTx(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// committed reads the committed state, outside any transaction.
func committed(t *testing.T, db *DB, sql string) [][]any {
	t.Helper()
	rs, err := db.store.Query(context.Background(), Request{Statements: stmts(sql)}, 0)
	if err != nil || rs[0].Error != "" {
		t.Fatalf("%s: %v %+v", sql, err, rs)
	}
	return rs[0].Rows
}

func TestTxReadsOwnWritesAndCommitsAtomically(t *testing.T) {
	db, n := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	tx := begin(t, db, TxOptions{})
	if r := mustTx(t, tx, "INSERT INTO t (v) VALUES (?)", "a"); r.LastInsertID != 1 || r.RowsAffected != 1 {
		t.Fatalf("insert result %+v", r)
	}
	mustTx(t, tx, "INSERT INTO t (v) VALUES ('b')")
	if r := mustTx(t, tx, "SELECT count(*) FROM t"); r.Rows[0][0] != int64(2) {
		t.Fatalf("the transaction does not see its own writes: %v", r.Rows)
	}
	if rows := committed(t, db, "SELECT count(*) FROM t"); rows[0][0] != int64(0) {
		t.Fatalf("uncommitted rows visible outside: %v", rows)
	}
	before := n.entries()
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.entries() != before+1 {
		t.Fatalf("commit took %d log entries, want 1", n.entries()-before)
	}
	if rows := committed(t, db, "SELECT v FROM t ORDER BY id"); !reflect.DeepEqual(rows, [][]any{{"a"}, {"b"}}) {
		t.Fatalf("after commit: %v", rows)
	}
	if err := tx.Commit(context.Background()); !errors.Is(err, ErrTxnDone) {
		t.Fatalf("second commit: %v, want ErrTxnDone", err)
	}
}

// TestTxLostUpdateConflicts: two transactions read the same counter and
// write back read+1; the second to commit must fail, not lose the first.
func TestTxLostUpdateConflicts(t *testing.T) {
	db, _ := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER)", "INSERT INTO c VALUES (1, 0)")
	tx1, tx2 := begin(t, db, TxOptions{}), begin(t, db, TxOptions{})
	for _, tx := range []*Tx{tx1, tx2} {
		r := mustTx(t, tx, "SELECT n FROM c WHERE id = 1")
		mustTx(t, tx, "UPDATE c SET n = ? WHERE id = 1", r.Rows[0][0].(int64)+1)
	}
	if err := tx1.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(context.Background()); !errors.Is(err, ErrTxnConflict) {
		t.Fatalf("second commit: %v, want ErrTxnConflict", err)
	}
	if rows := committed(t, db, "SELECT n FROM c"); rows[0][0] != int64(1) {
		t.Fatalf("n = %v, want 1", rows[0][0])
	}
}

// TestTxSeesOneStateOrConflicts: a statement run after a concurrent commit
// changed what an earlier statement read ends the transaction at once,
// instead of showing the client a mix of two states.
func TestTxSeesOneStateOrConflicts(t *testing.T) {
	db, _ := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE a (id INTEGER PRIMARY KEY, bal INTEGER)", "INSERT INTO a VALUES (1, 50), (2, 50)")
	tx := begin(t, db, TxOptions{})
	mustTx(t, tx, "SELECT bal FROM a WHERE id = 1")
	mustExec(t, db, "UPDATE a SET bal = bal - 10 WHERE id = 1", "UPDATE a SET bal = bal + 10 WHERE id = 2")
	_, err := tx.Execute(context.Background(), stmts("SELECT bal FROM a WHERE id = 2"))
	if !errors.Is(err, ErrTxnConflict) {
		t.Fatalf("read after a conflicting commit: %v, want ErrTxnConflict", err)
	}
	if err := tx.Commit(context.Background()); !errors.Is(err, ErrTxnDone) {
		t.Fatalf("commit of a conflicted transaction: %v, want ErrTxnDone", err)
	}
}

// TestTxUnrelatedWritesDoNotConflict: writes to other rows, which also
// move last_insert_rowid(), changes() and the store's clock, between a
// transaction's statements and its commit do not make it fail.
func TestTxUnrelatedWritesDoNotConflict(t *testing.T) {
	db, n := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v ANY)", "CREATE TABLE other (id INTEGER PRIMARY KEY)")
	tx := begin(t, db, TxOptions{})
	mustTx(t, tx, "CREATE TABLE mine (x)")
	mustTx(t, tx, "INSERT INTO t (v) VALUES (random())")
	mustTx(t, tx, "INSERT INTO t (v) VALUES (datetime('now'))")
	seen := mustTx(t, tx, "SELECT v FROM t ORDER BY id").Rows
	mustExec(t, db, "INSERT INTO other VALUES (7)", "INSERT INTO other VALUES (8)", "DELETE FROM other")
	later, err := encodeCommand(command{Timestamp: tx.ts + int64(time.Hour), Request: Request{Statements: stmts("INSERT INTO other VALUES (9)")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Apply(context.Background(), node.TypeSQL, later); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, db, "SELECT v FROM t ORDER BY id"); !reflect.DeepEqual(got, seen) {
		t.Fatalf("committed %v, the transaction saw %v", got, seen)
	}
}

func TestTxRollbackForgets(t *testing.T) {
	db, n := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE t (v)")
	tx := begin(t, db, TxOptions{})
	mustTx(t, tx, "INSERT INTO t VALUES (1)")
	before := n.entries()
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background()); !errors.Is(err, ErrTxnDone) {
		t.Fatalf("commit after rollback: %v", err)
	}
	if _, err := tx.Execute(context.Background(), stmts("SELECT 1")); !errors.Is(err, ErrTxnDone) {
		t.Fatalf("execute after rollback: %v", err)
	}
	if n.entries() != before || len(committed(t, db, "SELECT * FROM t")) != 0 {
		t.Fatal("rollback reached the database")
	}
}

// TestTxReadOnlyCommitsWithoutTheLog: a transaction that only read commits
// with a barrier and a re-check, and fails if what it read changed.
func TestTxReadOnlyCommitsWithoutTheLog(t *testing.T) {
	db, n := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE t (v)", "INSERT INTO t VALUES (1)")
	tx := begin(t, db, TxOptions{})
	mustTx(t, tx, "SELECT sum(v) FROM t")
	rs, err := tx.Execute(context.Background(), stmts("SELECT * FROM missing")) // fails: still read-only
	if err != nil || rs[0].Error == "" {
		t.Fatalf("select from a missing table: %+v %v", rs, err)
	}
	before, barriers := n.entries(), n.barriers
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.entries() != before || n.barriers != barriers+1 {
		t.Fatalf("read-only commit: %d entries, %d barriers; want 0 and 1", n.entries()-before, n.barriers-barriers)
	}

	tx = begin(t, db, TxOptions{})
	mustTx(t, tx, "SELECT sum(v) FROM t")
	mustExec(t, db, "INSERT INTO t VALUES (2)")
	if err := tx.Commit(context.Background()); !errors.Is(err, ErrTxnConflict) {
		t.Fatalf("read-only commit after a change: %v, want ErrTxnConflict", err)
	}
}

func TestTxReadOnlyOptionRefusesWrites(t *testing.T) {
	db, _ := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE t (v)")
	tx := begin(t, db, TxOptions{ReadOnly: true})
	rs, err := tx.Execute(context.Background(), stmts("INSERT INTO t VALUES (1)", "SELECT count(*) FROM t"))
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Error != ErrReadOnlyTxn.Error() || rs[1].Rows[0][0] != int64(0) {
		t.Fatalf("results %+v", rs)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatalf("commit of a read-only transaction with a refused write: %v", err)
	}
}

// TestTxFailedStatementHasNoEffect: a statement SQLite rejects reports its
// error, leaves no trace, and the transaction goes on and commits.
func TestTxFailedStatementHasNoEffect(t *testing.T) {
	db, _ := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)", "INSERT INTO t VALUES (1, 'x')")
	tx := begin(t, db, TxOptions{})
	rs, err := tx.Execute(context.Background(), stmts("INSERT INTO t VALUES (2, 'y')", "INSERT INTO t VALUES (1, 'dup')", "INSERT INTO t VALUES (3, NULL)"))
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Error != "" || rs[1].Error == "" || rs[2].Error == "" {
		t.Fatalf("results %+v", rs)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, db, "SELECT id, v FROM t ORDER BY id"); !reflect.DeepEqual(got, [][]any{{int64(1), "x"}, {int64(2), "y"}}) {
		t.Fatalf("rows %v", got)
	}
}

// TestTxStatementThatRollsBackEverythingAborts: ON CONFLICT ROLLBACK ends
// the whole transaction, and the apply connection is left clean.
func TestTxStatementThatRollsBackEverythingAborts(t *testing.T) {
	db, _ := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	tx := begin(t, db, TxOptions{})
	mustTx(t, tx, "INSERT INTO t VALUES (2)")
	if _, err := tx.Execute(context.Background(), stmts("INSERT OR ROLLBACK INTO t VALUES (1)", "INSERT INTO t VALUES (3)")); !errors.Is(err, ErrTxnAborted) {
		t.Fatalf("OR ROLLBACK: %v, want ErrTxnAborted", err)
	}
	if err := tx.Commit(context.Background()); !errors.Is(err, ErrTxnDone) {
		t.Fatalf("commit: %v", err)
	}
	mustExec(t, db, "INSERT INTO t VALUES (4)")
	if got := committed(t, db, "SELECT id FROM t ORDER BY id"); !reflect.DeepEqual(got, [][]any{{int64(1)}, {int64(4)}}) {
		t.Fatalf("rows %v", got)
	}
}

func TestTxStatementCap(t *testing.T) {
	db, _ := txnDB(t, 1)
	tx := begin(t, db, TxOptions{})
	many := make([]Statement, MaxTxnStatements)
	for i := range many {
		many[i] = Statement{SQL: "SELECT 1"}
	}
	if _, err := tx.Execute(context.Background(), many); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Execute(context.Background(), stmts("SELECT 2")); !errors.Is(err, ErrTxnTooLong) {
		t.Fatalf("statement %d: %v, want ErrTxnTooLong", MaxTxnStatements+1, err)
	}
	if tx.Len() != MaxTxnStatements {
		t.Fatalf("Len %d after a refused statement", tx.Len())
	}
	if _, err := tx.Execute(context.Background(), []Statement{{SQL: "SELECT ?", Positional: []any{struct{}{}}}}); !errors.Is(err, ErrParams) {
		t.Fatalf("unsupported parameter: %v, want ErrParams", err)
	}
	if _, err := tx.Execute(context.Background(), stmts("ATTACH 'x.db' AS x")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("ATTACH: %v, want ErrForbidden", err)
	}
	if tx.Len() != MaxTxnStatements {
		t.Fatalf("Len %d after refused statements", tx.Len())
	}
}

// TestTxCommitIsDeterministic: the commit applied by three stores from the
// same log leaves identical tables, random() and now() included.
func TestTxCommitIsDeterministic(t *testing.T) {
	db, n := txnDB(t, 3)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, r, b, ts)")
	tx := begin(t, db, TxOptions{})
	for range 3 {
		mustTx(t, tx, "INSERT INTO t (r, b, ts) VALUES (random(), randomblob(8), strftime('%Y-%m-%d %H:%M:%f', 'now'))")
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := TableHash(t, n.stores[0])
	for i, s := range n.stores[1:] {
		if got := TableHash(t, s); got != want {
			t.Fatalf("store %d differs: %v vs %v", i+1, got, want)
		}
	}
}

// TestTxApplyRejectsChangedResults: a commit command whose recorded hash
// does not match is rolled back at apply, leaving only the applied index.
func TestTxApplyRejectsChangedResults(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (v)")})
	st := []Statement{{SQL: "INSERT INTO t VALUES (1)"}, {SQL: "SELECT count(*) FROM t"}}
	b, err := encodeTxnCommand(command{Timestamp: 1, Seed: 2, Request: Request{Statements: st, Transaction: true}, Check: make([]resultHash, 2)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeResult(s.Apply(2, b))
	if err != nil || r.Err != "" || len(r.Results) != 1 || r.Results[0].Error == "" {
		t.Fatalf("apply result %+v %v", r, err)
	}
	if s.AppliedIndex() != 2 {
		t.Fatalf("applied index %d", s.AppliedIndex())
	}
	rs, err := s.Query(context.Background(), Request{Statements: stmts("SELECT count(*) FROM t")}, 0)
	if err != nil || rs[0].Rows[0][0] != int64(0) {
		t.Fatalf("rolled-back commit left rows: %+v %v", rs, err)
	}
}

func TestTxnCommandRoundTrip(t *testing.T) {
	c := command{Timestamp: -5, Seed: 9, Request: Request{Transaction: true, Statements: []Statement{
		{SQL: "INSERT INTO t VALUES (?, :x)", Positional: []any{int64(1), "a"}},
		{SQL: "SELECT 1", Named: map[string]any{"x": []byte{0}}},
	}}, Check: []resultHash{{1, 2}, {3}}}
	b, err := encodeTxnCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeCommand(b)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := decodeCommand(b[:len(b)-1]); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("truncated: %v", err)
	}
}

// FuzzDecodeTxnCommand: no input makes the decoder panic, and what it
// accepts encodes back to the same bytes.
func FuzzDecodeTxnCommand(f *testing.F) {
	for _, c := range []command{
		{Request: Request{Statements: stmts("SELECT 1")}, Check: []resultHash{{}}},
		{Timestamp: 1 << 40, Seed: 3, Request: Request{Statements: []Statement{{SQL: "x", Positional: []any{nil, 1.5, true}}}}, Check: []resultHash{{9}}},
	} {
		b, err := encodeTxnCommand(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b)
		if err != nil || c.Check == nil {
			return
		}
		again, err := encodeTxnCommand(c)
		if err != nil {
			t.Fatalf("decoded command does not encode: %v", err)
		}
		c2, err := decodeCommand(again)
		if err != nil || !sameCommand(c2, c) {
			t.Fatalf("re-encoded command decodes to %+v, %v; want %+v", c2, err, c)
		}
	})
}

// TestTxCommitsInOneBatch: commits applied in one raft entry's batch give
// the same results and data as applied one by one, the conflicting one
// rolled back alone.
func TestTxCommitsInOneBatch(t *testing.T) {
	db, n := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER)", "INSERT INTO c VALUES (1, 0)")
	tx1, tx2 := begin(t, db, TxOptions{}), begin(t, db, TxOptions{})
	for _, tx := range []*Tx{tx1, tx2} {
		r := mustTx(t, tx, "SELECT n FROM c WHERE id = 1")
		mustTx(t, tx, "UPDATE c SET n = ? WHERE id = 1", r.Rows[0][0].(int64)+1)
		mustTx(t, tx, "INSERT INTO c VALUES (NULL, random())")
	}
	if err := tx1.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(context.Background()); !errors.Is(err, ErrTxnConflict) {
		t.Fatalf("second commit: %v", err)
	}
	mustExec(t, db, "INSERT INTO c VALUES (NULL, 9)")

	batched := openTestStore(t)
	out := batched.ApplyBatch(uint64(len(n.log)), n.log)
	var got []string
	for _, b := range out {
		r, err := decodeResult(b)
		if err != nil || r.Err != "" {
			t.Fatalf("batch result %+v %v", r, err)
		}
		switch {
		case len(r.Results) == 1 && strings.HasPrefix(r.Results[0].Error, ErrTxnConflict.Error()):
			got = append(got, "conflict")
		case len(r.Results) == 0:
			got = append(got, "committed")
		default:
			got = append(got, "write")
		}
	}
	want := []string{"write", "committed", "conflict", "write"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("batch outcomes %v, want %v", got, want)
	}
	if TableHash(t, batched) != TableHash(t, n.stores[0]) {
		t.Fatal("the batch left other data than the single applies")
	}
}

// TestTxLimitsLeaveTransactionAndApplyUsable: a statement past the query
// time limit is interrupted, one past the result cap is refused; the
// transaction goes on without it, and the apply connection is not left
// interrupted or inside a transaction.
func TestTxLimitsLeaveTransactionAndApplyUsable(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir(), QueryTimeout: 300 * time.Millisecond, MaxResultBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	n := &logNode{stores: []*Store{s}}
	db := NewDB(s, n)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY)") // explicit keys: no rowid conflict
	tx := begin(t, db, TxOptions{})
	mustTx(t, tx, "INSERT INTO t VALUES (1)")
	forever := "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
	if _, err := tx.Execute(context.Background(), stmts(forever)); !errors.Is(err, ErrQueryTimeout) {
		t.Fatalf("endless statement: %v, want ErrQueryTimeout", err)
	}
	big := "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 1000) SELECT i, 'padding padding' FROM r"
	if _, err := tx.Execute(context.Background(), stmts(big)); !errors.Is(err, ErrResultTooLarge) {
		t.Fatalf("large result: %v, want ErrResultTooLarge", err)
	}
	if tx.Len() != 1 {
		t.Fatalf("Len %d: refused statements joined the transaction", tx.Len())
	}
	mustExec(t, db, "INSERT INTO t VALUES (2)")
	if r := mustTx(t, tx, "SELECT count(*) FROM t"); r.Rows[0][0] != int64(2) {
		t.Fatalf("count %v", r.Rows)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rows := committed(t, db, "SELECT count(*) FROM t"); rows[0][0] != int64(2) {
		t.Fatalf("after commit: %v", rows)
	}
}

// TestTxInsertRowidIsPartOfTheResult: the rowid SQLite picks is the
// last_insert_id the client saw, so two transactions that let SQLite pick
// it in one table conflict; with keys given by the client both commit.
func TestTxInsertRowidIsPartOfTheResult(t *testing.T) {
	db, _ := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE auto (v)", "CREATE TABLE keyed (id INTEGER PRIMARY KEY, v)")
	for _, c := range []struct {
		insert       [2]string
		wantConflict bool
	}{
		{[2]string{"INSERT INTO auto VALUES ('a')", "INSERT INTO auto VALUES ('b')"}, true},
		{[2]string{"INSERT INTO keyed VALUES (10, 'a')", "INSERT INTO keyed VALUES (20, 'b')"}, false},
	} {
		tx1, tx2 := begin(t, db, TxOptions{}), begin(t, db, TxOptions{})
		mustTx(t, tx1, c.insert[0])
		mustTx(t, tx2, c.insert[1])
		if err := tx1.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		err := tx2.Commit(context.Background())
		if got := errors.Is(err, ErrTxnConflict); got != c.wantConflict {
			t.Fatalf("%s after %s: %v, conflict wanted: %v", c.insert[1], c.insert[0], err, c.wantConflict)
		}
	}
}
