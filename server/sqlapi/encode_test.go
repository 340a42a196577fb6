package sqlapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// writeString's fast path writes exactly what encoding/json writes.
func TestWriteStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "id", "value-123 with spaces", `quote"`, `back\slash`, "tab\t", "nl\n",
		"<html>&", "héllo", "\u2028", "\xff", "\x00", "\x7f", "~"} {
		var b bytes.Buffer
		writeString(&b, s)
		want, _ := json.Marshal(s)
		if b.String() != string(want) {
			t.Errorf("writeString(%q) = %s, want %s", s, b.String(), want)
		}
	}
}

func FuzzWriteString(f *testing.F) {
	for _, s := range []string{"", "a", `"`, "<", "\u2028", "\xff", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		writeString(&b, s)
		want, _ := json.Marshal(s)
		if b.String() != string(want) {
			t.Fatalf("writeString(%q) = %s, want %s", s, b.String(), want)
		}
	})
}

// BenchmarkEncodeInsert is the response of a one-row insert.
func BenchmarkEncodeInsert(b *testing.B) {
	rs := []Result{{LastInsertID: 12345, RowsAffected: 1}}
	b.ReportAllocs()
	for range b.N {
		encodeResponse(rs, formWrite, flags{}, time.Millisecond)
	}
}

// BenchmarkEncodePointQuery is the response of a one-row point query.
func BenchmarkEncodePointQuery(b *testing.B) {
	rs := []Result{{Columns: []string{"v"}, Types: []string{"text"}, Rows: [][]any{{strings.Repeat("x", 256)}}, ReadOnly: true}}
	b.ReportAllocs()
	for range b.N {
		encodeResponse(rs, formRows, flags{}, time.Millisecond)
	}
}

// BenchmarkDecodeInsert is the body of a one-row parameterized insert.
func BenchmarkDecodeInsert(b *testing.B) {
	body := []byte(`[["INSERT INTO t (k, v) VALUES (?, ?)", 12345, "` + strings.Repeat("x", 256) + `"]]`)
	b.ReportAllocs()
	for range b.N {
		if _, err := decodeStatements(bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}
