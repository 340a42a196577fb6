package lazyfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/syncwatch"
	"github.com/concord-db/concord/node/wal"
	"github.com/hashicorp/raft"
)

func TestLoseModes(t *testing.T) {
	old := []byte("durable-")
	cur := []byte("durable-and-then-some")
	rng := rand.New(rand.NewSource(1))
	if next, lost := lose(old, cur, Drop, rng); !bytes.Equal(next, old) || lost != int64(len(cur)-len(old)) {
		t.Fatalf("drop: %q, %d lost", next, lost)
	}
	for range 50 {
		next, lost := lose(old, cur, Prefix, rng)
		if !bytes.HasPrefix(next, old) || !bytes.HasPrefix(cur, next) || lost != int64(len(cur)-len(next)) {
			t.Fatalf("prefix: %q, %d lost", next, lost)
		}
		next, _ = lose(old, cur, Torn, rng)
		if !bytes.HasPrefix(next, old) || len(next) > len(cur) {
			t.Fatalf("torn: %q", next)
		}
	}
	// An overwrite inside the durable part is un-synced too; beyond what a
	// prefix keeps, the old bytes stay.
	if next, _ := lose([]byte("aaaaaaaa"), []byte("aaXXXXaa"), Drop, rng); string(next) != "aaaaaaaa" {
		t.Fatalf("overwrite dropped: %q", next)
	}
	if next, lost := lose(old, old, Torn, rng); !bytes.Equal(next, old) || lost != 0 {
		t.Fatalf("nothing written: %q, %d", next, lost)
	}
}

func entries(from, to uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("entry-%d", i))})
	}
	return out
}

// TestWALKeepsSyncedEntries writes entries through node/wal, then bytes
// nobody synced after them, crashes many times and checks that every
// stored entry is back and the un-synced bytes are handled by wal.Open.
func TestWALKeepsSyncedEntries(t *testing.T) {
	root := t.TempDir()
	d := New(root)
	defer d.Close()
	dir := filepath.Join(root, "wal")
	var total Loss
	last := uint64(0)
	for seed := range int64(30) {
		l, err := wal.Open(dir, wal.Options{SegmentSize: 8 << 10})
		if err != nil {
			t.Fatalf("seed %d: open after crash: %v", seed, err)
		}
		got, err := l.LastIndex()
		if err != nil || got != last {
			t.Fatalf("seed %d: last index %d (%v), want %d", seed, got, err, last)
		}
		for i := uint64(1); i <= last; i++ {
			var e raft.Log
			if err := l.GetLog(i, &e); err != nil || string(e.Data) != fmt.Sprintf("entry-%d", i) {
				t.Fatalf("seed %d: entry %d: %q, %v", seed, i, e.Data, err)
			}
		}
		if err := l.StoreLogs(entries(last+1, last+20)); err != nil {
			t.Fatal(err)
		}
		last += 20
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		// A write nobody synced: the next batch, half written, at the end
		// of the active (last) segment and of the stable file.
		segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		for _, p := range []string{segs[len(segs)-1], filepath.Join(dir, "stable")} {
			if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write(bytes.Repeat([]byte{0xAB}, 300))
				f.Close()
			}
		}
		os.WriteFile(filepath.Join(dir, "not-synced"), []byte("x"), 0o600)
		loss, err := d.Crash(rand.New(rand.NewSource(seed)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "not-synced")); !os.IsNotExist(err) {
			t.Fatalf("seed %d: a name created after the directory's last sync survived: %v", seed, err)
		}
		total.Files += loss.Files
		total.Bytes += loss.Bytes
	}
	if total.Files == 0 || total.Bytes == 0 {
		t.Fatalf("crashes lost nothing: %+v", total)
	}
	t.Logf("30 crashes: %+v", total)
}

// TestFreezeHoldsSyncs checks that a sync after Freeze blocks until Thaw
// and is not recorded: what the crashed writer stores then is lost.
func TestFreezeHoldsSyncs(t *testing.T) {
	root := t.TempDir()
	d := New(root)
	defer d.Close()
	l, err := wal.Open(filepath.Join(root, "wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StoreLogs(entries(1, 5)); err != nil {
		t.Fatal(err)
	}
	d.SetModes(Drop)
	d.Freeze()
	done := make(chan error, 1)
	go func() { done <- l.StoreLogs(entries(6, 10)) }()
	select {
	case err := <-done:
		t.Fatalf("StoreLogs returned while frozen: %v", err)
	case <-time.After(200 * time.Millisecond): // proving a negative: it stays blocked
	}
	d.Thaw()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := d.Crash(rand.New(rand.NewSource(1))); err != nil {
		t.Fatal(err)
	}
	l, err = wal.Open(filepath.Join(root, "wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if last, _ := l.LastIndex(); last != 5 {
		t.Fatalf("last index %d after a crash at the freeze, want 5", last)
	}
}

// TestReplacedFilesStayWhole replaces node/wal's bounds file many times
// (head deletions: a temporary file, synced, renamed over it) and removes
// segments, so that inode numbers are reused: a record kept for a freed
// inode must not pass for the new file's durable contents.
func TestReplacedFilesStayWhole(t *testing.T) {
	root := t.TempDir()
	d := New(root)
	defer d.Close()
	dir := filepath.Join(root, "wal")
	for round := range int64(10) {
		l, err := wal.Open(dir, wal.Options{SegmentSize: 4 << 10})
		if err != nil {
			t.Fatalf("round %d: open after crash: %v", round, err)
		}
		last, _ := l.LastIndex()
		for i := range uint64(8) {
			if err := l.StoreLogs(entries(last+1+i*25, last+25+i*25)); err != nil {
				t.Fatal(err)
			}
			first, _ := l.FirstIndex()
			if err := l.DeleteRange(first, last+i*25+10); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		if _, err := d.Crash(rand.New(rand.NewSource(round))); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRenameDurableOnlyAfterDirSync replaces a file by a rename: until its
// directory is synced, a crash brings back the old contents.
func TestRenameDurableOnlyAfterDirSync(t *testing.T) {
	root := t.TempDir()
	d := New(root)
	defer d.Close()
	write := func(path, data string) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(data)
		observe(f.Name()) // as if concord had fsync'ed it
		f.Close()
	}
	syncDir := func() {
		f, err := os.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		observe(f.Name())
		f.Close()
	}
	x, tmp := filepath.Join(root, "x"), filepath.Join(root, "x.tmp")
	write(x, "old")
	syncDir()
	for _, dirSync := range []bool{false, true} {
		write(tmp, "new")
		if err := os.Rename(tmp, x); err != nil {
			t.Fatal(err)
		}
		want := "old"
		if dirSync {
			syncDir()
			want = "new"
		}
		if _, err := d.Crash(rand.New(rand.NewSource(1))); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(x); err != nil || string(b) != want {
			t.Fatalf("dir synced %v: x holds %q (%v), want %q", dirSync, b, err, want)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Fatalf("x.tmp is back: %v", err)
		}
	}
}

// TestSnapshotDirs models raft's file snapshot store: a snapshot directory
// written, renamed into place and then reported whole (syncwatch's
// SyncedTree, as node does once the sink's Close returned) survives a
// crash, and the older one it replaced stays gone; without that report (a
// crash before the sink finished) the new directory is removed and the
// old one, reaped since the last sync of its parent, comes back whole.
func TestSnapshotDirs(t *testing.T) {
	for _, finished := range []bool{false, true} {
		root := t.TempDir()
		d := New(root)
		snaps := filepath.Join(root, "snapshots")
		write := func(dir, data string) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "state.bin"), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old, next := filepath.Join(snaps, "1-10"), filepath.Join(snaps, "2-20")
		write(old, "old state")
		if err := syncwatch.SyncedTree(old); err != nil {
			t.Fatal(err)
		}
		observe(snaps)
		write(next+".tmp", "new state")
		if err := os.Rename(next+".tmp", next); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(old); err != nil { // raft reaps the old one
			t.Fatal(err)
		}
		if finished {
			syncwatch.SyncedTree(next)
			observe(snaps)
		}
		loss, err := d.Crash(rand.New(rand.NewSource(1)))
		if err != nil {
			t.Fatal(err)
		}
		oldB, oldErr := os.ReadFile(filepath.Join(old, "state.bin"))
		newB, newErr := os.ReadFile(filepath.Join(next, "state.bin"))
		if finished {
			if newErr != nil || string(newB) != "new state" || !os.IsNotExist(oldErr) {
				t.Fatalf("finished: new %q (%v), old %v: want the new one only", newB, newErr, oldErr)
			}
		} else if oldErr != nil || string(oldB) != "old state" || !os.IsNotExist(newErr) {
			t.Fatalf("unfinished: old %q (%v), new %v: want the old one back and the new one gone (%s)", oldB, oldErr, newErr, loss)
		}
		d.Close()
	}
}

// TestFrozenSyncFails: a sync after Freeze blocks until Thaw, then fails
// with ErrCrashed and is not recorded.
func TestFrozenSyncFails(t *testing.T) {
	root := t.TempDir()
	d := New(root)
	defer d.Close()
	path := filepath.Join(root, "f")
	if err := os.WriteFile(path, []byte("synced"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syncwatch.Synced(path); err != nil {
		t.Fatal(err)
	}
	observe(root)
	d.Freeze()
	if err := os.WriteFile(path, []byte("synced and then some"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- syncwatch.Synced(path) }()
	select {
	case err := <-done:
		t.Fatalf("a sync after Freeze returned (%v) before Thaw", err)
	case <-time.After(50 * time.Millisecond):
	}
	d.Thaw()
	if err := <-done; !errors.Is(err, ErrCrashed) {
		t.Fatalf("a frozen sync returned %v, want ErrCrashed", err)
	}
	d.SetModes(Drop)
	if _, err := d.Crash(rand.New(rand.NewSource(1))); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "synced" {
		t.Fatalf("after the crash the file holds %q, want what was synced", b)
	}
}

// TestWALDirEntryDurable: a log created in a data dir whose listing was
// synced before (the node writes node-id first) survives a crash whole:
// wal.Open syncs the parent of the directory it creates. Without that a
// power loss took the wal directory, and a cluster whose members all
// crashed just after bootstrap restarted empty.
func TestWALDirEntryDurable(t *testing.T) {
	root := t.TempDir()
	d := New(root)
	defer d.Close()
	if err := os.WriteFile(filepath.Join(root, "node-id"), []byte("m0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	syncwatch.Synced(filepath.Join(root, "node-id"))
	syncwatch.Synced(root)
	l, err := wal.Open(filepath.Join(root, "wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StoreLogs(entries(1, 10)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := d.Crash(rand.New(rand.NewSource(1))); err != nil {
		t.Fatal(err)
	}
	l, err = wal.Open(filepath.Join(root, "wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if last, err := l.LastIndex(); err != nil || last != 10 {
		t.Fatalf("after the crash the log ends at %d (%v), want 10", last, err)
	}
}
