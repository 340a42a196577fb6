package sqldriver_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/server/sqlapi/sqlapitest"
	"github.com/concord-db/concord/sqldriver"
)

func openDB(t *testing.T, endpoints ...string) *sql.DB {
	t.Helper()
	db, err := sql.Open("concord", "concord://"+strings.Join(endpoints, ",")+"/?timeout=10s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t testing.TB, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) sql.Result {
	t.Helper()
	r, err := db.ExecContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return r
}

func TestDriverTypesArgsAndErrors(t *testing.T) {
	srv := sqlapitest.StartStore(t)
	db := openDB(t, srv.Addr)
	exec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, ts DATETIME, n)")
	when := time.Date(2024, 2, 29, 13, 4, 5, 123456789, time.UTC)
	r := exec(t, db, "INSERT INTO t (i, f, s, b, ts, n) VALUES (?, ?, ?, ?, ?, ?)", int64(math.MaxInt64), 2.0, "é\"x", []byte{0, 255}, when, nil)
	if id, _ := r.LastInsertId(); id != 1 {
		t.Fatalf("last insert id %d", id)
	}
	exec(t, db, "INSERT INTO t (i, s) VALUES (:i, :s)", sql.Named("i", int64(1)<<53+1), sql.Named("s", "named"))
	r = exec(t, db, "UPDATE t SET n = 1")
	if n, _ := r.RowsAffected(); n != 2 {
		t.Fatalf("rows affected %d", n)
	}

	var (
		i    int64
		f    float64
		s    string
		b    []byte
		ts   time.Time
		null sql.NullString
	)
	row := db.QueryRow("SELECT i, f, s, b, ts, NULL FROM t WHERE id = ?", 1)
	if err := row.Scan(&i, &f, &s, &b, &ts, &null); err != nil {
		t.Fatal(err)
	}
	if i != math.MaxInt64 || f != 2.0 || s != "é\"x" || !bytes.Equal(b, []byte{0, 255}) || !ts.Equal(when) || null.Valid {
		t.Fatalf("got %v %v %q %v %v %v", i, f, s, b, ts, null)
	}
	var any1 any
	if err := db.QueryRow("SELECT f FROM t WHERE id = 1").Scan(&any1); err != nil || any1 != 2.0 {
		t.Fatalf("REAL column as any: %#v %v", any1, err)
	}
	if err := db.QueryRow("SELECT i FROM t WHERE s = :s", sql.Named("s", "named")).Scan(&i); err != nil || i != 1<<53+1 {
		t.Fatalf("named query: %d %v", i, err)
	}
	var id int64
	if err := db.QueryRow("INSERT INTO t (s) VALUES ('returning') RETURNING id").Scan(&id); err != nil || id != 3 {
		t.Fatalf("INSERT RETURNING: %d %v", id, err)
	}
	rows, err := db.Query("SELECT id FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if rows.Close(); len(ids) != 3 || ids[2] != 3 {
		t.Fatalf("ids %v", ids)
	}

	_, err = db.Exec("INSERT INTO missing VALUES (1)")
	if !errors.Is(err, sqldriver.ErrStatement) || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("bad statement: %v", err)
	}
	if _, err := db.Exec("SELECT ?", math.NaN()); err == nil {
		t.Fatal("NaN accepted")
	}
}

func TestDriverTxReadsOwnWritesAndRollsBack(t *testing.T) {
	srv := sqlapitest.StartStore(t)
	db := openDB(t, srv.Addr)
	exec(t, db, "CREATE TABLE t (v TEXT)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx, "INSERT INTO t VALUES ('a')")
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("inside: %d %v", n, err)
	}
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 0 {
		t.Fatalf("outside before commit: %d %v", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after commit: %d %v", n, err)
	}

	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx, "INSERT INTO t VALUES ('b')")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after rollback: %d %v", n, err)
	}

	ro, err := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Exec("INSERT INTO t VALUES ('c')"); !errors.Is(err, sqldriver.ErrStatement) {
		t.Fatalf("write in a read-only transaction: %v", err)
	}
	if err := ro.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestDriverTxConflict: two transactions read and write the same row; the
// second to commit fails with ErrTxnConflict and changes nothing.
func TestDriverTxConflict(t *testing.T) {
	srv := sqlapitest.StartStore(t)
	db := openDB(t, srv.Addr)
	exec(t, db, "CREATE TABLE c (n INTEGER)")
	exec(t, db, "INSERT INTO c VALUES (0)")
	var txs []*sql.Tx
	for range 2 {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := tx.QueryRow("SELECT n FROM c").Scan(&n); err != nil {
			t.Fatal(err)
		}
		exec(t, tx, "UPDATE c SET n = ?", n+1)
		txs = append(txs, tx)
	}
	if err := txs[0].Commit(); err != nil {
		t.Fatal(err)
	}
	err := txs[1].Commit()
	if !errors.Is(err, sqldriver.ErrTxnConflict) {
		t.Fatalf("second commit: %v, want ErrTxnConflict", err)
	}
	var n int
	if err := db.QueryRow("SELECT n FROM c").Scan(&n); err != nil || n != 1 {
		t.Fatalf("n = %d %v, want 1", n, err)
	}
}

// TestDriverMemberRestartMidTransaction: the member holding a transaction
// restarts; the transaction fails with ErrTxnLost and nothing of it is in
// the database.
func TestDriverMemberRestartMidTransaction(t *testing.T) {
	srv := sqlapitest.StartStore(t)
	db := openDB(t, srv.Addr)
	exec(t, db, "CREATE TABLE t (v)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx, "INSERT INTO t VALUES (1)")
	srv.Restart()
	if _, err := tx.Exec("INSERT INTO t VALUES (2)"); !errors.Is(err, sqldriver.ErrTxnLost) {
		t.Fatalf("statement after the restart: %v, want ErrTxnLost", err)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("commit after the restart succeeded")
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after a lost transaction: %d %v", n, err)
	}
}

// TestDriverFailsOverOnlyWhenNothingWasSent: a member that refuses
// connections is skipped; a member that takes a write and hangs up makes
// the write's outcome unknown, and the write is not sent to another one.
func TestDriverFailsOverOnlyWhenNothingWasSent(t *testing.T) {
	srv := sqlapitest.StartStore(t)
	refused := closedAddr(t)
	db := openDB(t, refused, srv.Addr)
	exec(t, db, "CREATE TABLE t (v)")
	exec(t, db, "INSERT INTO t VALUES (1)")

	hangUp, l := listen(t)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			c.Close()
		}
	}()
	db2 := openDB(t, hangUp, srv.Addr)
	_, err := db2.Exec("INSERT INTO t VALUES (2)")
	if !errors.Is(err, sqldriver.ErrOutcomeUnknown) {
		t.Fatalf("write to a member that hung up: %v, want ErrOutcomeUnknown", err)
	}
	var n int
	if err := db2.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the read fails over, and the write was not resent: %d %v", n, err)
	}
}

func listen(t *testing.T) (string, net.Listener) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), l
}

func closedAddr(t *testing.T) string {
	addr, l := listen(t)
	l.Close()
	return addr
}
