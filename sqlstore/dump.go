package sqlstore

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// dump writes the user's part of the database on conn as SQL text in
// sqlite3's .dump shape: tables with their rows, the AUTOINCREMENT
// counters, then indexes, triggers and views, in creation order, inside
// one transaction. It reads in one read transaction, so the text is one
// consistent state. Virtual tables are not dumped.
func dump(conn *sqlite3.Conn, out io.Writer) error {
	w := bufio.NewWriterSize(out, 64<<10)
	if err := conn.Exec("BEGIN"); err != nil {
		return fmt.Errorf("sqlstore: dump: %w", err)
	}
	defer conn.Exec("ROLLBACK")
	schema, err := runStmt(conn, Statement{SQL: `SELECT type, name, sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name != '_concord_meta'
		ORDER BY type != 'table', rowid`}, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: dump: read schema: %w", err)
	}
	w.WriteString("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n")
	for _, row := range schema.Rows {
		typ, name, sql := row[0].(string), row[1].(string), row[2].(string)
		if typ != "table" {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(sql), "CREATE VIRTUAL TABLE") {
			continue
		}
		w.WriteString(sql + ";\n")
		if err := dumpRows(conn, w, name); err != nil {
			return err
		}
	}
	if err := dumpRows(conn, w, "sqlite_sequence"); err != nil {
		return err
	}
	for _, row := range schema.Rows {
		if row[0].(string) != "table" {
			w.WriteString(row[2].(string) + ";\n")
		}
	}
	w.WriteString("COMMIT;\n")
	if err := w.Flush(); err != nil {
		return fmt.Errorf("sqlstore: dump: %w", err)
	}
	return nil
}

// dumpRows writes one INSERT per row of table, streaming. The AUTOINCREMENT
// counters (sqlite_sequence) are written as DELETE then INSERTs, and only
// if the table exists.
func dumpRows(conn *sqlite3.Conn, w *bufio.Writer, table string) error {
	stmt, _, err := conn.Prepare(`SELECT * FROM ` + quoteIdent(table))
	if err != nil {
		if table == "sqlite_sequence" {
			return nil // no AUTOINCREMENT table
		}
		return fmt.Errorf("sqlstore: dump %s: %w", table, err)
	}
	defer stmt.Close()
	if table == "sqlite_sequence" {
		w.WriteString("DELETE FROM sqlite_sequence;\n")
	}
	prefix := "INSERT INTO " + quoteIdent(table) + " VALUES("
	n := stmt.ColumnCount()
	var b []byte
	for stmt.Step() {
		b = append(b[:0], prefix...)
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLiteral(b, columnValue(stmt, i))
		}
		b = append(b, ");\n"...)
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("sqlstore: dump: %w", err)
		}
	}
	if err := stmt.Err(); err != nil {
		return fmt.Errorf("sqlstore: dump %s: %w", table, err)
	}
	return nil
}

// quoteIdent quotes a table name as SQLite does ("a""b").
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// appendLiteral renders v as a SQL literal that reads back as the same
// value and type: floats keep a decimal point or exponent (so 2.0 stays
// REAL), infinities become 1e999, text with NUL bytes is cast from hex.
func appendLiteral(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "NULL"...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		switch {
		case math.IsInf(x, 1):
			return append(b, "1e999"...)
		case math.IsInf(x, -1):
			return append(b, "-1e999"...)
		}
		start := len(b)
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
		if !strings.ContainsAny(string(b[start:]), ".e") {
			b = append(b, ".0"...)
		}
		return b
	case string:
		if strings.IndexByte(x, 0) >= 0 {
			b = append(b, "CAST(X'"...)
			b = hex.AppendEncode(b, []byte(x))
			return append(b, "' AS TEXT)"...)
		}
		b = append(b, '\'')
		b = append(b, strings.ReplaceAll(x, "'", "''")...)
		return append(b, '\'')
	case []byte:
		b = append(b, "X'"...)
		b = hex.AppendEncode(b, x)
		return append(b, '\'')
	default:
		return fmt.Appendf(b, "%v", x)
	}
}
