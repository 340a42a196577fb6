package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// stableLog returns a closed log directory whose stable store got the
// sets CurrentTerm = 1, 2, 3 in one run (three frames), and the offset of
// the last frame.
func stableLog(t *testing.T) (dir string, lastFrame int64) {
	t.Helper()
	dir = t.TempDir()
	l := openLog(t, dir, 0)
	for term := uint64(1); term <= 3; term++ {
		if term == 3 {
			lastFrame = l.stable.size
		}
		must(t, l.SetUint64([]byte("CurrentTerm"), term))
	}
	end := l.stable.size
	must(t, l.Close())
	// Without the zeros allocated ahead of the frames, so the file ends
	// with the last frame.
	must(t, os.Truncate(filepath.Join(dir, stableFile), end))
	return dir, lastFrame
}

// TestStableTornSet cuts the final Set's frame at every byte, as a crash
// during the Set leaves it: Open keeps the previous value.
func TestStableTornSet(t *testing.T) {
	dir, last := stableLog(t)
	b, err := os.ReadFile(filepath.Join(dir, stableFile))
	must(t, err)
	for at := last; at < int64(len(b)); at++ {
		for name, damaged := range map[string][]byte{
			"cut":    b[:at],
			"zeroed": append(bytes.Clone(b[:at]), make([]byte, int64(len(b))-at)...),
		} {
			crashed := copyDir(t, dir)
			must(t, os.WriteFile(filepath.Join(crashed, stableFile), damaged, 0o600))
			l := openLog(t, crashed, 0)
			if v, err := l.GetUint64([]byte("CurrentTerm")); err != nil || v != 2 {
				t.Fatalf("%s at %d: CurrentTerm %d %v, want the previous value 2", name, at, v, err)
			}
			must(t, l.SetUint64([]byte("CurrentTerm"), 4))
			l.Close()
			l = openLog(t, crashed, 0)
			if v, err := l.GetUint64([]byte("CurrentTerm")); err != nil || v != 4 {
				t.Fatalf("%s at %d, after a new Set and a reopen: CurrentTerm %d %v", name, at, v, err)
			}
			l.Close()
		}
	}
}

// TestStableDamage flips a bit in every byte of the frames before the
// final one (each followed by a good frame), and of a file holding a
// single frame (written by an atomic rewrite, so never torn). Open must
// refuse, never go back to an older term or vote.
func TestStableDamage(t *testing.T) {
	dir, last := stableLog(t)
	// After a reopen the file holds one frame, from an atomic rewrite.
	compacted := copyDir(t, dir)
	must(t, openLog(t, compacted, 0).Close())
	size := fileSize(t, filepath.Join(compacted, stableFile))
	for j := int64(0); j < last+size; j++ {
		dir, i, what := dir, j, "three frames"
		if j >= last {
			dir, i, what = compacted, j-last, "one frame"
		}
		crashed := copyDir(t, dir)
		path := filepath.Join(crashed, stableFile)
		b, err := os.ReadFile(path)
		must(t, err)
		b[i] ^= 1 << (i % 8)
		must(t, os.WriteFile(path, b, 0o600))
		if l, err := Open(crashed, testOptions(t, 0)); err == nil {
			v, _ := l.GetUint64([]byte("CurrentTerm"))
			l.Close()
			t.Fatalf("%s, bit flip at %d: Open succeeded with CurrentTerm %d", what, i, v)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s, bit flip at %d: %v, want ErrCorrupt", what, i, err)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	return fi.Size()
}

// TestStableCompacts checks the stable file is rewritten with only the
// latest values once it grows past stableCompactSize, and on Open.
func TestStableCompacts(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 0)
	big := bytes.Repeat([]byte("v"), 100<<10)
	for i := range 15 {
		must(t, l.Set([]byte("big"), fmt.Appendf(bytes.Clone(big), "%d", i)))
	}
	if l.stable.size > stableCompactSize {
		t.Fatalf("stable file is %d bytes, over %d", l.stable.size, stableCompactSize)
	}
	l.Close()
	l = openLog(t, dir, 0)
	if v, err := l.Get([]byte("big")); err != nil || !bytes.HasSuffix(v, []byte("v14")) {
		t.Fatalf("after reopen: %d bytes %v", len(v), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, stableFile)); err != nil || fi.Size() > int64(len(big))+100 {
		t.Fatalf("Open left a stable file of %d bytes (%v), want one frame", fi.Size(), err)
	}
}

// TestSetAfterDirectoryRemoved: raft panics when a Set fails, and test
// harnesses remove a node's temporary directory before they stop the
// node; with bbolt, writes went on to the open file. So does Set.
func TestSetAfterDirectoryRemoved(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 0)
	must(t, os.RemoveAll(dir))
	if err := l.SetUint64([]byte("CurrentTerm"), 9); err != nil {
		t.Fatalf("Set after the directory was removed: %v", err)
	}
	if v, err := l.GetUint64([]byte("CurrentTerm")); err != nil || v != 9 {
		t.Fatalf("CurrentTerm %d %v", v, err)
	}
}

// TestCloseWaitsForSet: Close must not return while a Set writes, or a
// new Open of the directory could read the store before that Set lands.
// Whatever Set last returned success must be there after a reopen.
func TestCloseWaitsForSet(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 0)
	done := make(chan uint64)
	go func() {
		var ok uint64
		for i := uint64(1); ; i++ {
			if err := l.SetUint64([]byte("CurrentTerm"), i); err != nil {
				if !errors.Is(err, ErrClosed) {
					t.Errorf("Set: %v", err)
				}
				done <- ok
				return
			}
			ok = i
		}
	}()
	must(t, l.StoreLogs(entries(1, 10, 1)))
	l.Close()
	last := <-done
	if v, err := openLog(t, dir, 0).GetUint64([]byte("CurrentTerm")); err != nil || v != last {
		t.Fatalf("after reopen CurrentTerm is %d (%v), but Set(%d) succeeded last", v, err, last)
	}
}
