package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// sqlShell runs SQL statements and dot commands against a cluster and
// prints their results; the interactive and script modes feed it lines.
type sqlShell struct {
	client  *sqlClient
	timeout time.Duration
	out     io.Writer
	mode    string
	level   string
	timer   bool
	pending strings.Builder // an incomplete statement's lines
	quit    bool
}

// errStatementFailed marks a statement that the database refused; the
// shell printed why.
var errStatementFailed = errors.New("statement failed")

// feed takes one input line: a dot command, or SQL that completes (or
// continues) statements. It returns the first failure.
func (s *sqlShell) feed(line string) error {
	if s.pending.Len() == 0 && strings.HasPrefix(strings.TrimSpace(line), ".") {
		return s.dot(strings.Fields(strings.TrimSpace(line)))
	}
	s.pending.WriteString(line)
	s.pending.WriteByte('\n')
	stmts, rest := splitStatements(s.pending.String())
	s.pending.Reset()
	if rest != "" {
		s.pending.WriteString(rest)
		s.pending.WriteByte('\n')
	}
	for _, stmt := range stmts {
		if err := s.run(stmt); err != nil {
			return err
		}
	}
	return nil
}

// finish runs a last statement left without its ';' at the end of input.
func (s *sqlShell) finish() error {
	rest := strings.TrimSpace(s.pending.String())
	s.pending.Reset()
	if rest == "" {
		return nil
	}
	return s.run(rest)
}

// continuing tells whether a statement is waiting for more lines.
func (s *sqlShell) continuing() bool { return s.pending.Len() > 0 }

func (s *sqlShell) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// run sends one statement and prints its result.
func (s *sqlShell) run(stmt string, args ...any) error {
	ctx, cancel := s.ctx()
	defer cancel()
	start := time.Now()
	var body any = stmt
	if len(args) > 0 {
		body = append([]any{stmt}, args...)
	}
	resp, err := s.client.request(ctx, s.level, body)
	if err != nil {
		return err
	}
	for _, r := range resp.Results {
		switch {
		case r.Error != "":
			fmt.Fprintf(s.out, "Error: %s\n", r.Error)
			return errStatementFailed
		case r.Columns != nil:
			if err := printRows(s.out, s.mode, r); err != nil {
				return err
			}
		case isWrite(stmt):
			fmt.Fprintf(s.out, "%d row(s) affected\n", r.RowsAffected)
		}
	}
	if s.timer {
		fmt.Fprintf(s.out, "Run Time: %.6fs (server %.6fs)\n", time.Since(start).Seconds(), resp.Time)
	}
	return nil
}

// isWrite tells whether a statement changes rows, so the count is worth
// printing (sqlite3 prints nothing for DDL either).
func isWrite(stmt string) bool {
	f := strings.Fields(strings.ToUpper(stmt))
	return len(f) > 0 && slices.Contains([]string{"INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"}, f[0])
}

const sqlHelp = `.backup FILE        write the database to FILE (a SQLite file)
.consistency [LVL]  show or set the read level: none, weak, linearizable, strong
.dump               print the database as SQL text
.exit, .quit        leave the shell
.help               show this help
.indexes [TABLE]    list the indexes (of TABLE)
.mode [MODE]        show or set the output mode: table, json, csv, line
.restore FILE       replace the database with FILE (a SQLite file or SQL text)
.schema [TABLE]     show the CREATE statements (of TABLE)
.tables             list the tables
.timer on|off       show each statement's run time
Statements end with ';' and may span lines.
`

// dot runs a dot command.
func (s *sqlShell) dot(f []string) error {
	arg := func() (string, error) {
		if len(f) != 2 {
			return "", fmt.Errorf("usage: %s ARG (see .help)", f[0])
		}
		return f[1], nil
	}
	switch f[0] {
	case ".help":
		_, err := io.WriteString(s.out, sqlHelp)
		return err
	case ".quit", ".exit":
		s.quit = true
		return nil
	case ".tables":
		return s.run("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	case ".schema":
		if len(f) > 1 {
			return s.run("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND tbl_name = ? ORDER BY type DESC, name", f[1])
		}
		return s.run("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY tbl_name, type DESC, name")
	case ".indexes", ".indices":
		if len(f) > 1 {
			return s.run("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? ORDER BY name", f[1])
		}
		return s.run("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name")
	case ".mode":
		if len(f) == 1 {
			fmt.Fprintln(s.out, s.mode)
			return nil
		}
		m, err := arg()
		if err != nil {
			return err
		}
		if !slices.Contains(sqlModes, m) {
			return fmt.Errorf("unknown mode %q: want one of %s", m, strings.Join(sqlModes, ", "))
		}
		s.mode = m
		return nil
	case ".timer":
		v, err := arg()
		if err != nil {
			return err
		}
		if v != "on" && v != "off" {
			return fmt.Errorf(".timer %q: want on or off", v)
		}
		s.timer = v == "on"
		return nil
	case ".consistency":
		if len(f) == 1 {
			fmt.Fprintln(s.out, s.level)
			return nil
		}
		v, err := arg()
		if err != nil {
			return err
		}
		if !slices.Contains(sqlLevels, v) {
			return fmt.Errorf("unknown consistency level %q: want one of %s", v, strings.Join(sqlLevels, ", "))
		}
		s.level = v
		return nil
	case ".dump":
		ctx, cancel := s.ctx()
		defer cancel()
		raw, err := s.client.call(ctx, http.MethodGet, "/db/backup", url.Values{"fmt": {"sql"}}, "", nil)
		if err != nil {
			return err
		}
		_, err = s.out.Write(raw)
		return err
	case ".backup":
		file, err := arg()
		if err != nil {
			return err
		}
		return s.backup(file)
	case ".restore":
		file, err := arg()
		if err != nil {
			return err
		}
		return s.restore(file)
	}
	return fmt.Errorf("unknown command %s (see .help)", f[0])
}

// backup streams the database into file, through a temporary file
// renamed into place once complete, so a failed backup leaves no
// partial file under the name.
func (s *sqlShell) backup(file string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.client.open(ctx, http.MethodGet, "/db/backup", nil, "", func() io.Reader { return nil })
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".part*")
	if err != nil {
		return fmt.Errorf(".backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, resp.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return fmt.Errorf(".backup: %w", err)
	}
	fmt.Fprintf(s.out, "backed up %d bytes to %s\n", n, file)
	return nil
}

// restore streams file to the cluster as the new database.
func (s *sqlShell) restore(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf(".restore: %w", err)
	}
	defer f.Close()
	ctx, cancel := s.ctx()
	defer cancel()
	first := true
	resp, err := s.client.open(ctx, http.MethodPost, "/db/load", nil, "application/octet-stream", func() io.Reader {
		if !first { // another endpoint: send the file again from its start
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return errReader{err}
			}
		}
		first = false
		return f
	})
	if err != nil {
		return err
	}
	resp.Body.Close()
	fmt.Fprintf(s.out, "restored %s\n", file)
	return nil
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
