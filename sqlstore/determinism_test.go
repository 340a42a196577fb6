package sqlstore

import (
	"strings"
	"testing"
	"time"
)

// deterministicLog exercises every override: random(), randomblob(), each
// clock reader with 'now' and without a time value, the CURRENT_*
// keywords, DEFAULT CURRENT_TIMESTAMP, changes() and last_insert_rowid().
var deterministicLog = []Request{
	{Statements: stmts(`CREATE TABLE d (id INTEGER PRIMARY KEY, v ANY, at TEXT DEFAULT CURRENT_TIMESTAMP)`)},
	{Statements: stmts(
		`INSERT INTO d (v) VALUES (random())`,
		`INSERT INTO d (v) VALUES (randomblob(16))`,
		`INSERT INTO d (v) VALUES (datetime('now'))`,
		`INSERT INTO d (v) VALUES (date('now'))`,
		`INSERT INTO d (v) VALUES (time('now'))`,
		`INSERT INTO d (v) VALUES (julianday('now'))`,
		`INSERT INTO d (v) VALUES (unixepoch())`,
		`INSERT INTO d (v) VALUES (unixepoch('now'))`,
		`INSERT INTO d (v) VALUES (strftime('%Y-%m-%d %H:%M:%f', 'now'))`,
		`INSERT INTO d (v) VALUES (datetime())`,
		`INSERT INTO d (v) VALUES (CURRENT_TIMESTAMP)`,
		`INSERT INTO d (v) VALUES (CURRENT_DATE)`,
		`INSERT INTO d (v) VALUES (CURRENT_TIME)`,
		`INSERT INTO d (v) VALUES (changes())`,
		`INSERT INTO d (v) VALUES (last_insert_rowid())`,
	)},
	{Transaction: true, Statements: stmts(`INSERT INTO d (v) VALUES (random())`, `UPDATE d SET v = randomblob(8) WHERE id = 1`)},
}

func TestApplyIsDeterministic(t *testing.T) {
	var hashes []string
	for i := 0; i < 3; i++ {
		s := openTestStore(t)
		for j, req := range deterministicLog {
			r := applyReq(t, s, uint64(j+1), req)
			for _, res := range r.Results {
				if r.Err != "" || res.Error != "" {
					t.Fatalf("store %d entry %d: %q %q", i, j, r.Err, res.Error)
				}
			}
		}
		if i == 0 {
			// Wall-clock time passes between stores: it must not matter.
			time.Sleep(1100 * time.Millisecond)
		}
		hashes = append(hashes, TableHash(t, s))
	}
	if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
		t.Fatalf("stores differ: %v", hashes)
	}
}

// TestTimeFunctionsUseCommandTime checks each clock reader returns the
// command's time (2023-11-14 22:13:20 UTC), not the wall clock.
func TestTimeFunctionsUseCommandTime(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts(`CREATE TABLE c (id INTEGER PRIMARY KEY, at TEXT DEFAULT CURRENT_TIMESTAMP)`, `INSERT INTO c (id) VALUES (1)`)})
	want := map[string]any{
		`SELECT datetime('now')`:                  "2023-11-14 22:13:20",
		`SELECT datetime()`:                       "2023-11-14 22:13:20",
		`SELECT date('now')`:                      "2023-11-14",
		`SELECT time('NOW')`:                      "22:13:20",
		`SELECT unixepoch()`:                      int64(1700000000),
		`SELECT unixepoch('now')`:                 int64(1700000000),
		`SELECT julianday('now')`:                 2460263.425925926,
		`SELECT strftime('%s', 'now')`:            "1700000000",
		`SELECT CURRENT_TIMESTAMP`:                "2023-11-14 22:13:20",
		`SELECT CURRENT_DATE`:                     "2023-11-14",
		`SELECT CURRENT_TIME`:                     "22:13:20",
		`SELECT at FROM c WHERE id = 1`:           "2023-11-14 22:13:20",
		`SELECT datetime('2000-01-01', '+1 day')`: "2000-01-02 00:00:00",
	}
	idx := uint64(2)
	for q, w := range want {
		r := applyReq(t, s, idx, Request{Statements: stmts(q)})
		idx++
		res := r.Results[0]
		if res.Error != "" || len(res.Rows) != 1 {
			t.Fatalf("%s: %#v", q, res)
		}
		got := res.Rows[0][0]
		if f, ok := w.(float64); ok {
			if g, ok := got.(float64); !ok || g-f > 1e-6 || f-g > 1e-6 {
				t.Errorf("%s = %v, want %v", q, got, w)
			}
			continue
		}
		if got != w {
			t.Errorf("%s = %#v, want %#v", q, got, w)
		}
	}
}

func TestTimeNeverGoesBack(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts(`SELECT 1`)}) // at 1_700_000_000 s
	b, err := encodeCommand(command{Timestamp: 1_600_000_000_000_000_000, Request: Request{Statements: stmts(`SELECT datetime('now')`)}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeResult(s.Apply(2, b))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Results[0].Rows[0][0]; !strings.HasPrefix(got.(string), "2023-11-14") {
		t.Fatalf("earlier command time moved now back: %v", got)
	}
}
