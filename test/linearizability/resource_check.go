package linearizability

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

// checkResource adds the resource workload's findings to rep once the
// cluster has healed (and, with CrashAllAtEnd, come back from kill -9 of
// every member):
//
//   - durability: an acknowledged create that is gone, or there with
//     another version, is a lost write;
//   - watches: the watchers settle on a revision that a strong List, the
//     store and every watcher agree on (writes whose callers gave up may
//     commit late, so the List is repeated until it stops moving); then
//     each watcher's state must equal the List, each must have seen every
//     acknowledged write after its snapshot, and all must have seen the
//     same changes where they overlap;
//   - the clients' and watchers' own anomalies are violations.
//
// A workload that could not make a single resource operation fails the
// test: a check that saw nothing proves nothing.
func checkResource(ctx context.Context, t testing.TB, s Scenario, c Cluster, r *run, rep *Report) {
	t.Helper()
	if s.Workload.ResourceClients <= 0 {
		return
	}
	rs := &r.res
	rs.mu.Lock()
	acked, wrote, bad, ops, lastErr := rs.acked, rs.wrote, rs.bad, rs.ops, rs.lastErr
	rs.mu.Unlock()
	if ops == 0 {
		t.Errorf("%s: the resource clients made no operation (last error: %v): is the ResourceService served?", s.Name, lastErr)
		return
	}
	rw := rs.watch
	if rw == nil {
		rw = &resWatchers{cancel: func() {}}
	}
	settleStart := time.Now()
	list, target, err := settleResources(ctx, c.Endpoints(), rw)
	settled := time.Since(settleStart)
	if err != nil {
		t.Fatalf("resource watchers and a strong List did not settle after %s: %v", s, err)
	}
	rw.stop()
	for name, version := range acked {
		if got, ok := list[name]; !ok || got != version {
			rep.Lost = append(rep.Lost, fmt.Sprintf("resource %s (version %s; now %q)", name, version, got))
		}
	}
	rep.Verdict.Violations = append(rep.Verdict.Violations, bad...)
	rep.Verdict.Violations = append(rep.Verdict.Violations, checkWatchers(rw.ws, list, wrote)...)
	rep.Acked += len(acked)
	resumes := 0
	for _, w := range rw.ws {
		resumes += w.resumes
	}
	t.Logf("%s: resources: %d register operations, %d acknowledged creates, %d acknowledged writes, %d resources at revision %d; %d watchers resumed %d times, settled in %s",
		s.Name, ops, len(acked), len(wrote), len(list), target, len(rw.ws), resumes, settled.Round(time.Millisecond))
}

// settleResources repeats a strong List of the workload's type until its
// highest version is one every watcher has reached and a second List
// agrees, reconnecting watchers that make no progress. It returns the
// List (name -> version) and that revision.
func settleResources(ctx context.Context, endpoints []string, rw *resWatchers) (map[string]string, uint64, error) {
	var conns resConns
	defer conns.close()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var prev uint64
	for {
		list, target, err := strongList(ctx, &conns, endpoints[rng.Intn(len(endpoints))])
		if err == nil && target == prev && allAt(rw, target) {
			return list, target, nil
		}
		if err == nil {
			prev = target
			waitWatchers(ctx, rw, target)
		}
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("%w (last List: %v; watchers at %v, want %d)", ctx.Err(), err, watcherPositions(rw), target)
		}
		pause(ctx, 100*time.Millisecond)
	}
}

// strongList lists the workload's type strongly from ep.
func strongList(ctx context.Context, conns *resConns, ep string) (map[string]string, uint64, error) {
	c, err := conns.client(ep)
	if err != nil {
		return nil, 0, err
	}
	lctx, cancel := context.WithTimeout(strongCtx(ctx), 10*time.Second)
	defer cancel()
	resp, err := c.List(lctx, &pbresource.ListRequest{Type: linResType, Tenancy: linResTenancy})
	if err != nil {
		return nil, 0, err
	}
	list := map[string]string{}
	var top uint64
	for _, res := range resp.Resources {
		list[res.Id.Name] = res.Version
		v, err := strconv.ParseUint(res.Version, 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("resource %s has version %q", res.Id.Name, res.Version)
		}
		top = max(top, v)
	}
	return list, top, nil
}

// waitWatchers waits up to 20 s for every watcher to reach target, and
// reconnects (to another random member) those that made no progress for
// 5 s.
func waitWatchers(ctx context.Context, rw *resWatchers, target uint64) {
	deadline := time.Now().Add(20 * time.Second)
	last := make([]uint64, len(rw.ws))
	moved := make([]time.Time, len(rw.ws))
	for i := range moved {
		moved[i] = time.Now()
	}
	for time.Now().Before(deadline) && !allAt(rw, target) && ctx.Err() == nil {
		for i, w := range rw.ws {
			at := w.at()
			if at != last[i] {
				last[i], moved[i] = at, time.Now()
			} else if at < target && time.Since(moved[i]) > 5*time.Second {
				w.reconnect()
				moved[i] = time.Now()
			}
		}
		pause(ctx, 50*time.Millisecond)
	}
}

func allAt(rw *resWatchers, target uint64) bool {
	for _, w := range rw.ws {
		if w.at() < target {
			return false
		}
	}
	return true
}

func watcherPositions(rw *resWatchers) []uint64 {
	var at []uint64
	for _, w := range rw.ws {
		at = append(at, w.at())
	}
	return at
}

// checkWatchers compares the settled watchers with the List and the
// acknowledged writes (version -> name), and with each other.
func checkWatchers(ws []*resWatcher, list map[string]string, wrote map[uint64]string) []string {
	var bad []string
	var common uint64 // every watcher must have seen every change after this
	for _, w := range ws {
		w.mu.Lock()
		bad = append(bad, w.bad...)
		if w.snaps == 0 {
			bad = append(bad, fmt.Sprintf("watcher %d never got its snapshot (last error: %v)", w.id, w.lastErr))
			w.mu.Unlock()
			continue
		}
		common = max(common, w.from)
		if d := diffState(w.state, list); d != "" {
			bad = append(bad, fmt.Sprintf("watcher %d disagrees with a strong List: %s", w.id, d))
		}
		var missed []uint64
		for v, name := range wrote {
			if v > w.from && w.seen[v] != name {
				missed = append(missed, v)
			}
		}
		if len(missed) > 0 {
			sort.Slice(missed, func(i, j int) bool { return missed[i] < missed[j] })
			bad = append(bad, fmt.Sprintf("watcher %d (from version %d) missed %d acknowledged writes, e.g. versions %v",
				w.id, w.from, len(missed), missed[:min(5, len(missed))]))
		}
		w.mu.Unlock()
	}
	// Every watcher saw the same changes after the latest snapshot.
	var ref map[uint64]string
	for _, w := range ws {
		w.mu.Lock()
		after := map[uint64]string{}
		for v, name := range w.seen {
			if v > common {
				after[v] = name
			}
		}
		w.mu.Unlock()
		if ref == nil {
			ref = after
			continue
		}
		if len(after) != len(ref) {
			bad = append(bad, fmt.Sprintf("watcher %d saw %d changes after version %d, watcher 0 saw %d", w.id, len(after), common, len(ref)))
			continue
		}
		for v, name := range ref {
			if after[v] != name {
				bad = append(bad, fmt.Sprintf("watcher %d saw %q at version %d, watcher 0 saw %q", w.id, after[v], v, name))
				break
			}
		}
	}
	return bad
}

// diffState describes how a watcher's state differs from the List.
func diffState(state, list map[string]string) string {
	for name, v := range list {
		if state[name] != v {
			return fmt.Sprintf("%s is at version %s in the List and %q in the watch", name, v, state[name])
		}
	}
	for name, v := range state {
		if _, ok := list[name]; !ok {
			return fmt.Sprintf("%s (version %s) is in the watch and not in the List", name, v)
		}
	}
	return ""
}
