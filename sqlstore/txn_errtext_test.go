package sqlstore

import (
	"context"
	"testing"
)

// TestTxStatementErrorIsSQLiteText: a failed statement in an interactive
// transaction reads as on every other path (SQLite's own text, as rqlite
// gives), without the driver's "sqlite3: ..." prefix.
func TestTxStatementErrorIsSQLiteText(t *testing.T) {
	db, _ := txnDB(t, 1)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	tx := begin(t, db, TxOptions{})
	defer tx.Rollback()
	for sql, want := range map[string]string{
		"SELECT * FROM nosuch":     "no such table: nosuch",
		"INSERT INTO t VALUES (1)": "UNIQUE constraint failed: t.id",
	} {
		rs, err := tx.Execute(context.Background(), stmts(sql))
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		q, err := db.store.Query(context.Background(), Request{Statements: stmts(sql)}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if rs[0].Error != want || (q[0].Error != want && sql[0] == 'S') {
			t.Fatalf("%s: transaction %q, query %q, want %q", sql, rs[0].Error, q[0].Error, want)
		}
	}
}
