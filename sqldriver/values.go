package sqldriver

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// timeFormat is how a time.Time argument is sent (SQLite's date functions
// read it; the driver reads it back into a time.Time).
const timeFormat = "2006-01-02 15:04:05.999999999-07:00"

// timeFormats are the text forms read back as time.Time from a column
// declared DATE, DATETIME, TIMESTAMP or TIME.
var timeFormats = []string{
	timeFormat,
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// encodeStatement renders one statement with its arguments in rqlite's
// body form: ["sql", positional...] or ["sql", {"name": value}].
func encodeStatement(query string, args []driver.NamedValue) ([]byte, error) {
	parts := []any{query}
	named := map[string]json.RawMessage{}
	for _, a := range args {
		v, err := encodeValue(a.Value)
		if err != nil {
			return nil, fmt.Errorf("sqldriver: argument %d: %w", a.Ordinal, err)
		}
		if a.Name != "" {
			named[a.Name] = v
		} else {
			parts = append(parts, v)
		}
	}
	if len(named) > 0 {
		if len(parts) > 1 {
			return nil, errors.New("sqldriver: a statement takes named or positional arguments, not both")
		}
		parts = append(parts, named)
	}
	return json.Marshal([]any{parts})
}

// encodeValue renders an argument exactly: integers as integers, floats
// always with a fraction or exponent (so 2.0 stays REAL), []byte as an
// array of bytes (a BLOB in rqlite's form), times as text.
func encodeValue(v driver.Value) (json.RawMessage, error) {
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case int64:
		return json.RawMessage(strconv.FormatInt(x, 10)), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%v cannot be sent (JSON has no infinities or NaN)", x)
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return json.RawMessage(s), nil
	case bool:
		return json.RawMessage(strconv.FormatBool(x)), nil
	case string:
		return json.Marshal(x)
	case []byte:
		arr := make([]int, len(x))
		for i, c := range x {
			arr[i] = int(c)
		}
		return json.Marshal(arr)
	case time.Time:
		return json.Marshal(x.Format(timeFormat))
	default:
		return nil, fmt.Errorf("unsupported type %T", v)
	}
}

// decodeValue turns a JSON value of a result (decoded with UseNumber, BLOBs
// as byte arrays) into int64, float64, string, []byte, time.Time or nil,
// using the column's declared type where JSON cannot tell: a number in a
// REAL column is a float64 even when integral, and text in a DATE,
// DATETIME, TIMESTAMP or TIME column that parses is a time.Time.
func decodeValue(v any, declType string) (driver.Value, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") && !realAffinity(declType) {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
		}
		return strconv.ParseFloat(s, 64)
	case string:
		if timeType(declType) {
			for _, f := range timeFormats {
				if t, err := time.Parse(f, x); err == nil {
					return t, nil
				}
			}
		}
		return x, nil
	case []any:
		b := make([]byte, len(x))
		for i, e := range x {
			n, ok := e.(json.Number)
			c, err := strconv.ParseUint(string(n), 10, 8)
			if !ok || err != nil {
				return nil, fmt.Errorf("sqldriver: BLOB element %v is not a byte", e)
			}
			b[i] = byte(c)
		}
		return b, nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	default:
		return nil, fmt.Errorf("sqldriver: unexpected value %v (%T) in a result", v, v)
	}
}

// realAffinity is SQLite's rule for a REAL column (after INTEGER and TEXT
// affinities are ruled out).
func realAffinity(decl string) bool {
	d := strings.ToUpper(decl)
	if strings.Contains(d, "INT") || strings.Contains(d, "CHAR") || strings.Contains(d, "CLOB") || strings.Contains(d, "TEXT") {
		return false
	}
	return strings.Contains(d, "REAL") || strings.Contains(d, "FLOA") || strings.Contains(d, "DOUB")
}

func timeType(decl string) bool {
	switch strings.ToUpper(strings.TrimSpace(decl)) {
	case "DATE", "DATETIME", "TIMESTAMP", "TIME":
		return true
	}
	return false
}
