package sqlstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// loadCommandVersion marks a load's log command: version, timestamp,
// seed, then the SQL text to the end.
const loadCommandVersion = 3

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// Load replaces the database's content with r: a SQLite database file
// (recognised by its header) or SQL text such as Dump writes or sqlite3's
// .dump. A file is turned into SQL text on this member; the text is tried
// on a scratch database here (so a load that cannot run is refused before
// it reaches the log and changes nothing), then goes through the log as
// one command that every member applies in order: drop every user table,
// index, view and trigger, run the text, all in the apply transaction.
// The same rules as for Execute hold inside the text (no ATTACH, no
// durability PRAGMAs, ...); its BEGIN/COMMIT and PRAGMA foreign_keys=OFF
// lines are skipped. Loads past MaxLoadBytes (the file, or the text it
// becomes) are refused with ErrLoadTooLarge: a database that large is
// moved with `concord snapshot restore`.
func (db *DB) Load(ctx context.Context, r io.Reader) error {
	script, err := db.store.loadScript(r)
	if err != nil {
		return err
	}
	ts, seed := time.Now().UnixNano(), rand.Uint64()
	if err := db.store.tryLoad(script, ts, seed); err != nil {
		return err
	}
	res, err := db.apply(ctx, encodeLoadCommand(ts, seed, script), "load")
	if err != nil {
		return err
	}
	if len(res) == 1 && res[0].Error != "" {
		return fmt.Errorf("%w: %s", ErrBadLoad, res[0].Error)
	}
	return nil
}

// tooLarge is the error of a load past the cap.
func (s *Store) tooLarge(what string) error {
	return fmt.Errorf("%w: %s is larger than %d bytes (MaxLoadBytes); move a database this large with `concord snapshot restore`",
		ErrLoadTooLarge, what, s.cfg.MaxLoadBytes)
}

// loadScript reads a load: SQL text as it is, a SQLite file spooled to a
// temporary file, checked and dumped as SQL text.
func (s *Store) loadScript(r io.Reader) (string, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(len(sqliteHeader))
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("sqlstore: load: %w", err)
	}
	if string(head) != sqliteHeader {
		b, err := io.ReadAll(io.LimitReader(br, s.cfg.MaxLoadBytes+1))
		if err != nil {
			return "", fmt.Errorf("sqlstore: load: %w", err)
		}
		if int64(len(b)) > s.cfg.MaxLoadBytes {
			return "", s.tooLarge("the SQL text")
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return "", fmt.Errorf("%w: empty: send a SQLite file or SQL text", ErrBadLoad)
		}
		return string(b), nil
	}
	path, err := s.spoolFile(br)
	if err != nil {
		return "", err
	}
	defer os.Remove(path)
	return s.fileScript(path)
}

// spoolFile copies a SQLite file into a temporary file, at most
// MaxLoadBytes, and marks it as not in WAL mode (a copied WAL-mode file
// comes without its -wal file; its content is all in the main file).
func (s *Store) spoolFile(r io.Reader) (path string, err error) {
	f, err := os.CreateTemp(s.cfg.Dir, "load-*.db")
	if err != nil {
		return "", fmt.Errorf("sqlstore: load: %w", err)
	}
	path = f.Name()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("sqlstore: load: %w", cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	n, err := io.Copy(f, io.LimitReader(r, s.cfg.MaxLoadBytes+1))
	if err != nil {
		return path, fmt.Errorf("sqlstore: load: %w", err)
	}
	if n > s.cfg.MaxLoadBytes {
		return path, s.tooLarge("the SQLite file")
	}
	if n < 100 {
		return path, fmt.Errorf("%w: a SQLite file of %d bytes is truncated", ErrBadLoad, n)
	}
	// File format bytes 18 and 19: 2 is WAL, 1 is rollback journal.
	if _, err := f.WriteAt([]byte{1, 1}, 18); err != nil {
		return path, fmt.Errorf("sqlstore: load: %w", err)
	}
	return path, nil
}

// fileScript checks the SQLite file at path and dumps it as SQL text.
func (s *Store) fileScript(path string) (string, error) {
	conn, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READONLY)
	if err != nil {
		return "", fmt.Errorf("%w: open the SQLite file: %v", ErrBadLoad, err)
	}
	defer conn.Close()
	r, err := runStmt(conn, Statement{SQL: "PRAGMA quick_check"}, nil)
	if err != nil || len(r.Rows) != 1 || r.Rows[0][0] != "ok" {
		return "", fmt.Errorf("%w: the SQLite file fails its check: %v %v", ErrBadLoad, r.Rows, err)
	}
	var text capWriter
	text.cap = s.cfg.MaxLoadBytes
	if err := dump(conn, &text); err != nil {
		if errors.Is(err, errCapped) {
			return "", s.tooLarge("the SQLite file as SQL text")
		}
		return "", fmt.Errorf("%w: %v", ErrBadLoad, err)
	}
	return text.String(), nil
}

var errCapped = errors.New("past the cap")

// capWriter is a buffer that refuses to grow past cap bytes.
type capWriter struct {
	bytes.Buffer
	cap int64
}

func (w *capWriter) Write(p []byte) (int, error) {
	if int64(w.Len()+len(p)) > w.cap {
		return 0, errCapped
	}
	return w.Buffer.Write(p)
}

// tryLoad runs the load on an empty scratch database with the apply
// connection's rules, so a load that would fail is refused here.
func (s *Store) tryLoad(script string, ts int64, seed uint64) error {
	f, err := os.CreateTemp(s.cfg.Dir, "tryload-*.db")
	if err != nil {
		return fmt.Errorf("sqlstore: load: %w", err)
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	defer os.Remove(path + "-journal")
	conn, err := sqlite3.Open(path)
	if err != nil {
		return fmt.Errorf("sqlstore: load: %w", err)
	}
	defer conn.Close()
	priv, err := sqlite3.Open(":memory:")
	if err != nil {
		return fmt.Errorf("sqlstore: load: %w", err)
	}
	defer priv.Close()
	k := clock{priv: priv}
	user := false
	if err := errors.Join(installAuthorizer(conn, &user), installDeterminism(conn, &k),
		conn.Exec("PRAGMA synchronous=OFF; BEGIN")); err != nil {
		return fmt.Errorf("sqlstore: load: scratch database: %w", err)
	}
	k.setStatement(ts, seed, 0)
	if err := replaceContent(conn, script, &user); err != nil {
		return fmt.Errorf("%w: %v", ErrBadLoad, err)
	}
	return nil
}

// encodeLoadCommand renders a load's log command.
func encodeLoadCommand(ts int64, seed uint64, script string) []byte {
	b := []byte{loadCommandVersion}
	b = binary.AppendVarint(b, ts)
	b = binary.BigEndian.AppendUint64(b, seed)
	return append(b, script...)
}

// decodeLoadCommand reads the rest of a load command after its version.
func decodeLoadCommand(d *decoder) command {
	var c command
	c.Timestamp = d.varint("timestamp")
	c.Seed = d.uint64be("seed")
	if d.err == nil {
		c.Load = string(d.b)
		d.b = nil
		if c.Load == "" {
			d.fail("load text")
		}
	}
	return c
}

// runLoad applies a load inside the apply transaction: all or nothing,
// under a savepoint. A load that fails leaves the database as it was and
// reports SQLite's error in its one Result.
func (s *Store) runLoad(c command, ts int64) ([]Result, error) {
	if err := s.conn.Exec("SAVEPOINT load"); err != nil {
		return nil, err
	}
	s.clock.setStatement(ts, c.Seed, 0)
	start := time.Now()
	if err := replaceContent(s.conn, c.Load, &s.user); err != nil {
		if rerr := s.conn.Exec("ROLLBACK TO load"); rerr != nil {
			return nil, rerr
		}
		return []Result{{Error: err.Error()}}, s.conn.Exec("RELEASE load")
	}
	return []Result{{Time: time.Since(start)}}, s.conn.Exec("RELEASE load")
}

// replaceContent drops every user object on conn and runs script's
// statements as user statements (*user set while each is prepared and
// run, so the authorizer judges them). Transaction control and PRAGMA
// foreign_keys=OFF, which dumps carry, are skipped. conn is inside a
// transaction.
func replaceContent(conn *sqlite3.Conn, script string, user *bool) error {
	if err := dropUserObjects(conn); err != nil {
		return err
	}
	rest := script
	for n := 1; ; n++ {
		rest = strings.TrimLeft(rest, " \t\r\n;")
		if rest == "" {
			return nil
		}
		if dumpBoilerplate(rest) {
			stmt, tail, err := conn.Prepare(rest)
			if err != nil {
				return fmt.Errorf("statement %d: %w", n, err)
			}
			if stmt != nil {
				stmt.Close()
			}
			rest = tail
			continue
		}
		*user = true
		stmt, tail, err := conn.Prepare(rest)
		if err == nil && stmt != nil {
			err = stmt.Exec()
			stmt.Close()
		}
		*user = false
		if err != nil {
			return fmt.Errorf("statement %d (%.80q): %w", n, rest, err)
		}
		rest = tail
	}
}

// dumpBoilerplate reports whether the statement at the start of sql is
// one a dump wraps its content in: BEGIN, COMMIT/END, or PRAGMA
// foreign_keys=OFF.
func dumpBoilerplate(sql string) bool {
	word := strings.ToUpper(strings.TrimRight(strings.Fields(sql[:min(len(sql), 64)])[0], ";"))
	switch word {
	case "BEGIN", "COMMIT", "END":
		return true
	case "PRAGMA":
		line, _, _ := strings.Cut(sql, ";")
		return strings.EqualFold(strings.Join(strings.Fields(line), ""), "PRAGMAforeign_keys=OFF")
	}
	return false
}

// dropUserObjects drops every table, view and trigger that is not
// SQLite's or concord's (indexes go with their tables) and empties the
// AUTOINCREMENT counters.
func dropUserObjects(conn *sqlite3.Conn) error {
	r, err := runStmt(conn, Statement{SQL: `SELECT type, name FROM sqlite_schema
		WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name != '_concord_meta'
		ORDER BY type = 'table', rowid`}, nil)
	if err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	for _, row := range r.Rows {
		typ, name := strings.ToUpper(row[0].(string)), row[1].(string)
		if err := conn.Exec("DROP " + typ + " IF EXISTS " + quoteIdent(name)); err != nil {
			return fmt.Errorf("drop %s %s: %w", typ, name, err)
		}
	}
	if err := conn.Exec("DELETE FROM sqlite_sequence"); err != nil && !strings.Contains(err.Error(), "no such table") {
		return fmt.Errorf("reset AUTOINCREMENT counters: %w", err)
	}
	return nil
}
