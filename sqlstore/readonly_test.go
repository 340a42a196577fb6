package sqlstore

import "testing"

// TestReadOnly: ReadOnly judges a request as /db/request does; anything
// that may write, or does not prepare, is not read-only (the SQL guard
// then asks for write permission).
func TestReadOnly(t *testing.T) {
	db, _ := testDB(t, Config{})
	execOK(t, db, "CREATE TABLE t (v TEXT)")
	for _, tc := range []struct {
		sql  []string
		want bool
	}{
		{[]string{"SELECT * FROM t"}, true},
		{[]string{"SELECT 1", "SELECT v FROM t"}, true},
		{[]string{"INSERT INTO t VALUES ('x')"}, false},
		{[]string{"SELECT 1", "DELETE FROM t"}, false},
		{[]string{"CREATE TABLE u (v)"}, false},
		{[]string{"SELECT * FROM missing"}, false}, // does not prepare
		{[]string{"SELEC nonsense"}, false},
		{[]string{"ATTACH 'x.db' AS x"}, false}, // refused
	} {
		if got := db.ReadOnly(Request{Statements: stmts(tc.sql...)}); got != tc.want {
			t.Errorf("ReadOnly(%q) = %v, want %v", tc.sql, got, tc.want)
		}
	}
}
