package sqldriver

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDSN(t *testing.T) {
	cfg, err := ParseDSN("concord://a:1,b:2/?level=strong&timeout=5s&freshness=2s")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Endpoints: []string{"http://a:1", "http://b:2"}, Level: "strong", Timeout: 5 * time.Second, Freshness: 2 * time.Second}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
	cfg, err = ParseDSN("concord://a:1")
	if err != nil || cfg.Level != "linearizable" || cfg.Timeout != DefaultTimeout || cfg.Endpoints[0] != "http://a:1" {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	cfg, err = ParseDSN("concord://a:1/?tls=true")
	if err != nil || cfg.TLS == nil || cfg.Endpoints[0] != "https://a:1" {
		t.Fatalf("tls: %+v %v", cfg, err)
	}
	for dsn, msg := range map[string]string{
		"http://a:1":                       "must start with concord://",
		"concord://":                       "want member addresses",
		"concord://a:1/x":                  "want member addresses",
		"concord://a:1,/":                  `member ""`,
		"concord://a:1/?level=serial":      "level",
		"concord://a:1/?timeout=soon":      "timeout",
		"concord://a:1/?timeout=-1s":       "timeout",
		"concord://a:1/?colour=red":        `"colour" is unknown`,
		"concord://a:1/?tls=maybe":         "true or false",
		"concord://a:1/?cacert=/nope.pem":  "TLS",
		"concord://http://a:1/?level=none": "want member addresses",
	} {
		if _, err := ParseDSN(dsn); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseDSN(%q) = %v, want an error containing %q", dsn, err, msg)
		}
	}
}

func TestValueEncoding(t *testing.T) {
	when := time.Date(2024, 2, 29, 13, 4, 5, 600, time.FixedZone("", 3600))
	b, err := encodeStatement("INSERT", []driver.NamedValue{
		{Ordinal: 1, Value: nil}, {Ordinal: 2, Value: int64(math.MaxInt64)}, {Ordinal: 3, Value: 2.0},
		{Ordinal: 4, Value: 0.1}, {Ordinal: 5, Value: true}, {Ordinal: 6, Value: "é"},
		{Ordinal: 7, Value: []byte{0, 255}}, {Ordinal: 8, Value: when},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[["INSERT",null,9223372036854775807,2.0,0.1,true,"é",[0,255],"2024-02-29 13:04:05.0000006+01:00"]]`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if b, err = encodeStatement("S", []driver.NamedValue{{Name: "id", Value: int64(1)}}); err != nil || string(b) != `[["S",{"id":1}]]` {
		t.Fatalf("named: %s %v", b, err)
	}
	if _, err := encodeStatement("S", []driver.NamedValue{{Name: "id", Value: int64(1)}, {Ordinal: 2, Value: int64(2)}}); err == nil {
		t.Fatal("mixed named and positional arguments accepted")
	}
	if _, err := encodeStatement("S", []driver.NamedValue{{Ordinal: 1, Value: math.Inf(1)}}); err == nil {
		t.Fatal("infinity accepted")
	}
}

func TestValueDecoding(t *testing.T) {
	cases := []struct {
		json string
		decl string
		want driver.Value
	}{
		{`null`, "", nil},
		{`9007199254740993`, "integer", int64(9007199254740993)},
		{`-9223372036854775808`, "", int64(math.MinInt64)},
		{`2`, "real", 2.0},
		{`2`, "", int64(2)},
		{`0.5`, "", 0.5},
		{`1e300`, "", 1e300},
		{`"x"`, "text", "x"},
		{`[1,2,255]`, "blob", []byte{1, 2, 255}},
		{`"2024-02-29 13:04:05.0000006+01:00"`, "datetime", time.Date(2024, 2, 29, 13, 4, 5, 600, time.FixedZone("", 3600))},
		{`"2024-02-29"`, "DATE", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{`"not a time"`, "timestamp", "not a time"},
		{`"2024-02-29"`, "text", "2024-02-29"},
	}
	for _, c := range cases {
		dec := json.NewDecoder(strings.NewReader(c.json))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		got, err := decodeValue(v, c.decl)
		if err != nil {
			t.Fatalf("%s %s: %v", c.json, c.decl, err)
		}
		if tm, ok := c.want.(time.Time); ok {
			if gt, ok := got.(time.Time); !ok || !gt.Equal(tm) {
				t.Errorf("%s as %s = %#v, want %v", c.json, c.decl, got, tm)
			}
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s as %s = %#v, want %#v", c.json, c.decl, got, c.want)
		}
	}
	if _, err := decodeValue([]any{json.Number("256")}, "blob"); err == nil {
		t.Error("a BLOB element of 256 decoded")
	}
}

// FuzzParseDSN: no DSN makes the parser panic, and an accepted one has
// members with a scheme and a known level.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"concord://a:1,b:2/?level=none&freshness=1s", "concord://a:1/?tls=true", "concord://", "concord://a:1/?%zz", "concord://a/?timeout=1h&level=strong"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		cfg, err := ParseDSN(dsn)
		if err != nil {
			return
		}
		if len(cfg.Endpoints) == 0 || !contains(levels, cfg.Level) || cfg.Timeout <= 0 {
			t.Fatalf("accepted %q as %+v", dsn, cfg)
		}
		for _, e := range cfg.Endpoints {
			if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
				t.Fatalf("endpoint %q", e)
			}
		}
	})
}

func TestStatusErrorKinds(t *testing.T) {
	for _, c := range []struct {
		status int
		o      op
		want   error
	}{
		{409, opTx, ErrTxnConflict}, {409, opCommit, ErrTxnConflict},
		{404, opTx, ErrTxnLost}, {404, opCommit, ErrTxnLost}, {404, opRead, nil},
		{504, opWrite, ErrOutcomeUnknown}, {504, opCommit, ErrOutcomeUnknown}, {504, opRead, nil},
		{503, opCommit, ErrTxnLost}, {503, opTx, ErrTxnLost}, {503, opWrite, nil}, {400, opTx, nil},
	} {
		err := statusError(c.status, "msg", c.o)
		var e *Error
		if !errors.As(err, &e) || e.Kind != c.want || e.Status != c.status {
			t.Errorf("status %d op %d: %#v, want kind %v", c.status, c.o, err, c.want)
		}
	}
}
