package sqlstore

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TableHash hashes every user table of s (names sorted, rows by rowid,
// values with their types) so tests can compare stores' contents.
func TableHash(t *testing.T, s *Store) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	tables, err := execStatement(s.conn, Statement{SQL: "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_concord_meta' ORDER BY name"})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, row := range tables.Rows {
		name := row[0].(string)
		h.Write(appendString(nil, name))
		r, err := execStatement(s.conn, Statement{SQL: `SELECT * FROM "` + name + `" ORDER BY rowid`})
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range r.Rows {
			for _, v := range row {
				b, _ := appendValue(nil, v)
				h.Write(b)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
