package linearizability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
	"time"
)

// checkSQL adds the SQL workload's findings to rep once the cluster has
// healed (and, with CrashAllAtEnd, come back from kill -9 of every
// member): acknowledged INSERTs that are gone are lost writes; a tag
// present twice, and the clients' own anomalies (an UPDATE of an existing
// row affecting no row, a register row missing), are violations. A
// workload that could not make a single SQL operation fails the test: a
// check that saw nothing proves nothing.
func checkSQL(ctx context.Context, t testing.TB, s Scenario, c Cluster, r *run, rep *Report) {
	t.Helper()
	if s.Workload.SQLClients <= 0 {
		return
	}
	r.sql.mu.Lock()
	acked, bad, ops, lastErr := r.sql.acked, r.sql.bad, r.sql.ops, r.sql.lastErr
	r.sql.mu.Unlock()
	if ops == 0 {
		t.Errorf("%s: the SQL clients made no register operation (last error: %v): is the SQL API served?", s.Name, lastErr)
		return
	}
	counts, err := readSQLTags(ctx, c.Endpoints())
	if err != nil {
		t.Fatalf("reading the SQL table %s after %s: %v", sqlDurTable, s, err)
	}
	for _, tag := range acked {
		if counts[tag] == 0 {
			rep.Lost = append(rep.Lost, sqlDurTable+":"+tag)
		}
	}
	for tag, n := range counts {
		if n > 1 {
			rep.Verdict.Violations = append(rep.Verdict.Violations, fmt.Sprintf("SQL insert of %s applied %d times", tag, n))
		}
	}
	rep.Verdict.Violations = append(rep.Verdict.Violations, bad...)
	rep.Acked += len(acked)
	t.Logf("%s: SQL: %d register operations, %d acknowledged inserts, %d rows in %s after the run", s.Name, ops, len(acked), len(counts), sqlDurTable)
}

// readSQLTags counts each tag of the durability table, read at level
// linearizable from a random member, retrying while the cluster settles.
func readSQLTags(ctx context.Context, endpoints []string) (map[string]int, error) {
	hc := newSQLHTTP()
	defer hc.CloseIdleConnections()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		a, err := sqlDo(octx, hc, endpoints[rng.Intn(len(endpoints))], "/db/query?level=linearizable",
			[]any{"SELECT tag FROM " + sqlDurTable})
		cancel()
		if err == nil {
			counts := map[string]int{}
			for _, row := range a.Results[0].Values {
				var tag string
				if len(row) != 1 || json.Unmarshal(row[0], &tag) != nil {
					return nil, fmt.Errorf("unexpected row %s", row)
				}
				counts[tag]++
			}
			return counts, nil
		}
		if pause(ctx, 200*time.Millisecond) != nil {
			return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		}
	}
}
