package sqlstore

import (
	"strings"
	"testing"
)

func TestApplyRefusesForbiddenStatements(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER)")})
	idx := uint64(2)
	for _, q := range []string{
		"ATTACH DATABASE 'x.db' AS x",
		"DETACH DATABASE main",
		"BEGIN", "COMMIT", "SAVEPOINT a",
		"PRAGMA journal_mode=DELETE", "PRAGMA synchronous=FULL", "PRAGMA writable_schema=ON",
		// Connection state a restarted member would not have.
		"PRAGMA foreign_keys=ON", "PRAGMA recursive_triggers=1",
		// Member-dependent answers.
		"INSERT INTO t VALUES (total_changes())", "SELECT sqlite_version()",
		// concord's own table.
		"UPDATE _concord_meta SET value = 0", "DELETE FROM _concord_meta", "INSERT INTO _concord_meta VALUES ('x', 1)",
		"DROP TABLE _concord_meta", "ALTER TABLE _concord_meta ADD COLUMN c", "CREATE INDEX m ON _concord_meta (value)",
		"CREATE TRIGGER m AFTER UPDATE ON _concord_meta BEGIN SELECT 1; END",
	} {
		r := applyReq(t, s, idx, Request{Statements: stmts(q)})
		idx++
		if !strings.Contains(r.Results[0].Error, "not authorized") {
			t.Errorf("%s: error %q, want not authorized", q, r.Results[0].Error)
		}
	}
	// This SQLite build has no load_extension at all.
	r := applyReq(t, s, idx, Request{Statements: stmts("SELECT load_extension('x')")})
	idx++
	if r.Results[0].Error == "" {
		t.Error("load_extension ran")
	}
	for _, q := range []string{"SELECT * FROM _concord_meta", "PRAGMA foreign_keys", "PRAGMA table_info(t)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (changes())"} {
		r := applyReq(t, s, idx, Request{Statements: stmts(q)})
		idx++
		if r.Results[0].Error != "" {
			t.Errorf("%s: %q", q, r.Results[0].Error)
		}
	}
}
