package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/concord-db/concord/server"
	lin "github.com/concord-db/concord/test/linearizability"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// rollingRounds is how many times TestRollingRestart restarts every
// member: 1 in CI, 3 under make torture (CONCORD_TORTURE), or
// CONCORD_ROLLING_ROUNDS. Rounds after the first alternate between a
// graceful restart and kill -9 + start.
func rollingRounds() int {
	n := 1
	if os.Getenv("CONCORD_TORTURE") != "" {
		n = 3
	}
	if v, err := strconv.Atoi(os.Getenv("CONCORD_ROLLING_ROUNDS")); err == nil && v > 0 {
		n = v
	}
	return n
}

// TestRollingRestart is the operator's rolling restart of the compose
// cluster (deploy/compose.yaml) under load: while the reliability suite's
// clients write and read through every API (linearizable KV registers,
// txns, locks, SQL, typed resources, durable puts and inserts), each member
// in turn is restarted with `compose restart` (SIGTERM, then start), and
// the next one only once `concord health --cluster`, run inside the
// restarted container, exits 0, as docs/operations.md tells an operator to
// do. Then: every history is linearizable (porcupine), every acknowledged
// durable write is there with its value, exactly one member leads and
// every member agrees on it, and every member's KV history hashes the same
// (etcd's HashKV at one revision).
func TestRollingRestart(t *testing.T) {
	needDocker(t)
	if testing.Short() {
		t.Skip("-short: the rolling restart takes about a minute")
	}
	rounds := rollingRounds()
	k := lin.RunKnobs(1, 0)
	c := upCompose(t)
	e := c.external()
	wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
	defer wcancel()
	if err := e.WaitLeader(wctx); err != nil {
		t.Fatal(err)
	}
	driver := func(ctx context.Context, t testing.TB) int {
		n := 0
		if !sleepCtx(ctx, 3*time.Second) { // the load runs before the first restart
			return n
		}
		for round := range rounds {
			kill := round%2 == 1
			for _, m := range c.members {
				if err := rollMember(ctx, t, c, m, kill); err != nil {
					t.Errorf("round %d: %v", round+1, err)
					return n
				}
				n++
			}
		}
		sleepCtx(ctx, 2*time.Second) // and after the last
		return n
	}
	s := lin.Scenario{Name: fmt.Sprintf("rolling-restart-seed%d", k.Seed), Seed: k.Seed,
		Duration: time.Duration(rounds)*3*2*time.Minute + time.Minute, Driver: driver,
		Workload: lin.Workload{OpTimeout: 3 * time.Second, LockTTL: 3}}
	t.Logf("rolling restart: %d round(s), seed %d (CONCORD_SEED=%d replays the workload's choices)", rounds, k.Seed, k.Seed)
	rep := lin.Run(t, s, e)
	if rep.Acked == 0 {
		t.Errorf("no durable write was acknowledged: the load did not run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checkOneLeader(ctx, t, c)
	checkSameHash(ctx, t, c)
}

// rollMember restarts m as an operator does, gracefully (compose restart:
// SIGTERM, then start) or, with kill, by kill -9 and start, and waits until
// `concord health --cluster` inside m's container passes: every member
// ready (caught up) and knowing a leader, none with an alarm.
func rollMember(ctx context.Context, t testing.TB, c *composeCluster, m *composeMember, kill bool) error {
	role := "follower"
	if st, err := memberStatus(ctx, m); err == nil && st.State == "Leader" {
		role = "leader"
	}
	start := time.Now()
	how := "compose restart"
	if kill {
		how = "compose kill + start"
		if err := m.Kill(); err != nil {
			return err
		}
		if err := m.Start(ctx); err != nil {
			return err
		}
	} else if _, err := c.run("restart", m.id); err != nil {
		return err
	}
	restarted := time.Since(start)
	var out string
	var err error
	for {
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err = m.exec(hctx, "health", "--cluster", "--timeout", "3s")
		cancel()
		if err == nil {
			break
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return fmt.Errorf("%s (the %s) not healthy after %s: %v\n%s", m.id, role, how, err, out)
		}
	}
	t.Logf("%s: %s of %s (the %s) took %s, cluster healthy %s after it",
		time.Now().Format("15:04:05.000"), how, m.id, role, restarted.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return nil
}

// memberStatus is GET /v1/status of one member.
func memberStatus(ctx context.Context, m *composeMember) (server.StatusResponse, error) {
	var st server.StatusResponse
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+m.ClientAddr()+"/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: /v1/status: HTTP %d", m.id, resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// checkOneLeader waits until exactly one member says it leads and every
// member names it as the leader, in the same term.
func checkOneLeader(ctx context.Context, t *testing.T, c *composeCluster) {
	t.Helper()
	var last string
	for {
		var leaders []string
		named := map[string]bool{}
		terms := map[uint64]bool{}
		var err error
		for _, m := range c.members {
			st, serr := memberStatus(ctx, m)
			if serr != nil {
				err = serr
				break
			}
			if st.State == "Leader" {
				leaders = append(leaders, st.ID)
			}
			named[st.LeaderID] = true
			terms[st.Term] = true
		}
		if err == nil && len(leaders) == 1 && len(named) == 1 && named[leaders[0]] && len(terms) == 1 {
			t.Logf("one leader: %s, named by every member", leaders[0])
			return
		}
		last = fmt.Sprintf("leaders %v, leader ids named %v, terms %v, error %v", leaders, named, terms, err)
		if !sleepCtx(ctx, 200*time.Millisecond) {
			t.Fatalf("not exactly one leader agreed on by every member: %s", last)
		}
	}
}

// checkSameHash reads the current revision (a linearizable read) and
// checks that every member's KV history up to it hashes the same: the
// restarts left no member with a different history.
func checkSameHash(ctx context.Context, t *testing.T, c *composeCluster) {
	t.Helper()
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.ClientAddr())
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "lin/")
	if err != nil {
		t.Fatalf("reading the revision: %v", err)
	}
	rev := resp.Header.Revision
	hashes := map[string]uint32{}
	for _, m := range c.members {
		for {
			h, err := cli.HashKV(ctx, m.ClientAddr(), rev)
			if err == nil {
				hashes[m.id] = h.Hash
				break
			}
			if !errors.Is(err, rpctypes.ErrFutureRev) || !sleepCtx(ctx, 100*time.Millisecond) {
				t.Fatalf("HashKV(%d) on %s: %v", rev, m.id, err)
			}
		}
	}
	for _, m := range c.members[1:] {
		if hashes[m.id] != hashes[c.members[0].id] {
			t.Fatalf("KV history hashes at revision %d differ between members: %v", rev, hashes)
		}
	}
	t.Logf("every member's KV history hashes to %08x at revision %d", hashes[c.members[0].id], rev)
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
