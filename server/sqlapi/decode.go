package sqlapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// MaxStatements caps the statements of one request, so one request cannot
// become an unbounded log entry or a long stall of the apply loop.
const MaxStatements = 5000

// decodeStatements parses rqlite's request body: a JSON array whose
// elements are either a bare SQL string or an array of the SQL followed by
// its parameters, either positional values or one object of named ones:
//
//	["INSERT INTO t VALUES(1)", ["INSERT INTO t VALUES(?)", 2], ["SELECT * FROM t WHERE id=:id", {"id": 2}]]
//
// Numbers stay exact: an integral number is an int64, any other a float64.
func decodeStatements(r io.Reader) ([]Statement, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var raw []any // decoded once: strings, json.Numbers, arrays, objects
	if err := dec.Decode(&raw); err != nil {
		return nil, bodyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("request body: data after the JSON array")
	}
	if len(raw) == 0 {
		return nil, badRequest("request body: no statements")
	}
	if len(raw) > MaxStatements {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body: %d statements, more than the limit of %d", len(raw), MaxStatements)}
	}
	stmts := make([]Statement, 0, len(raw))
	for i, elem := range raw {
		s, err := decodeStatement(elem)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("statement %d: %v", i, err))
		}
		stmts = append(stmts, s)
	}
	return stmts, nil
}

// bodyError words a JSON decoding error of the body for the caller, and
// keeps the too-large answer of http.MaxBytesReader.
func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return err
	}
	if errors.Is(err, io.EOF) {
		return badRequest("request body: empty, want a JSON array of statements")
	}
	return badRequest("request body: invalid JSON: " + err.Error())
}

// decodeStatement reads one element of the body: a bare SQL string or an
// array of the SQL and its parameters.
func decodeStatement(elem any) (Statement, error) {
	if sql, ok := elem.(string); ok {
		return statementOf(sql)
	}
	parts, ok := elem.([]any)
	if !ok {
		return Statement{}, errors.New("want a SQL string or an array of the SQL and its parameters")
	}
	if len(parts) == 0 {
		return Statement{}, errors.New("empty array, want the SQL first")
	}
	sql, ok := parts[0].(string)
	if !ok {
		return Statement{}, errors.New("the first element must be the SQL string")
	}
	s, err := statementOf(sql)
	if err != nil {
		return Statement{}, err
	}
	args := parts[1:]
	if len(args) == 1 {
		if named, ok := args[0].(map[string]any); ok {
			s.Named = make(map[string]any, len(named))
			for name, v := range named {
				pv, err := paramValue(v)
				if err != nil {
					return Statement{}, fmt.Errorf("parameter %q: %w", name, err)
				}
				s.Named[name] = pv
			}
			return s, nil
		}
	}
	if len(args) > 0 {
		s.Positional = make([]any, len(args))
	}
	for i, v := range args {
		pv, err := paramValue(v)
		if err != nil {
			return Statement{}, fmt.Errorf("parameter %d: %w", i+1, err)
		}
		s.Positional[i] = pv
	}
	return s, nil
}

func statementOf(sql string) (Statement, error) {
	if strings.TrimSpace(sql) == "" {
		return Statement{}, errors.New("empty SQL")
	}
	return Statement{SQL: sql}, nil
}

// paramValue turns a decoded JSON value into a SQLite parameter: NULL,
// INTEGER (an integral number within int64), REAL, TEXT, or an integer
// for a boolean as SQLite stores them. Arrays of bytes become a BLOB,
// rqlite's form; other arrays and objects are refused.
func paramValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string:
		return v, nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s is out of range", v)
		}
		return f, nil
	case []any:
		return blobParam(v)
	default:
		return nil, errors.New("objects are not SQL values; named parameters are one object after the SQL")
	}
}

// blobParam reads a BLOB given as an array of byte values ([1, 2, 255]).
func blobParam(arr []any) ([]byte, error) {
	b := make([]byte, len(arr))
	for i, e := range arr {
		n, ok := e.(json.Number)
		if !ok {
			return nil, errors.New("an array parameter is a BLOB and must hold byte values 0-255")
		}
		v, err := n.Int64()
		if err != nil || v < 0 || v > 255 {
			return nil, fmt.Errorf("BLOB element %d: %s is not a byte value 0-255", i, n)
		}
		b[i] = byte(v)
	}
	return b, nil
}
