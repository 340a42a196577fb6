package sqlstore

import (
	"encoding/binary"
	"fmt"
	"time"
)

const resultVersion = 1

// applyResult is what Apply sends back to the proposer: a command-level
// error (the command did not decode, or the whole transaction failed
// before any statement ran) or one Result per statement.
type applyResult struct {
	Err     string
	Results []Result
}

// encodeResult renders r compactly (not JSON: it may cross the network).
func encodeResult(r applyResult) []byte {
	b := []byte{resultVersion}
	b = appendString(b, r.Err)
	b = binary.AppendUvarint(b, uint64(len(r.Results)))
	for _, res := range r.Results {
		b = binary.AppendUvarint(b, uint64(len(res.Columns)))
		for _, c := range res.Columns {
			b = appendString(b, c)
		}
		b = binary.AppendUvarint(b, uint64(len(res.Types)))
		for _, t := range res.Types {
			b = appendString(b, t)
		}
		b = binary.AppendUvarint(b, uint64(len(res.Rows)))
		for _, row := range res.Rows {
			b = binary.AppendUvarint(b, uint64(len(row)))
			for _, v := range row {
				// Row values come from SQLite: always encodable.
				b, _ = appendValue(b, v)
			}
		}
		b = binary.AppendVarint(b, res.LastInsertID)
		b = binary.AppendVarint(b, res.RowsAffected)
		b = appendString(b, res.Error)
		b = binary.AppendVarint(b, int64(res.Time))
		if res.ReadOnly {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// decodeResult is the inverse of encodeResult.
func decodeResult(b []byte) (applyResult, error) {
	d := &decoder{b: b}
	var r applyResult
	if v := d.byte1("result version"); d.err == nil && v != resultVersion {
		return r, fmt.Errorf("%w: unknown result version %d", ErrBadCommand, v)
	}
	r.Err = string(d.bytes("error"))
	n := d.count("result count")
	for i := 0; i < n && d.err == nil; i++ {
		var res Result
		nc := d.count("column count")
		for j := 0; j < nc && d.err == nil; j++ {
			res.Columns = append(res.Columns, string(d.bytes("column")))
		}
		nt := d.count("type count")
		for j := 0; j < nt && d.err == nil; j++ {
			res.Types = append(res.Types, string(d.bytes("type")))
		}
		nr := d.count("row count")
		for j := 0; j < nr && d.err == nil; j++ {
			nv := d.count("row width")
			row := make([]any, 0, nv)
			for k := 0; k < nv && d.err == nil; k++ {
				v := d.value()
				if _, ok := v.(bool); ok {
					d.fail("row value")
				}
				row = append(row, v)
			}
			res.Rows = append(res.Rows, row)
		}
		res.LastInsertID = d.varint("last insert id")
		res.RowsAffected = d.varint("rows affected")
		res.Error = string(d.bytes("statement error"))
		res.Time = time.Duration(d.varint("time"))
		switch d.byte1("read-only flag") {
		case 0:
		case 1:
			res.ReadOnly = true
		default:
			d.fail("read-only flag")
		}
		r.Results = append(r.Results, res)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return applyResult{}, d.err
	}
	return r, nil
}
