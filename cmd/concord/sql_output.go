package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// sqlModes are the output modes of concord sql, sqlite3's names.
var sqlModes = []string{"table", "json", "csv", "line"}

// printRows writes a read's rows in mode.
func printRows(w io.Writer, mode string, r sqlResult) error {
	switch mode {
	case "json":
		return printRowsJSON(w, r)
	case "csv":
		return printRowsCSV(w, r)
	case "line":
		return printRowsLine(w, r)
	default:
		return printRowsTable(w, r)
	}
}

// cellText is a value as text: NULL for null, numbers exactly as sent.
func cellText(v any, null string) string {
	switch v := v.(type) {
	case nil:
		return null
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func printRowsTable(w io.Writer, r sqlResult) error {
	widths := make([]int, len(r.Columns))
	for i, c := range r.Columns {
		widths[i] = utf8.RuneCountInString(c)
	}
	cells := make([][]string, len(r.Values))
	for i, row := range r.Values {
		cells[i] = make([]string, len(r.Columns))
		for j := range r.Columns {
			var v any
			if j < len(row) {
				v = row[j]
			}
			cells[i][j] = cellText(v, "NULL")
			widths[j] = max(widths[j], utf8.RuneCountInString(cells[i][j]))
		}
	}
	var b bytes.Buffer
	rule := func() {
		b.WriteByte('+')
		for _, wd := range widths {
			b.WriteString(strings.Repeat("-", wd+2))
			b.WriteByte('+')
		}
		b.WriteByte('\n')
	}
	line := func(vals []string) {
		b.WriteByte('|')
		for j, v := range vals {
			b.WriteString(" " + v + strings.Repeat(" ", widths[j]-utf8.RuneCountInString(v)) + " |")
		}
		b.WriteByte('\n')
	}
	rule()
	line(r.Columns)
	rule()
	for _, row := range cells {
		line(row)
	}
	if len(cells) > 0 {
		rule()
	}
	_, err := w.Write(b.Bytes())
	return err
}

func printRowsJSON(w io.Writer, r sqlResult) error {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, row := range r.Values {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteByte('{')
		for j, c := range r.Columns {
			if j > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(c)
			var v any
			if j < len(row) {
				v = row[j]
			}
			val, err := json.Marshal(v)
			if err != nil {
				return err
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(val)
		}
		b.WriteByte('}')
	}
	b.WriteString("]\n")
	_, err := w.Write(b.Bytes())
	return err
}

func printRowsCSV(w io.Writer, r sqlResult) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(r.Columns); err != nil {
		return err
	}
	for _, row := range r.Values {
		rec := make([]string, len(row))
		for j, v := range row {
			rec[j] = cellText(v, "")
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func printRowsLine(w io.Writer, r sqlResult) error {
	width := 0
	for _, c := range r.Columns {
		width = max(width, utf8.RuneCountInString(c))
	}
	var b bytes.Buffer
	for i, row := range r.Values {
		if i > 0 {
			b.WriteByte('\n')
		}
		for j, c := range r.Columns {
			var v any
			if j < len(row) {
				v = row[j]
			}
			fmt.Fprintf(&b, "%*s = %s\n", width, c, cellText(v, "NULL"))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
