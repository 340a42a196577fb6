package sqlapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// resultForm says how a result is shown: as rows (a read), as the insert
// id and count (a write), or as whichever the statement was (/db/request).
type resultForm int

const (
	formRows resultForm = iota
	formWrite
	formAuto
)

// encodeResponse writes rqlite's response body:
//
//	{"results":[{"columns":[...],"types":[...],"values":[[...]]}, {"last_insert_id":1,"rows_affected":1}, {"error":"..."}],"time":0.001}
//
// with rows as objects under "rows" when associative, per-result and total
// "time" in seconds when timings, and BLOBs as base64 strings (rqlite's
// default) or arrays of bytes (blob_array). Integers are written exactly.
func encodeResponse(results []Result, form resultForm, f flags, elapsed time.Duration) []byte {
	var b bytes.Buffer
	b.Grow(128) // a one-row result or an insert's id fits without growing
	b.WriteString(`{"results":[`)
	for i, r := range results {
		if i > 0 {
			b.WriteByte(',')
		}
		encodeResult(&b, r, form, f)
	}
	b.WriteByte(']')
	if f.Timings {
		b.WriteString(`,"time":`)
		writeSeconds(&b, elapsed)
	}
	b.WriteString("}\n")
	if !f.Pretty {
		return b.Bytes()
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "    "); err != nil {
		return b.Bytes() // the body is built valid; indenting cannot fail
	}
	return out.Bytes()
}

func encodeResult(b *bytes.Buffer, r Result, form resultForm, f flags) {
	b.WriteByte('{')
	n := 0
	field := func(name string) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		writeString(b, name)
		b.WriteByte(':')
	}
	switch {
	case r.Error != "":
		field("error")
		writeString(b, r.Error)
	case form == formRows || (form == formAuto && (r.ReadOnly || len(r.Columns) > 0)):
		if f.Associative {
			encodeAssociative(b, r, field, f)
		} else {
			encodeTabular(b, r, field, f)
		}
	default:
		if r.LastInsertID != 0 {
			field("last_insert_id")
			b.WriteString(strconv.FormatInt(r.LastInsertID, 10))
		}
		if r.RowsAffected != 0 {
			field("rows_affected")
			b.WriteString(strconv.FormatInt(r.RowsAffected, 10))
		}
	}
	if f.Timings {
		field("time")
		writeSeconds(b, r.Time)
	}
	b.WriteByte('}')
}

func encodeTabular(b *bytes.Buffer, r Result, field func(string), f flags) {
	field("columns")
	writeStrings(b, r.Columns)
	field("types")
	writeStrings(b, r.Types)
	if len(r.Rows) == 0 {
		return // rqlite leaves out "values" when there are no rows
	}
	field("values")
	b.WriteByte('[')
	for i, row := range r.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for j, v := range row {
			if j > 0 {
				b.WriteByte(',')
			}
			writeValue(b, v, f.BlobArray)
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
}

func encodeAssociative(b *bytes.Buffer, r Result, field func(string), f flags) {
	field("types")
	b.WriteByte('{')
	for i, c := range r.Columns {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, c)
		b.WriteByte(':')
		typ := ""
		if i < len(r.Types) {
			typ = r.Types[i]
		}
		writeString(b, typ)
	}
	b.WriteByte('}')
	field("rows")
	b.WriteByte('[')
	for i, row := range r.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, c := range r.Columns {
			if j > 0 {
				b.WriteByte(',')
			}
			writeString(b, c)
			b.WriteByte(':')
			var v any
			if j < len(row) {
				v = row[j]
			}
			writeValue(b, v, f.BlobArray)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
}

// writeValue writes one SQLite value. A REAL that JSON cannot hold
// (infinity, NaN) is written as null.
func writeValue(b *bytes.Buffer, v any, blobArray bool) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			b.WriteString("null")
			return
		}
		enc, _ := json.Marshal(v)
		b.Write(enc)
	case string:
		writeString(b, v)
	case []byte:
		if !blobArray {
			writeString(b, base64.StdEncoding.EncodeToString(v))
			return
		}
		b.WriteByte('[')
		for i, c := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(int(c)))
		}
		b.WriteByte(']')
	default:
		enc, err := json.Marshal(v)
		if err != nil {
			b.WriteString("null")
			return
		}
		b.Write(enc)
	}
}

// writeString writes s as a JSON string, exactly as encoding/json would
// (HTML characters, U+2028/U+2029 and invalid UTF-8 escaped). Most column
// names, types and values are plain printable ASCII: those are copied
// between quotes without json.Marshal's reflection and allocation.
func writeString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			b.Write(enc)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

func writeStrings(b *bytes.Buffer, ss []string) {
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, s)
	}
	b.WriteByte(']')
}

func writeSeconds(b *bytes.Buffer, d time.Duration) {
	b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
}
