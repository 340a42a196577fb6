package agenttest_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	iofs "io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/internal/diskfull"
	"github.com/concord-db/concord/node/wal"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestDiskFull puts the leader's data dir on a small file system (a real
// tmpfs where the machine allows mounting one, else ENOSPC injected into
// its log writes) and fills it under a write load: the leader steps down
// and the two others go on taking writes; the full member refuses writes
// with a clear error, serves local reads, and shows the condition on
// /readyz, /v1/status and /metrics; once space returns it takes writes and
// catches up without a restart, and a restart finds its data intact.
func TestDiskFull(t *testing.T) {
	fs := diskfull.New(t, 24<<20)
	if !fs.Real {
		t.Cleanup(wal.SetWriteFault(func(path string) error {
			if fs.Full() && strings.HasPrefix(path, fs.Dir) {
				return syscall.ENOSPC
			}
			return nil
		}))
	}
	c := agenttest.Start(t, 3, agenttest.Options{Configure: func(i int, cfg *agent.Config) {
		if i == 0 {
			cfg.Node.DataDir = filepath.Join(fs.Dir, "m0")
		}
	}})
	ctx := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	if c.Leader() != 0 {
		if err := c.Agent(0).Node.TransferLeadership(ctx(), "m0"); err != nil {
			t.Fatal(err)
		}
		c.WaitFor(20*time.Second, "m0 to lead", func() bool { return c.Leader() == 0 })
	}
	others := c.Client(1, 2)
	if _, err := others.Put(ctx(), "before", "1"); err != nil {
		t.Fatal(err)
	}
	// A snapshot before the disk fills: one that cannot be written later
	// must leave it as it is.
	if _, err := c.Agent(0).Node.WriteSnapshot(ctx(), io.Discard); err != nil {
		t.Fatal(err)
	}
	snapDir := filepath.Join(fs.Dir, "m0", "snapshots")
	snapsBefore := dirDigest(t, snapDir)
	fs.Fill(t)

	// Writes through the followers reach the full leader until its log
	// refuses one; then it steps down and the others elect a leader.
	value := strings.Repeat("x", 4096)
	n := 0
	var lastOK int
	c.WaitFor(60*time.Second, "m0 to find its disk full and another member to lead and take writes", func() bool {
		n++
		if _, err := others.Put(ctx(), fmt.Sprintf("during/%05d", n), value); err == nil {
			lastOK = n
		}
		return c.Agent(0).Node.DiskFull() && c.Leader() != 0 && lastOK == n
	})
	m0 := c.Client(0)
	if _, err := m0.Put(ctx(), "refused", "v"); err == nil || !strings.Contains(err.Error(), "file system is full") {
		t.Fatalf("put on the full member: %v, want its disk-full error", err)
	}
	if r, err := m0.Get(ctx(), "before", clientv3.WithSerializable()); err != nil || len(r.Kvs) != 1 {
		t.Fatalf("local read on the full member: %v", err)
	}
	base := "http://" + c.Endpoint(0)
	if st, body := quotaHTTP(t, "PUT", base+"/v1/kv/refused", `{"value": "v"}`); st != http.StatusInsufficientStorage || !strings.Contains(body, "disk_full") {
		t.Fatalf("REST put on the full member: %d %s", st, body)
	}
	if st, body := quotaHTTP(t, "GET", base+"/readyz", ""); st != http.StatusServiceUnavailable || !strings.Contains(body, "disk_full") {
		t.Fatalf("/readyz on the full member: %d %s", st, body)
	}
	if _, body := quotaHTTP(t, "GET", base+"/v1/status", ""); !strings.Contains(strings.ReplaceAll(body, " ", ""), `"disk_full":true`) {
		t.Fatalf("/v1/status on the full member: %s", body)
	}
	if _, body := quotaHTTP(t, "GET", base+"/metrics", ""); !strings.Contains(body, "concord_node_disk_full 1") || strings.Contains(body, "concord_node_disk_full_errors_total 0") {
		t.Fatalf("metrics on the full member lack the condition")
	}
	final := fmt.Sprintf("during/%05d", lastOK)
	if fs.Real {
		// raft's snapshot store writes with its own files, outside the
		// wal's fault seam: this part needs the real full file system.
		if _, err := c.Agent(0).Node.WriteSnapshot(ctx(), io.Discard); err == nil || !strings.Contains(err.Error(), "no space") {
			t.Fatalf("snapshot on the full member: %v, want a no-space failure", err)
		}
		if got := dirDigest(t, snapDir); got != snapsBefore {
			t.Fatalf("a failed snapshot changed the snapshot dir:\n before %s\n after  %s", snapsBefore, got)
		}
	} else {
		t.Log("injected ENOSPC does not reach raft's snapshot store: the failed snapshot is checked only on a real tmpfs")
	}

	fs.Free(t)
	c.WaitFor(30*time.Second, "m0 to take writes again and catch up", func() bool {
		if c.Agent(0).Node.DiskFull() {
			return false
		}
		r, err := m0.Get(ctx(), final, clientv3.WithSerializable())
		return err == nil && len(r.Kvs) == 1
	})
	if _, err := m0.Put(ctx(), "after", "1"); err != nil {
		t.Fatalf("put on m0 once space returned: %v", err)
	}
	// Nothing was corrupted: m0 restarts on its data dir and agrees.
	c.Crash(0)
	c.Restart(0)
	c.WaitReady()
	rev := func(i int) int64 {
		r, err := c.Client(i).Get(ctx(), "after")
		if err != nil || len(r.Kvs) != 1 {
			t.Fatalf("member %d after the restart: %v", i, err)
		}
		return r.Header.Revision
	}
	want := rev(1)
	c.WaitFor(20*time.Second, "m0 to reach the others' revision", func() bool {
		r, err := m0.Get(ctx(), "after", clientv3.WithSerializable())
		return err == nil && r.Header.Revision >= want
	})
	h0, err := m0.HashKV(ctx(), c.Endpoint(0), want)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := others.HashKV(ctx(), c.Endpoint(1), want)
	if err != nil || h0.Hash != h1.Hash {
		t.Fatalf("m0 and m1 disagree at revision %d: %x vs %x (%v)", want, h0.Hash, h1.Hash, err)
	}
	t.Logf("%d puts during the fill; real tmpfs: %v", n, fs.Real)
}

// dirDigest names every file under dir with its size and sha-256.
func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d iofs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(&b, "%s:%d:%x ", rel, len(data), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
