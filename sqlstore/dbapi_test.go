package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// testDB is a one-member DB on its own store; cfg's Dir is filled in.
func testDB(t *testing.T, cfg Config) (*DB, *Store) {
	t.Helper()
	cfg.Dir = t.TempDir()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return NewDB(s, singleNode(t, s)), s
}

func execOK(t *testing.T, db *DB, sql ...string) []Result {
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
	return rs
}

func TestDBRequestServesReadsLocallyAndWritesThroughTheLog(t *testing.T) {
	db, s := testDB(t, Config{})
	ctx := context.Background()
	execOK(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	before := s.AppliedIndex()
	rs, err := db.Request(ctx, Request{Statements: stmts("SELECT count(*) FROM t", "SELECT random()")}, QueryOptions{Level: LevelLinearizable})
	if err != nil || len(rs) != 2 || rs[0].Rows[0][0] != int64(0) {
		t.Fatalf("read request: %#v %v", rs, err)
	}
	if s.AppliedIndex() != before {
		t.Fatalf("a read-only request went through the log: index %d -> %d", before, s.AppliedIndex())
	}
	rs, err = db.Request(ctx, Request{Statements: stmts("INSERT INTO t (v) VALUES ('a')", "SELECT v FROM t")}, QueryOptions{Level: LevelNone})
	if err != nil || len(rs) != 2 || rs[0].RowsAffected != 1 || len(rs[1].Rows) != 1 || rs[1].Rows[0][0] != "a" {
		t.Fatalf("mixed request: %#v %v", rs, err)
	}
	if s.AppliedIndex() == before {
		t.Fatal("a request with a write did not go through the log")
	}
}

// TestDBRefusesBeforeProposing: what may not reach the log is refused
// with a typed error, and the applied index does not move.
func TestDBRefusesBeforeProposing(t *testing.T) {
	db, s := testDB(t, Config{MaxStatements: 3, MaxCommandBytes: 4096})
	ctx := context.Background()
	execOK(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	cases := []struct {
		sql  []string
		want error
	}{
		{[]string{"ATTACH DATABASE 'x.db' AS x"}, ErrForbidden},
		{[]string{"INSERT INTO t (v) VALUES ('ok')", "SELECT load_extension('x')"}, ErrForbidden},
		{[]string{"PRAGMA journal_mode=DELETE"}, ErrForbidden},
		{[]string{"VACUUM"}, ErrForbidden},
		{[]string{"BEGIN"}, ErrForbidden},
		{[]string{"INSERT INTO t (v) VALUES (total_changes())"}, ErrNotDeterministic},
		{[]string{"INSERT INTO t (v) VALUES (sqlite_version())"}, ErrNotDeterministic},
		{[]string{"PRAGMA foreign_keys=ON"}, ErrNotDeterministic},
		{[]string{"UPDATE _concord_meta SET value = 0"}, ErrForbidden},
		{[]string{"INSERT INTO t (v) VALUES (1)", "INSERT INTO t (v) VALUES (2)", "INSERT INTO t (v) VALUES (3)", "INSERT INTO t (v) VALUES (4)"}, ErrTooManyStatements},
		{[]string{"INSERT INTO t (v) VALUES ('" + strings.Repeat("x", 5000) + "')"}, ErrCommandTooLarge},
		{nil, ErrParams},
	}
	before := s.AppliedIndex()
	for _, c := range cases {
		_, err := db.Execute(ctx, Request{Statements: stmts(c.sql...)})
		if !errors.Is(err, c.want) {
			t.Errorf("%.60q: err %v, want %v", c.sql, err, c.want)
		}
		_, err = db.Request(ctx, Request{Statements: stmts(c.sql...)}, QueryOptions{})
		if !errors.Is(err, c.want) {
			t.Errorf("request %.60q: err %v, want %v", c.sql, err, c.want)
		}
	}
	if s.AppliedIndex() != before {
		t.Fatalf("refused requests moved the applied index %d -> %d", before, s.AppliedIndex())
	}
	// Reads may call random() and read pragmas, but not attach files.
	if _, err := db.Query(ctx, Request{Statements: stmts("SELECT random(), sqlite_version()", "PRAGMA table_info(t)")}, QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Query(ctx, Request{Statements: stmts("ATTACH DATABASE '/etc/passwd' AS x")}, QueryOptions{}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("attach in a query: %v", err)
	}
	if _, err := db.Query(ctx, Request{Statements: stmts("PRAGMA query_only=0")}, QueryOptions{}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("pragma in a query: %v", err)
	}
}

func TestQueryResultCapStopsReading(t *testing.T) {
	db, _ := testDB(t, Config{MaxResultBytes: 10_000})
	ctx := context.Background()
	execOK(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
		"INSERT INTO t (v) SELECT printf('%0100d', value) FROM generate_series(1, 200)")
	_, err := db.Query(ctx, Request{Statements: stmts("SELECT v FROM t")}, QueryOptions{})
	if !errors.Is(err, ErrResultTooLarge) || !strings.Contains(err.Error(), "10000") {
		t.Fatalf("err %v, want ErrResultTooLarge naming the cap", err)
	}
	// The cap is per request, across its statements.
	_, err = db.Query(ctx, Request{Statements: stmts("SELECT v FROM t LIMIT 60", "SELECT v FROM t LIMIT 60")}, QueryOptions{})
	if !errors.Is(err, ErrResultTooLarge) {
		t.Fatalf("two statements: %v", err)
	}
	rs, err := db.Query(ctx, Request{Statements: stmts("SELECT v FROM t LIMIT 50")}, QueryOptions{})
	if err != nil || len(rs[0].Rows) != 50 {
		t.Fatalf("under the cap: %d rows, %v", len(rs), err)
	}
}

func TestQueryPoolSeesARestoredFile(t *testing.T) {
	src := openTestStore(t)
	applyReq(t, src, 1, Request{Statements: stmts("CREATE TABLE t (v TEXT)", "INSERT INTO t VALUES ('snap')")})
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	dst, err := Open(Config{Dir: t.TempDir(), ReadConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	applyReq(t, dst, 1, Request{Statements: stmts("CREATE TABLE t (v TEXT)")})
	read := func() []Result {
		rs, err := dst.Query(context.Background(), Request{Statements: stmts("SELECT v FROM t")}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	if rs := read(); len(rs[0].Rows) != 0 {
		t.Fatalf("before restore: %v", rs[0].Rows)
	}
	if err := dst.RestoreRollback(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if rs := read(); len(rs[0].Rows) != 1 || rs[0].Rows[0][0] != "snap" {
		t.Fatalf("after restore a pooled reader sees %v", rs[0].Rows)
	}
}

func TestDBBackupIsAPlainDatabase(t *testing.T) {
	db, _ := testDB(t, Config{})
	execOK(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t (v) VALUES ('a'), ('b')")
	var buf bytes.Buffer
	if err := db.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte(sqliteHeader)) {
		t.Fatalf("backup does not start with the SQLite header: %q", buf.Bytes()[:16])
	}
	path := filepath.Join(t.TempDir(), "b.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	conn, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r, err := execStatement(conn, Statement{SQL: "SELECT group_concat(name) FROM sqlite_schema"})
	if err != nil || r.Rows[0][0] != "t" {
		t.Fatalf("backup's schema: %v %v (want only t, no _concord_meta)", r.Rows, err)
	}
	r, err = execStatement(conn, Statement{SQL: "PRAGMA journal_mode"})
	if err != nil || r.Rows[0][0] != "delete" {
		t.Fatalf("backup's journal mode: %v %v", r.Rows, err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("the backup opened in WAL mode")
	}
}

// dumpSchema is every test object: types that must survive a dump, an
// AUTOINCREMENT counter, an index, a view and a trigger.
var dumpSchema = []string{
	"CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v ANY, \"odd \"\"name\" TEXT)",
	"CREATE TABLE log (msg TEXT)",
	"CREATE INDEX t_v ON t (v)",
	"CREATE VIEW tv AS SELECT id, v FROM t",
	"CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('ins ' || new.id); END",
	"INSERT INTO t (v) VALUES (NULL), (9007199254740993), (-9223372036854775808), (2.0), (0.1), (1e300), (9e999), (-9e999)",
	"INSERT INTO t (v) VALUES ('it''s'), ('line\nbreak'), ('é'), (X'00FF10'), (CAST(X'610062' AS TEXT)), ('')",
	"DELETE FROM t WHERE id = 3",
}

func schemaOf(t *testing.T, s *Store) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := execStatement(s.conn, Statement{SQL: "SELECT group_concat(type || ' ' || name || ' ' || coalesce(sql, ''), ';') FROM (SELECT * FROM sqlite_schema ORDER BY name)"})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := r.Rows[0][0].(string)
	return v
}

func TestDBDumpLoadRoundTrip(t *testing.T) {
	src, srcStore := testDB(t, Config{})
	execOK(t, src, dumpSchema...)
	var text bytes.Buffer
	if err := src.Dump(context.Background(), &text); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), "_concord_meta") || !strings.HasPrefix(text.String(), "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n") ||
		!strings.HasSuffix(text.String(), "COMMIT;\n") {
		t.Fatalf("dump:\n%s", text.String())
	}

	dst, dstStore := testDB(t, Config{})
	execOK(t, dst, "CREATE TABLE gone (x)", "INSERT INTO gone VALUES (1)")
	if err := dst.Load(context.Background(), bytes.NewReader(text.Bytes())); err != nil {
		t.Fatal(err)
	}
	if TableHash(t, dstStore) != TableHash(t, srcStore) || schemaOf(t, dstStore) != schemaOf(t, srcStore) {
		t.Fatalf("loaded dump differs:\n%s\n%s", schemaOf(t, dstStore), schemaOf(t, srcStore))
	}
	// The AUTOINCREMENT counter and the trigger came along.
	rs := execOK(t, dst, "INSERT INTO t (v) VALUES ('next')")
	if rs[0].LastInsertID != 15 {
		t.Fatalf("next id %d, want 15", rs[0].LastInsertID)
	}
	q, err := dst.Query(context.Background(), Request{Statements: stmts("SELECT count(*) FROM log")}, QueryOptions{Level: LevelLinearizable})
	if err != nil || q[0].Rows[0][0] != int64(15) {
		t.Fatalf("trigger rows: %v %v", q, err)
	}
}

func TestDBLoadSQLiteFile(t *testing.T) {
	src, srcStore := testDB(t, Config{})
	execOK(t, src, dumpSchema...)
	var file bytes.Buffer
	if err := src.Backup(context.Background(), &file); err != nil {
		t.Fatal(err)
	}
	// The store's own file, as copied from a member's data dir, in WAL
	// mode and with the meta table, loads too.
	checkpointAll(t, srcStore)
	raw, err := os.ReadFile(filepath.Join(srcStore.cfg.Dir, dbFileName))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"backup": file.Bytes(), "raw file": raw} {
		dst, dstStore := testDB(t, Config{})
		execOK(t, dst, "CREATE TABLE gone (x)")
		if err := dst.Load(context.Background(), bytes.NewReader(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if TableHash(t, dstStore) != TableHash(t, srcStore) || schemaOf(t, dstStore) != schemaOf(t, srcStore) {
			t.Fatalf("%s: loaded file differs", name)
		}
	}
}

// TestDBLoadRefusals: bad loads are refused before the log and change
// nothing.
func TestDBLoadRefusals(t *testing.T) {
	db, s := testDB(t, Config{MaxLoadBytes: 64 << 10})
	execOK(t, db, "CREATE TABLE keep (x)", "INSERT INTO keep VALUES (1)")
	want := TableHash(t, s)
	before := s.AppliedIndex()
	big := "CREATE TABLE b (x);\n" + strings.Repeat("INSERT INTO b VALUES ('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx');\n", 2000)
	var bigFile bytes.Buffer
	{
		src, _ := testDB(t, Config{})
		execOK(t, src, "CREATE TABLE b (x)", "INSERT INTO b SELECT randomblob(1000) FROM generate_series(1, 100)")
		if err := src.Backup(context.Background(), &bigFile); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, body string
		want       error
	}{
		{"text too large", big, ErrLoadTooLarge},
		{"file too large", bigFile.String(), ErrLoadTooLarge},
		{"empty", " \n", ErrBadLoad},
		{"syntax error", "CREATE TABLE x (a);\nINSERT INTO nosuch VALUES (1);", ErrBadLoad},
		{"attach", "ATTACH DATABASE 'x.db' AS x;", ErrBadLoad},
		{"pragma", "CREATE TABLE x (a); PRAGMA journal_mode=DELETE;", ErrBadLoad},
		{"truncated file", sqliteHeader + "junk", ErrBadLoad},
		{"corrupt file", bigFile.String()[:4096] + strings.Repeat("\xff", 60000), ErrBadLoad},
	}
	for _, c := range cases {
		err := db.Load(context.Background(), strings.NewReader(c.body))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if errors.Is(err, ErrLoadTooLarge) && !strings.Contains(err.Error(), "concord snapshot restore") {
			t.Errorf("%s: %v does not point to concord snapshot restore", c.name, err)
		}
	}
	if s.AppliedIndex() != before || TableHash(t, s) != want {
		t.Fatalf("refused loads changed the database (index %d -> %d)", before, s.AppliedIndex())
	}
	if left, _ := filepath.Glob(filepath.Join(s.cfg.Dir, "*load-*")); len(left) > 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

// TestLoadApplyIsDeterministic: the same load command, with random() and
// the clock in it, gives identical tables on two stores; a load that
// fails at apply leaves the store as it was.
func TestLoadApplyIsDeterministic(t *testing.T) {
	script := "CREATE TABLE r (a, b, c DEFAULT CURRENT_TIMESTAMP);\nINSERT INTO r (a, b) VALUES (random(), randomblob(8)), (datetime('now'), random());\n"
	cmd := encodeLoadCommand(1_700_000_000_000_000_000, 7, script)
	var hashes []string
	for range 2 {
		s := openTestStore(t)
		applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE old (x)")})
		r, err := decodeResult(s.Apply(2, cmd))
		if err != nil || r.Err != "" || len(r.Results) != 1 || r.Results[0].Error != "" {
			t.Fatalf("load apply: %#v %v", r, err)
		}
		hashes = append(hashes, TableHash(t, s)+schemaOf(t, s))
		before := TableHash(t, s)
		r, _ = decodeResult(s.Apply(3, encodeLoadCommand(1, 1, "CREATE TABLE z (a); INSERT INTO nosuch VALUES (1);")))
		if len(r.Results) != 1 || !strings.Contains(r.Results[0].Error, "no such table") || TableHash(t, s) != before {
			t.Fatalf("failed load at apply: %#v", r)
		}
	}
	if hashes[0] != hashes[1] {
		t.Fatal("the same load gave different databases")
	}
	if _, err := decodeCommand(encodeLoadCommand(1, 1, "")); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("empty load command decoded: %v", err)
	}
}

// TestCountersStartFromZeroInEveryCommand: last_insert_rowid() and
// changes() do not carry over from earlier commands (a restarted member
// would not have them), nor from the meta table's bookkeeping.
func TestCountersStartFromZeroInEveryCommand(t *testing.T) {
	a := openTestStore(t)
	applyReq(t, a, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t (v) VALUES ('x')")})
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	b := openTestStore(t)
	if err := b.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	req := Request{Statements: stmts("INSERT INTO t (v) VALUES (last_insert_rowid() || '/' || changes())", "UPDATE t SET v = v WHERE id = 1")}
	ra, rb := applyReq(t, a, 2, req), applyReq(t, b, 2, req)
	if TableHash(t, a) != TableHash(t, b) {
		t.Fatal("a restored member computed last_insert_rowid()/changes() differently")
	}
	if got := ra.Results[1]; got.LastInsertID != 2 || got.RowsAffected != 1 || rb.Results[1].LastInsertID != 2 {
		t.Fatalf("UPDATE after INSERT in one request: %+v", got)
	}
	r := applyReq(t, a, 3, Request{Statements: stmts("UPDATE t SET v = v WHERE id = 1")})
	if got := r.Results[0]; got.LastInsertID != 0 || got.RowsAffected != 1 {
		t.Fatalf("UPDATE alone: %+v (the insert id of an earlier command or of the meta table leaked)", got)
	}
}

// FuzzLoadInput feeds /db/load bodies (outside input) through what runs
// before anything is proposed: every body is either accepted or refused
// with ErrBadLoad or ErrLoadTooLarge, and leaves no temporary file.
func FuzzLoadInput(f *testing.F) {
	f.Add([]byte("CREATE TABLE t (a);\nINSERT INTO t VALUES (1);\n"))
	f.Add([]byte("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t (a);\nCOMMIT;\n"))
	f.Add([]byte("ATTACH 'x' AS y;"))
	f.Add([]byte(sqliteHeader + strings.Repeat("\x00", 100)))
	f.Add([]byte("BEGIN"))
	f.Add([]byte("-- only a comment"))
	s, err := Open(Config{Dir: f.TempDir(), MaxLoadBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, body []byte) {
		script, err := s.loadScript(bytes.NewReader(body))
		if err == nil {
			err = s.tryLoad(script, 1, 1)
		}
		if err != nil && !errors.Is(err, ErrBadLoad) && !errors.Is(err, ErrLoadTooLarge) {
			t.Fatalf("untyped error %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(s.cfg.Dir, "*load-*")); len(left) > 0 {
			t.Fatalf("temporary files left behind: %v", left)
		}
	})
}

// checkpointAll moves the whole WAL into the database file. The
// background checkpointer may hold the checkpoint lock at that moment:
// wal_checkpoint then answers busy (in its first column, not as an error)
// having moved only part of the WAL, so it is retried until it is not.
func checkpointAll(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		stmt, _, err := s.conn.Prepare("PRAGMA wal_checkpoint(TRUNCATE)")
		busy := int64(1)
		if err == nil {
			if stmt.Step() {
				busy = stmt.ColumnInt64(0)
			}
			err = errors.Join(stmt.Err(), stmt.Close())
		}
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("wal_checkpoint(TRUNCATE) stayed busy for 10s")
		}
		time.Sleep(time.Millisecond) // poll the condition until the deadline
	}
}
