package sqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
)

// sqlCluster is three members, each a node with a Store registered, on
// testcluster's in-process network; members can crash and restart on
// their data dirs.
type sqlCluster struct {
	t       *testing.T
	net     *testcluster.Network
	initial []node.Peer
	mu      sync.Mutex
	members map[string]*sqlMember
}

type sqlMember struct {
	id, addr, dir string
	n             *node.Node // nil while down
	s             *Store
	openedAt      uint64 // the store's applied index when it was last opened
}

func newSQLCluster(t *testing.T, size int) *sqlCluster {
	c := &sqlCluster{t: t, net: testcluster.NewNetwork(time.Now().UnixNano()), members: map[string]*sqlMember{}}
	root := t.TempDir()
	for i := 1; i <= size; i++ {
		id := fmt.Sprintf("n%d", i)
		addr, err := c.net.Reserve(id)
		if err != nil {
			t.Fatal(err)
		}
		c.members[id] = &sqlMember{id: id, addr: addr, dir: filepath.Join(root, id)}
		c.initial = append(c.initial, node.Peer{ID: id, Addr: addr})
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			if n, _ := c.get(m.id); n != nil {
				n.Crash()
				m.s.Close()
			}
		}
	})
	for id := range c.members {
		c.start(id)
	}
	return c
}

func (c *sqlCluster) start(id string) {
	c.t.Helper()
	m := c.members[id]
	if err := os.MkdirAll(filepath.Join(m.dir, "sql"), 0o700); err != nil {
		c.t.Fatal(err)
	}
	s, err := Open(Config{Dir: filepath.Join(m.dir, "sql"), Logger: testcluster.NewLogger(c.t).With("member", id)})
	if err != nil {
		c.t.Fatalf("open store of %s: %v", id, err)
	}
	m.openedAt = s.AppliedIndex()
	cfg := node.DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.PeerAddr, cfg.InitialCluster = id, filepath.Join(m.dir, "node"), m.addr, c.initial
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 300*time.Millisecond, 300*time.Millisecond
	cfg.LeaderTimeout, cfg.ApplyTimeout = 5*time.Second, 5*time.Second
	cfg.SnapshotThreshold, cfg.SnapshotInterval, cfg.TrailingLogs = 64, 200*time.Millisecond, 32
	cfg.Network = c.net.Endpoint(id)
	cfg.Logger = testcluster.NewLogger(c.t).With("member", id)
	n, err := node.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := n.Register(node.TypeSQL, s); err != nil {
		c.t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		c.t.Fatalf("start %s: %v", id, err)
	}
	c.mu.Lock()
	m.n, m.s = n, s
	c.mu.Unlock()
}

func (c *sqlCluster) get(id string) (*node.Node, *Store) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[id]
	return m.n, m.s
}

// crash stops member id as kill -9 would: the files it leaves are those
// on disk at the moment (the store is closed afterwards, which would
// checkpoint, so its files are put back as they were). With img set,
// they are put back as they were when img was taken instead: the writes
// after it were not fsynced and are lost.
func (c *sqlCluster) crash(id string, img map[string][]byte) {
	c.t.Helper()
	n, s := c.get(id)
	c.mu.Lock()
	c.members[id].n = nil
	c.mu.Unlock()
	n.Crash()
	c.net.CloseConns(id)
	if img == nil {
		img = crashImage(c.t, s.cfg.Dir)
	}
	s.Close()
	restoreImage(c.t, s.cfg.Dir, img)
}

// quiescentImage copies id's database files between two applies.
func (c *sqlCluster) quiescentImage(id string) (map[string][]byte, uint64) {
	_, s := c.get(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	return crashImage(c.t, s.cfg.Dir), s.applied
}

// exec proposes one request through member id.
func (c *sqlCluster) exec(ctx context.Context, id string, sql string, args ...any) error {
	n, _ := c.get(id)
	if n == nil {
		return fmt.Errorf("%s is down", id)
	}
	b, err := encodeCommand(command{Timestamp: time.Now().UnixNano(), Seed: rand.Uint64(),
		Request: Request{Statements: []Statement{{SQL: sql, Positional: args}}}})
	if err != nil {
		return err
	}
	res, err := n.Apply(ctx, node.TypeSQL, b)
	if err != nil {
		return err
	}
	r, err := decodeResult(res.Data)
	if err == nil && r.Err != "" {
		err = fmt.Errorf("%s", r.Err)
	} else if err == nil && r.Results[0].Error != "" {
		err = fmt.Errorf("%s", r.Results[0].Error)
	}
	return err
}

// TestClusterCrashRestartUnderLoad: under a write load through every
// member, one member is killed (-9) and restarted, and another loses its
// un-fsynced database writes (its files go back to an earlier copy) and
// restarts; snapshots and log compaction run all along. In the end every
// acknowledged row is on every member and the members' tables hash the
// same.
func TestClusterCrashRestartUnderLoad(t *testing.T) {
	c := newSQLCluster(t, 3)
	ids := []string{"n1", "n2", "n3"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitFor(t, func() bool {
		return c.exec(ctx, "n1", "CREATE TABLE t (k INTEGER PRIMARY KEY, r INTEGER, at TEXT)") == nil
	}, "the table to be created")

	var (
		acked   sync.Map // k -> true
		nacked  atomic.Int64
		stop    = make(chan struct{})
		workers sync.WaitGroup
	)
	for w := range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := int64(w*1_000_000 + i)
				octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
				err := c.exec(octx, ids[rand.IntN(len(ids))], "INSERT INTO t (k, r, at) VALUES (?, random(), datetime('now'))", k)
				ocancel()
				if err == nil {
					acked.Store(k, true)
					nacked.Add(1)
				}
			}
		}()
	}
	until := func(n int64) {
		t.Helper()
		waitFor(t, func() bool { return nacked.Load() >= n }, fmt.Sprintf("%d acknowledged writes", n))
	}

	until(200)
	c.crash("n2", nil)
	until(400)
	c.start("n2")
	img, at := c.quiescentImage("n3")
	until(700)
	c.crash("n3", img)
	until(800)
	c.start("n3")
	if got := c.members["n3"].openedAt; got != at {
		t.Fatalf("n3 reopened at index %d, but its files held %d", got, at)
	}
	until(1000)
	close(stop)
	workers.Wait()

	for _, id := range ids {
		n, _ := c.get(id)
		if err := n.ReadBarrier(ctx); err != nil {
			t.Fatalf("%s: read barrier: %v", id, err)
		}
	}
	// Every member has applied what the leader had committed; the last
	// entries may still be on their way to some: compare once all agree.
	var hashes map[string]string
	waitFor(t, func() bool {
		hashes = map[string]string{}
		for _, id := range ids {
			_, s := c.get(id)
			hashes[id] = TableHash(t, s)
		}
		return hashes["n1"] == hashes["n2"] && hashes["n2"] == hashes["n3"]
	}, "the members' tables to agree")
	for _, id := range ids {
		_, s := c.get(id)
		have := map[int64]bool{}
		s.mu.Lock()
		r, err := execStatement(s.conn, Statement{SQL: "SELECT k FROM t"})
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range r.Rows {
			have[row[0].(int64)] = true
		}
		missing := 0
		acked.Range(func(k, _ any) bool {
			if !have[k.(int64)] {
				missing++
			}
			return true
		})
		if missing > 0 {
			t.Fatalf("%s lacks %d of %d acknowledged rows", id, missing, nacked.Load())
		}
		t.Logf("%s: %d rows (%d acknowledged), applied index %d", id, len(r.Rows), nacked.Load(), s.AppliedIndex())
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
