package sqlapi

import (
	"bytes"
	"net/url"
	"reflect"
	"testing"
	"time"
)

func TestDecodeStatementForms(t *testing.T) {
	got, err := decodeStatements(bytes.NewReader([]byte(
		`["SELECT 1", ["SELECT ?, ?, ?, ?", 9223372036854775807, 0.5, true, null], ["SELECT :a", {"a": "x"}], ["SELECT ?", [7]]]`)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Statement{
		{SQL: "SELECT 1"},
		{SQL: "SELECT ?, ?, ?, ?", Positional: []any{int64(9223372036854775807), 0.5, int64(1), nil}},
		{SQL: "SELECT :a", Named: map[string]any{"a": "x"}},
		{SQL: "SELECT ?", Positional: []any{[]byte{7}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	q, _ := url.ParseQuery("level=none&freshness=2s&freshness_strict&db_timeout=250ms&timeout=5&associative&redirect&transaction=false")
	f, err := parseFlags(q)
	if err != nil {
		t.Fatal(err)
	}
	want := flags{Associative: true, Timeout: 5 * time.Second,
		Query: QueryOptions{Level: LevelNone, Freshness: 2 * time.Second, FreshnessStrict: true, Timeout: 250 * time.Millisecond}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v\nwant %+v", f, want)
	}
	f, err = parseFlags(url.Values{})
	if err != nil || f.Query.Level != LevelWeak || f.Timeout != DefaultTimeout {
		t.Fatalf("defaults: %+v %v", f, err)
	}
	for query, want := range map[string]QueryOptions{
		"level=auto":                                 {Level: LevelWeak},
		"level=LINEARIZABLE":                         {Level: LevelLinearizable},
		"level=strong&freshness=1s":                  {Level: LevelStrong},
		"freshness=1s&freshness_strict":              {Level: LevelWeak},
		"level=none&freshness=1s":                    {Level: LevelNone, Freshness: time.Second},
		"level=none&freshness_strict=0&db_timeout=1": {Level: LevelNone, Timeout: time.Second},
	} {
		q, _ := url.ParseQuery(query)
		f, err := parseFlags(q)
		if err != nil || f.Query != want {
			t.Errorf("%s: got %+v %v, want %+v", query, f.Query, err, want)
		}
	}
	for _, bad := range []string{"level=none&level=weak", "level=eventual", "timeout=0s", "timeout=-1s", "db_timeout=25h", "wait", "pretty=yes!"} {
		q, _ := url.ParseQuery(bad)
		if _, err := parseFlags(q); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

// FuzzDecodeStatements: any body either decodes into statements that all
// have SQL and only SQLite-typed parameters, or is refused with a 4xx.
func FuzzDecodeStatements(f *testing.F) {
	for _, seed := range []string{
		`["SELECT 1"]`, `[["INSERT INTO t VALUES(?, ?)", 1, "a"]]`, `[["SELECT :a", {"a": [1, 2]}]]`,
		`[["x", 1e400]]`, `[[]]`, `[1]`, `{}`, `[""]`, `["a"] x`, `[["q", {"a": {"b": 1}}]]`, `[["q", -0.0, 18446744073709551616]]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		stmts, err := decodeStatements(bytes.NewReader(body))
		if err != nil {
			if s := errorStatus(err); s != 400 && s != 413 {
				t.Fatalf("refusal with status %d: %v", s, err)
			}
			return
		}
		if len(stmts) == 0 {
			t.Fatal("no statements and no error")
		}
		for _, s := range stmts {
			if s.SQL == "" {
				t.Fatal("a statement without SQL")
			}
			for _, v := range s.Positional {
				checkParam(t, v)
			}
			for _, v := range s.Named {
				checkParam(t, v)
			}
		}
	})
}

func checkParam(t *testing.T, v any) {
	switch v.(type) {
	case nil, int64, float64, string, []byte:
	default:
		t.Fatalf("parameter of type %T", v)
	}
}
