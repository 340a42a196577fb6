package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sqlExec posts one rqlite-style statement with its arguments to a's
// /db/execute and reports whether it was acknowledged (HTTP 200 and no
// error in its result).
func sqlExec(a *agent, sql string, args ...any) error {
	body, err := json.Marshal([][]any{append([]any{sql}, args...)})
	if err != nil {
		return err
	}
	resp, err := httpClient.Post("http://"+a.clientAddr+"/db/execute", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", a.id, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("%s: %v: %s", a.id, err, raw)
	}
	if out.Error != "" || len(out.Results) != 1 || out.Results[0].Error != "" {
		return fmt.Errorf("%s: %s", a.id, raw)
	}
	return nil
}

// sqlRows runs a query at level on a and returns its values.
func sqlRows(a *agent, level, sql string) ([][]any, error) {
	resp, err := httpClient.Get("http://" + a.clientAddr + "/db/query?level=" + level + "&q=" + url.QueryEscape(sql))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", a.id, resp.StatusCode, raw)
	}
	var out struct {
		Results []struct {
			Values [][]any `json:"values"`
			Error  string  `json:"error"`
		} `json:"results"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", a.id, err, raw)
	}
	if len(out.Results) != 1 || out.Results[0].Error != "" {
		return nil, fmt.Errorf("%s: %s", a.id, raw)
	}
	return out.Results[0].Values, nil
}

// TestSQLKillDuringWrites: a three-member cluster of the real binary takes
// SQL inserts (random() in each) through every member while a follower,
// then the leader, then all three members at once are killed with SIGKILL
// and restarted; snapshots are frequent, so restarts meet database files
// both ahead of and behind the newest snapshot. Every acknowledged row is
// then on every member, and the members' tables are identical.
func TestSQLKillDuringWrites(t *testing.T) {
	t.Parallel()
	agents := newAgents(t, 3)
	var peers []string
	for _, a := range agents {
		peers = append(peers, a.id+"="+a.peerAddr)
	}
	args := func(a *agent) []string {
		return append(a.nodeArgs(), "--snapshot-threshold", "50")
	}
	for _, a := range agents {
		a.start(append(args(a), "--initial-cluster", strings.Join(peers, ","))...)
	}
	waitReady(t, agents...)
	waitOneLeader(t, agents...)
	waitFor(t, leaderTimeout, "the table to be created", func() error {
		return sqlExec(agents[0], "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, r INTEGER, at TEXT)")
	})

	var (
		acked   sync.Map
		nacked  atomic.Int64
		stop    = make(chan struct{})
		workers sync.WaitGroup
	)
	for w := range 8 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := int64(w*10_000_000 + i)
				a := agents[rand.IntN(len(agents))]
				if !a.running() {
					time.Sleep(10 * time.Millisecond) // a down member: try another
					continue
				}
				if sqlExec(a, "INSERT INTO t (k, r, at) VALUES (?, random(), datetime('now'))", k) == nil {
					acked.Store(k, true)
					nacked.Add(1)
				}
			}
		}()
	}
	until := func(n int64) {
		t.Helper()
		waitFor(t, leaderTimeout, fmt.Sprintf("%d acknowledged inserts", n), func() error {
			if got := nacked.Load(); got < n {
				return fmt.Errorf("%d acknowledged", got)
			}
			return nil
		})
	}
	restart := func(as ...*agent) {
		for _, a := range as {
			a.start(args(a)...)
		}
	}

	until(300)
	leader := waitOneLeader(t, agents...)
	follower := others(agents, leader)[0]
	t.Logf("killing follower %s", follower.id)
	follower.kill()
	until(600)
	restart(follower)
	t.Logf("killing leader %s", leader.id)
	leader.kill()
	until(900)
	restart(leader)
	until(1200)
	t.Log("killing every member")
	for _, a := range agents {
		a.kill()
	}
	restart(agents...)
	waitReady(t, agents...)
	until(1500)
	close(stop)
	workers.Wait()

	var want [][]any
	for i, a := range agents {
		var rows [][]any
		waitFor(t, leaderTimeout, a.id+" to answer a linearizable query", func() (err error) {
			rows, err = sqlRows(a, "linearizable", "SELECT k, r, at FROM t ORDER BY k")
			return err
		})
		have := map[string]bool{}
		for _, r := range rows {
			have[fmt.Sprint(r[0])] = true
		}
		missing := 0
		acked.Range(func(k, _ any) bool {
			if !have[fmt.Sprint(k)] {
				missing++
			}
			return true
		})
		if missing > 0 {
			t.Fatalf("%s lacks %d of the %d acknowledged rows", a.id, missing, nacked.Load())
		}
		if i == 0 {
			want = rows
		} else if fmt.Sprint(rows) != fmt.Sprint(want) {
			t.Fatalf("%s's table differs from %s's (%d against %d rows)", a.id, agents[0].id, len(rows), len(want))
		}
		t.Logf("%s: %d rows, %d acknowledged", a.id, len(rows), nacked.Load())
	}
}
