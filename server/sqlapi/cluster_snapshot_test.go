package sqlapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
)

// TestClusterDeterminism: writes that call random(), randomblob(), the
// clock and the counters, sent concurrently through every member, leave
// the three databases byte-identical (their dumps compared), while the
// values themselves differ from row to row.
func TestClusterDeterminism(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	members := make([]member, c.Size())
	for i := range members {
		members[i] = member{t, "http://" + c.Endpoint(i)}
	}
	members[0].must("/db/execute", `["CREATE TABLE d (id INTEGER PRIMARY KEY, r INTEGER, b BLOB, at TEXT DEFAULT CURRENT_TIMESTAMP, now TEXT, j REAL, u INTEGER, li INTEGER, ch INTEGER)"]`, `{"results":[{}]}`)
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 20 {
				body := `["INSERT INTO d (r, b, now, j, u) VALUES (random(), randomblob(16), datetime('now'), julianday('now'), unixepoch())",
					"UPDATE d SET li = last_insert_rowid(), ch = changes() WHERE id = last_insert_rowid()"]`
				if k%2 == 1 {
					body = fmt.Sprintf(`[["INSERT INTO d (r, b, now) VALUES (abs(random()) %% ?, randomblob(8), strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now'))", %d]]`, 1000+i)
				}
				status, got := m.do(http.MethodPost, "/db/execute?transaction", body)
				if status != 200 || strings.Contains(got, "error") {
					t.Errorf("%s: %d %s", m.base, status, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := dumpHash(members[0])
	for i, m := range members[1:] {
		if got := dumpHash(m); got != want {
			t.Fatalf("member %d's database differs from member 0's", i+1)
		}
	}
	// 60 rows, random values and blobs differ between rows, the clock
	// moved, and last_insert_rowid() named the row just inserted.
	members[1].must("/db/query?level=linearizable", `["SELECT count(*) AS n, count(DISTINCT r) > 40 AS rs, count(DISTINCT b) AS bs, count(DISTINCT now) > 1 AS times, sum(li = id) AS li FROM d"]`,
		`{"results":[{"columns":["n","rs","bs","times","li"],"types":["","","","",""],"values":[[60,1,60,1,30]]}]}`)
}

// TestClusterSnapshotInstallAndArchive: a member that was down while tens
// of MB went into the database, and the log was compacted past it,
// catches up by installing a snapshot; then the snapshot archive (what
// concord snapshot save/restore move: GET /v1/snapshot, POST
// /v1/snapshot/restore) carries the SQL database back after it changed.
func TestClusterSnapshotInstallAndArchive(t *testing.T) {
	const trailing = 16
	dirs := make([]string, 3)
	c := agenttest.Start(t, 3, agenttest.Options{Timeout: time.Second, Configure: func(i int, cfg *agent.Config) {
		cfg.Node.SnapshotThreshold = 32
		cfg.Node.SnapshotInterval = 200 * time.Millisecond
		cfg.Node.TrailingLogs = trailing
		cfg.Node.ApplyTimeout = 30 * time.Second
		dirs[i] = cfg.Node.DataDir
	}})
	leader := c.Leader()
	lagger := c.Follower()
	var writer member
	for i := range c.Size() {
		if i != leader && i != lagger {
			writer = member{t, "http://" + c.Endpoint(i)}
		}
	}
	writer.must("/db/execute", `["CREATE TABLE big (id INTEGER PRIMARY KEY, b BLOB)", "CREATE TABLE small (id INTEGER PRIMARY KEY, v TEXT)"]`, `{"results":[{},{}]}`)
	c.WaitFor(10*time.Second, "the lagger to have the tables", func() bool {
		_, got := member{t, "http://" + c.Endpoint(lagger)}.do(http.MethodPost, "/db/query?level=none", `["SELECT count(*) FROM big"]`)
		return strings.Contains(got, `"values":[[0]]`)
	})
	behind := c.Agent(lagger).Node.Status().LastLogIndex
	c.Crash(lagger)

	// 32 MB of incompressible rows through a follower, then enough small
	// writes for snapshots to compact the log past the lagger.
	for range 32 {
		status, got := writer.do(http.MethodPost, "/db/execute", `["INSERT INTO big (b) SELECT randomblob(100000) FROM generate_series(1, 10)"]`)
		if status != 200 || strings.Contains(got, "error") {
			t.Fatalf("big insert: %d %s", status, got)
		}
	}
	running := []int{leader, 3 - leader - lagger}
	for k := 0; ; k++ {
		writer.must("/db/execute", fmt.Sprintf(`[["INSERT INTO small (v) VALUES (?)", "v%d"]]`, k), fmt.Sprintf(`{"results":[{"last_insert_id":%d,"rows_affected":1}]}`, k+1))
		compacted := true
		for _, i := range running {
			compacted = compacted && snapshotIndex(t, dirs[i]) > behind+trailing+1
		}
		if compacted {
			break
		}
		if k > 5000 {
			t.Fatalf("no snapshot past index %d after %d writes", behind+trailing+1, k)
		}
	}
	want := dumpHash(writer)

	c.Restart(lagger)
	lag := member{t, "http://" + c.Endpoint(lagger)}
	c.WaitFor(2*time.Minute, "the restarted member to catch up", func() bool { return tryDumpHash(lag) == want })
	if got := snapshotIndex(t, dirs[lagger]); got <= behind {
		t.Fatalf("the member caught up without installing a snapshot (its newest is at %d, it stopped at %d)", got, behind)
	}

	// The archive carries the SQL database: save, change, restore through
	// a follower, and every member has the saved content again.
	resp, err := http.Get("http://" + c.Endpoint(c.Follower()) + "/v1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	archive, err := os.Create(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(archive, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || n < 30<<20 {
		t.Fatalf("snapshot save: %d, %d bytes, %v", resp.StatusCode, n, err)
	}
	writer.must("/db/execute", `["DELETE FROM big", "INSERT INTO small (v) VALUES ('after the archive')"]`, fmt.Sprintf(`{"results":[{"rows_affected":320},{"last_insert_id":%d,"rows_affected":1}]}`, countRows(t, writer, "small")+1))
	if _, err := archive.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rresp, err := http.Post("http://"+c.Endpoint(c.Follower())+"/v1/snapshot/restore", "application/octet-stream", archive)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rresp.Body)
	rresp.Body.Close()
	if rresp.StatusCode != 200 {
		t.Fatalf("snapshot restore: %d %s", rresp.StatusCode, body)
	}
	for i := range c.Size() {
		m := member{t, "http://" + c.Endpoint(i)}
		c.WaitFor(2*time.Minute, fmt.Sprintf("member %d to hold the restored database", i), func() bool { return tryDumpHash(m) == want })
	}
}

// tryDumpHash is dumpHash, or "" while the member cannot answer.
func tryDumpHash(m member) string {
	resp, err := http.Get(m.base + "/db/backup?fmt=sql")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return ""
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// countRows counts a table's rows through m at level linearizable.
func countRows(t *testing.T, m member, table string) int {
	t.Helper()
	status, got := m.do(http.MethodPost, "/db/query?level=linearizable", `["SELECT count(*) FROM `+table+`"]`)
	var n int
	if _, err := fmt.Sscanf(got[strings.Index(got, "[[")+2:], "%d", &n); status != 200 || err != nil {
		t.Fatalf("count %s: %d %s", table, status, got)
	}
	return n
}

// snapshotIndex is the index of the newest snapshot in a member's data
// dir (snapshot directories are named term-index-time).
func snapshotIndex(t *testing.T, dataDir string) uint64 {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(dataDir, "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var best uint64
	for _, e := range es {
		parts := strings.Split(e.Name(), "-")
		if len(parts) == 3 {
			if idx, err := strconv.ParseUint(parts[1], 10, 64); err == nil && idx > best {
				best = idx
			}
		}
	}
	return best
}
