package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/server/sqlapi/sqlapitest"
)

// TestSQLScriptMode runs concord sql -e and stdin scripts against the SQL
// API: output modes, dot commands, multi-line statements, and the exit
// codes scripts rely on.
func TestSQLScriptMode(t *testing.T) {
	srv := sqlapitest.Start(t, 0)
	ep := "--endpoints=" + srv.Addr
	sql := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, stdin, append([]string{"sql", ep}, args...)...)
	}
	mustSQL := func(stdin string, want string, args ...string) {
		t.Helper()
		code, out, errs := sql(stdin, args...)
		if code != exitOK || out != want {
			t.Fatalf("sql %v <<%q: exit %d\n got %q (stderr %q)\nwant %q", args, stdin, code, out, errs, want)
		}
	}
	mustSQL("", "", "-e", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER);")
	mustSQL("", "1 row(s) affected\n1 row(s) affected\n",
		"-e", "INSERT INTO t(v, n) VALUES('a;b', 9007199254740993);", "-e", "INSERT INTO t(v) VALUES('c')")
	mustSQL("", "+----+-----+------------------+\n| id | v   | n                |\n+----+-----+------------------+\n"+
		"| 1  | a;b | 9007199254740993 |\n| 2  | c   | NULL             |\n+----+-----+------------------+\n",
		"-e", "SELECT * FROM t ORDER BY id")
	// Statements over several lines on stdin, dot commands between them.
	script := "SELECT id,\n  v\nFROM t\nWHERE id = 1;\n.mode csv\nSELECT id FROM t ORDER BY id;\n.tables\n.mode line\nSELECT n FROM t WHERE id = 1\n"
	mustSQL(script, "+----+-----+\n| id | v   |\n+----+-----+\n| 1  | a;b |\n+----+-----+\nid\n1\n2\nname\nt\nn = 9007199254740993\n")
	mustSQL(".schema t\n", "sql\n\"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)\"\n", "--mode", "csv")
	mustSQL("", "[{\"v\":\"c\"}]\n", "--mode", "json", "--consistency", "none", "-e", "SELECT v FROM t WHERE id = 2")
	if lvl := srv.DB.LastOptions().Level.String(); lvl != "none" {
		t.Fatalf("--consistency none reached the database as %s", lvl)
	}
	mustSQL(".consistency strong\nSELECT 1 AS x;\n.consistency\n", "x\n1\nstrong\n", "--mode", "csv")
	if lvl := srv.DB.LastOptions().Level.String(); lvl != "strong" {
		t.Fatalf(".consistency strong reached the database as %s", lvl)
	}

	// .backup writes a SQLite file; .restore brings it back.
	file := filepath.Join(t.TempDir(), "t.db")
	mustSQL(".backup "+file+"\nDELETE FROM t;\n.restore "+file+"\n",
		"backed up 8192 bytes to "+file+"\n2 row(s) affected\nrestored "+file+"\n")
	if data, err := os.ReadFile(file); err != nil || !strings.HasPrefix(string(data), "SQLite format 3\x00") {
		t.Fatalf("backup file: %v %q", err, data[:min(16, len(data))])
	}
	mustSQL("", "count(*)\n2\n", "--mode", "csv", "-e", "SELECT count(*) FROM t")

	// A failing statement stops the script with exit code 1: the next
	// statement does not run.
	code, out, errs := sql("", "-e", "INSERT INTO nosuch VALUES(1); INSERT INTO t(v) VALUES('never')")
	if code != exitFailure || !strings.Contains(out, "Error: no such table: nosuch") || !strings.Contains(errs, "stopped at line 1") {
		t.Fatalf("failed statement: exit %d out %q err %q", code, out, errs)
	}
	mustSQL("", "count(*)\n2\n", "--mode", "csv", "-e", "SELECT count(*) FROM t")

	// Each -e is its own input: an unterminated statement ends with its
	// -e and does not run into the next one's dot command.
	mustSQL("", "x\n1\nname\nt\n", "--mode", "csv", "-e", "SELECT 1 AS x", "-e", ".tables")
	code, _, errs = sql("", "-e", "SELECT 1", "-e", "SELECT * FROM nosuch", "-e", "INSERT INTO t(v) VALUES('never')")
	if code != exitFailure || !strings.Contains(errs, "-e #2") {
		t.Fatalf("failing second -e: exit %d err %q", code, errs)
	}
	mustSQL("", "count(*)\n2\n", "--mode", "csv", "-e", "SELECT count(*) FROM t")

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-e", ".mode fancy"}, exitFailure, `unknown mode "fancy"`},
		{[]string{"-e", ".frob"}, exitFailure, "unknown command .frob"},
		{[]string{"--mode", "fancy", "-e", "SELECT 1"}, exitUsage, "--mode"},
		{[]string{"--consistency", "eventual", "-e", "SELECT 1"}, exitUsage, "--consistency"},
	} {
		code, _, errs := sql("", c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d %q, want %d with %q", c.args, code, errs, c.code, c.msg)
		}
	}
	code, _, errs = run(t, "", "sql", "--endpoints", "127.0.0.1:1", "-e", "SELECT 1")
	if code != exitFailure || !strings.Contains(errs, "no endpoint answered") {
		t.Errorf("unreachable endpoint: exit %d %q", code, errs)
	}
}

// TestSQLREPL drives the interactive loop as a terminal would: keys in,
// screen out. Errors are shown and the shell goes on; .quit ends it.
func TestSQLREPL(t *testing.T) {
	srv := sqlapitest.Start(t, 0)
	sh := &sqlShell{client: &sqlClient{endpoints: []string{srv.Addr}, http: http.DefaultClient},
		timeout: 10 * time.Second, mode: "csv", level: "weak"}
	// Up arrow four times recalls ".frob", from the history file of a past session.
	histFile := filepath.Join(t.TempDir(), "history")
	if err := os.WriteFile(histFile, []byte(".frob\n.mode csv\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := "SELECT 1\r  AS x;\r\x1b[A\x1b[A\x1b[A\x1b[A\rSELEC 2;\r.quit\rSELECT 'not run';\r"
	var screen bytes.Buffer
	if err := sqlREPL(sh, struct {
		io.Reader
		io.Writer
	}{strings.NewReader(keys), &screen}, loadSQLHistory(histFile)); err != nil {
		t.Fatal(err)
	}
	out := screen.String()
	for _, want := range []string{"concord> SELECT 1", "    ...>   AS x;", "x\r\n1\r\n", "Error: unknown command .frob", `Error: near "SELEC": syntax error`} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not run") {
		t.Errorf("a line after .quit ran:\n%s", out)
	}
	saved, err := os.ReadFile(histFile)
	if want := ".frob\n.mode csv\nSELECT 1\n  AS x;\n.frob\nSELEC 2;\n.quit\n"; err != nil || string(saved) != want {
		t.Errorf("history file: %q %v, want %q", saved, err, want)
	}
}
