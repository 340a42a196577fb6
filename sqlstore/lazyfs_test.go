package sqlstore

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/concord-db/concord/internal/lazyfs"
)

// crashLosing stops s as a power loss does: syncs after this instant do
// not count (the close's own checkpoint included), then the disk loses
// what was written and not synced.
func crashLosing(t *testing.T, d *lazyfs.Disk, s *Store, rng *rand.Rand) lazyfs.Loss {
	t.Helper()
	d.Freeze()
	d.Thaw() // later syncs return, unrecorded
	s.Close()
	loss, err := d.Crash(rng)
	if err != nil {
		t.Fatal(err)
	}
	return loss
}

// TestLoseUnsyncedSQLite runs the database through internal/lazyfs (the
// watched VFS reports every sync SQLite makes) and crashes it at random
// points of a write load, each crash dropping, cutting or tearing what was
// not synced: the reopened file is never damaged, reports the index whose
// effects it really holds, and replaying the log from there gives the
// tables of a store that never crashed (nothing lost, nothing twice).
func TestLoseUnsyncedSQLite(t *testing.T) {
	const n = 300
	log := testLog(t, n)
	ref := openTestStore(t)
	replay(t, ref, log, 1, n)
	want := TableHash(t, ref)

	dir := t.TempDir()
	d := lazyfs.New(dir)
	defer d.Close()
	rng := rand.New(rand.NewSource(1))
	var total lazyfs.Loss
	at := 0
	for round := 0; at < n; round++ {
		s := openAt(t, dir)
		got := s.AppliedIndex()
		if int(got) > at {
			t.Fatalf("round %d: applied index %d, but only %d entries were applied", round, got, at)
		}
		if len(damagedFiles(t, dir)) != 0 {
			t.Fatalf("round %d: a crash left a database SQLite calls damaged", round)
		}
		at = min(n, at+1+rng.Intn(60))
		replay(t, s, log, int(got)+1, at)
		if at == n {
			if h := TableHash(t, s); h != want {
				t.Fatalf("after %d crashes and replays the tables differ from the store that never crashed", round)
			}
			s.Close()
			break
		}
		loss := crashLosing(t, d, s, rng)
		total.Files += loss.Files
		total.Bytes += loss.Bytes
		total.Removed += loss.Removed
	}
	t.Logf("crashes lost %d bytes in %d files, %d names", total.Bytes, total.Files, total.Removed)
	if total.Bytes == 0 {
		t.Fatalf("no crash lost anything: the test tested nothing")
	}
}

// TestRestoreDurableBeforeSwap: a snapshot section restored into the
// store survives a power loss right after Restore returns. The received
// file must be synced before it is renamed over the database: a crash
// that keeps part of an unsynced file would leave a database whose
// applied index claims the whole snapshot (the regression lazyfs found).
func TestRestoreDurableBeforeSwap(t *testing.T) {
	const n = 200
	log := testLog(t, n)
	ref := openTestStore(t)
	replay(t, ref, log, 1, n)
	want := TableHash(t, ref)
	snap, err := ref.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var section bytes.Buffer
	if err := snap.Persist(&section); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	for seed := int64(1); seed <= 8; seed++ {
		dir := filepath.Join(t.TempDir(), "db")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		d := lazyfs.New(dir)
		d.SetModes(lazyfs.Prefix, lazyfs.Torn)
		s := openAt(t, dir)
		replay(t, s, log, 1, 5)
		if err := s.Restore(bytes.NewReader(section.Bytes())); err != nil {
			t.Fatal(err)
		}
		crashLosing(t, d, s, rand.New(rand.NewSource(seed)))
		s = openAt(t, dir)
		if got := s.AppliedIndex(); got != n {
			t.Fatalf("seed %d: applied index %d after a crash right after restoring a snapshot of index %d", seed, got, n)
		}
		if h := TableHash(t, s); h != want {
			t.Fatalf("seed %d: the restored tables lost rows in a crash right after Restore returned", seed)
		}
		s.Close()
		d.Close()
	}
}
