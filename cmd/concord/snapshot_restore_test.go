package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestSnapshotRestoreWhileWriting restores a backup while clients write and
// watch. Every write is a txn of two keys, conditional on a marker key that
// is "live" in the running cluster and "archive" in the backup: a write
// either lands before the restore (and is replaced by it) or, once the
// restore is in, fails its compare or fails outright; never half of it.
// After the restore the state equals the backup's exactly. Watches that were
// connected during the restore (to the leader and to a follower) are
// cancelled with a reason: they never silently skip the change.
func TestSnapshotRestoreWhileWriting(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	cli := c.Client()
	ctx := tctx(t, 2*time.Minute)
	for i := range 50 {
		if _, err := cli.Put(ctx, fmt.Sprintf("data/%02d", i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Put(ctx, "marker", "archive"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "backup.snap")
	mustSnapCLI(t, "snapshot", "save", file, "--endpoints", c.Endpoint(0))
	archiveRev, archiveKVs := kvDump(t, cli, 0)
	if _, err := cli.Put(ctx, "marker", "live"); err != nil {
		t.Fatal(err)
	}

	// Watchers on the leader and on a follower, from the next revision.
	type watch struct {
		name string
		res  chan watchResult
	}
	var watches []watch
	for _, i := range []int{c.Leader(), c.Follower()} {
		wcli := c.Client(i)
		wctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		w := watch{fmt.Sprintf("watch on member %d", i), make(chan watchResult, 1)}
		ch := wcli.Watch(wctx, "w/", clientv3.WithPrefix(), clientv3.WithRev(archiveRev+2))
		go func() { w.res <- consumeWatch(ch) }()
		watches = append(watches, w)
	}

	restEnd := make(chan string, 1)
	resp, err := http.Get(fmt.Sprintf("http://%s/v1/watch/w/?prefix&start_revision=%d", c.Endpoint(c.Follower()), archiveRev+2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		last := ""
		for sc.Scan() {
			last = sc.Text()
		}
		restEnd <- last
	}()

	var (
		landed, refused, failed atomic.Int64
		stop                    atomic.Bool
		wg                      sync.WaitGroup
		errMu                   sync.Mutex
		errs                    []string
		sawRefusal              [4]atomic.Bool
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wc := c.Client()
			for seq := 0; !stop.Load(); seq++ {
				k := fmt.Sprintf("w/%d/%05d/", w, seq)
				v := fmt.Sprint(seq)
				octx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				r, err := wc.Txn(octx).If(clientv3.Compare(clientv3.Value("marker"), "=", "live")).
					Then(clientv3.OpPut(k+"a", v), clientv3.OpPut(k+"b", v)).Commit()
				cancel()
				switch {
				case err != nil:
					failed.Add(1)
					errMu.Lock()
					errs = append(errs, err.Error())
					errMu.Unlock()
				case r.Succeeded:
					landed.Add(1)
				default:
					refused.Add(1)
					sawRefusal[w].Store(true)
				}
			}
		}()
	}
	c.WaitFor(30*time.Second, "writes to land", func() bool { return landed.Load() >= 40 })
	out := mustSnapCLI(t, "snapshot", "restore", file, "--yes", "--endpoints", c.Endpoint(c.Follower()))
	if !strings.Contains(out, "restored") {
		t.Fatalf("restore printed %q", out)
	}
	c.WaitFor(30*time.Second, "every writer to see the restored marker", func() bool {
		for i := range sawRefusal {
			if !sawRefusal[i].Load() {
				return false
			}
		}
		return true
	})
	stop.Store(true)
	wg.Wait()
	t.Logf("writes: %d landed before the restore, %d refused after it, %d failed; errors: %v", landed.Load(), refused.Load(), failed.Load(), uniq(errs))

	waitSameHash(t, c, archiveRev)
	for i := range c.Size() {
		rev, kvs := kvDump(t, c.Client(i), 0)
		if rev != archiveRev {
			t.Fatalf("member %d at revision %d after the restore, want the archive's %d", i, rev, archiveRev)
		}
		if d := sameKVs(archiveKVs, kvs); d != "" {
			t.Fatalf("member %d differs from the archive: %s", i, d)
		}
	}

	// The REST watch shows the reason on its last line.
	select {
	case line := <-restEnd:
		if !strings.Contains(line, `"canceled":true`) || !strings.Contains(line, "rolled back") || !strings.Contains(line, `"compact_revision"`) {
			t.Fatalf("REST watch ended with %s", line)
		}
		t.Logf("REST watch: %s", line)
	case <-time.After(30 * time.Second):
		t.Fatalf("REST watch not cancelled within 30s of the restore")
	}
	for _, w := range watches {
		var res watchResult
		select {
		case res = <-w.res:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no cancellation within 30s of the restore", w.name)
		}
		t.Logf("%s: %d events, then %s", w.name, res.events, res.end)
		if res.bad != "" {
			t.Fatal(w.name + ": " + res.bad)
		}
		if res.events < 2 {
			t.Fatalf("%s: saw %d events of the %d writes that landed", w.name, res.events, landed.Load())
		}
	}
}

type watchResult struct {
	events int
	end    string // how it ended
	bad    string // what was wrong, if anything
}

// consumeWatch reads a watch until it ends, checking that every revision
// carries both keys of a txn.
func consumeWatch(ch clientv3.WatchChan) watchResult {
	var res watchResult
	perRev := map[int64]int{}
	for resp := range ch {
		res.events += len(resp.Events)
		for _, ev := range resp.Events {
			perRev[ev.Kv.ModRevision]++
		}
		if resp.Canceled {
			res.end = fmt.Sprintf("cancelled: %v (compact revision %d)", resp.Err(), resp.CompactRevision)
			// The restore replaced the history: clientv3 must see
			// ErrCompacted and the revision to read again from.
			if !errors.Is(resp.Err(), rpctypes.ErrCompacted) || resp.CompactRevision == 0 {
				res.bad = "not cancelled as compacted by the restore: " + res.end
			}
			break
		}
	}
	if res.end == "" {
		res.end = "the channel closed"
		res.bad = "the watch ended without a cancellation carrying the restore's compact revision"
	}
	for rev, n := range perRev {
		if n != 2 {
			res.bad = fmt.Sprintf("revision %d carried %d events, want the txn's 2", rev, n)
		}
	}
	return res
}

func uniq(ss []string) map[string]int {
	m := map[string]int{}
	for _, s := range ss {
		m[s]++
	}
	return m
}
