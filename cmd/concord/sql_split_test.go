package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		in    string
		stmts []string
		rest  string
	}{
		{"SELECT 1; SELECT 2;", []string{"SELECT 1;", "SELECT 2;"}, ""},
		{"SELECT 1;\nSELECT", []string{"SELECT 1;"}, "SELECT"},
		{"INSERT INTO t VALUES('a;b', \"c;\", [d;], `e;`);", []string{"INSERT INTO t VALUES('a;b', \"c;\", [d;], `e;`);"}, ""},
		{"SELECT 'it''s;'; x", []string{"SELECT 'it''s;';"}, "x"},
		{"SELECT 1 -- a; comment\n;", []string{"SELECT 1 -- a; comment\n;"}, ""},
		{"SELECT /* ; */ 1;", []string{"SELECT /* ; */ 1;"}, ""},
		{"SELECT 'unterminated;", nil, "SELECT 'unterminated;"},
		{";;SELECT 1;", []string{"SELECT 1;"}, ""},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET v = 1; DELETE FROM u; END; SELECT 1;",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET v = 1; DELETE FROM u; END;", "SELECT 1;"}, ""},
		{"create temp trigger tr after insert on t begin select 1;", nil, "create temp trigger tr after insert on t begin select 1;"},
		{"SELECT 'é;ü'; SELECT 2", []string{"SELECT 'é;ü';"}, "SELECT 2"},
	}
	for _, c := range cases {
		stmts, rest := splitStatements(c.in)
		if !reflect.DeepEqual(stmts, c.stmts) || rest != c.rest {
			t.Errorf("%q:\n got %q rest %q\nwant %q rest %q", c.in, stmts, rest, c.stmts, c.rest)
		}
	}
}

func TestPrintRowsModes(t *testing.T) {
	r := sqlResult{Columns: []string{"id", "name"}, Values: [][]any{{json.Number("9007199254740993"), "ann"}, {json.Number("2"), nil}}}
	want := map[string]string{
		"table": "+------------------+------+\n| id               | name |\n+------------------+------+\n| 9007199254740993 | ann  |\n| 2                | NULL |\n+------------------+------+\n",
		"json":  "[{\"id\":9007199254740993,\"name\":\"ann\"},\n{\"id\":2,\"name\":null}]\n",
		"csv":   "id,name\n9007199254740993,ann\n2,\n",
		"line":  "  id = 9007199254740993\nname = ann\n\n  id = 2\nname = NULL\n",
	}
	for _, mode := range sqlModes {
		var b bytes.Buffer
		if err := printRows(&b, mode, r); err != nil {
			t.Fatal(err)
		}
		if b.String() != want[mode] {
			t.Errorf("mode %s:\n got %q\nwant %q", mode, b.String(), want[mode])
		}
	}
}
