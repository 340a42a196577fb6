package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// crashLog builds a log of entries 1..50 in batches of 5 (term 1) and
// returns its closed directory, the model, and the last segment's record
// offsets and size.
func crashLog(t *testing.T, segment int64) (dir string, m model, offs []int64, size int64) {
	t.Helper()
	dir = t.TempDir()
	l := openLog(t, dir, segment)
	if err := storeBatches(l, 1, 50, 1, 5); err != nil {
		t.Fatal(err)
	}
	m.store(1, 50, 1)
	s := l.activeSegment()
	offs, size = append([]int64(nil), s.offs...), s.size
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, m, offs, size
}

// TestTornFinalWrite cuts, zeroes or garbles the final batch (entries
// 46..50) from every byte offset on, as a crash during its write could
// leave it: Open keeps the entries whose records are whole and cuts the
// rest, and the log takes appends again.
func TestTornFinalWrite(t *testing.T) {
	damages := map[string]func(b []byte, at int) []byte{
		"cut":     func(b []byte, at int) []byte { return b[:at] },
		"zeroed":  func(b []byte, at int) []byte { clear(b[at:]); return b },
		"garbage": func(b []byte, at int) []byte { fillRandom(b[at:], uint64(at)); return b },
	}
	for _, segment := range []int64{0, tinySegments} {
		for name, damage := range damages {
			t.Run(fmt.Sprintf("%s/segment=%d", name, segment), func(t *testing.T) {
				dir, m, offs, size := crashLog(t, segment)
				last := segmentFiles(t, dir)[len(segmentFiles(t, dir))-1]
				batchStart := offs[len(offs)-5]
				for at := batchStart; at < size; at++ {
					crashed := copyDir(t, dir)
					path := filepath.Join(crashed, filepath.Base(last))
					b, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, damage(b, int(at)), 0o600); err != nil {
						t.Fatal(err)
					}
					// Records wholly before the damage survive.
					whole := 0
					for i, o := range offs[len(offs)-5:] {
						end := size
						if i+1 < 5 {
							end = offs[len(offs)-5+i+1]
						}
						if end <= at && o < at {
							whole++
						}
					}
					want := m.clone()
					want.deleteRange(46+uint64(whole), 50)
					l, err := Open(crashed, testOptions(t, segment))
					if err != nil {
						t.Fatalf("damage at %d: %v", at, err)
					}
					if err := diffModel(l, want); err != nil {
						t.Fatalf("damage at %d: %v", at, err)
					}
					if err := l.StoreLogs(entries(want.last()+1, 50, 2)); err != nil {
						t.Fatalf("damage at %d: append: %v", at, err)
					}
					want.store(want.last()+1, 50, 2)
					l.Close()
					l = openLog(t, crashed, segment)
					if err := diffModel(l, want); err != nil {
						t.Fatalf("damage at %d, after append and reopen: %v", at, err)
					}
					l.Close()
				}
			})
		}
	}
}

// TestTornPagesInFinalWrite zeroes one record in the middle of the final
// batch (entries 46..50) and leaves the batch's later records intact, as
// a crash can when the batch's pages reach the disk out of order. The
// later records are part of the same unsynced write: Open cuts them too.
func TestTornPagesInFinalWrite(t *testing.T) {
	dir, m, offs, _ := crashLog(t, 0)
	path := segmentFiles(t, dir)[0]
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clear(b[offs[46]:offs[47]]) // entry 47
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m.deleteRange(47, 50)
	l := openLog(t, dir, 0)
	checkModel(t, l, m)

	// Open must cut the rest off the file, not only off its index: a new
	// entry 47 of the same size would otherwise line up with the old,
	// never acknowledged 48..50, and a reopen would read them back.
	if err := l.StoreLog(entry(47, 2)); err != nil {
		t.Fatal(err)
	}
	m.store(47, 47, 2)
	l.Close()
	checkModel(t, openLog(t, dir, 0), m)
}

// TestDamageIsCorruption flips one bit in every byte of a record that
// is not in the final batch: Open must fail with an error naming the file
// and the record's offset, never drop the entries silently.
func TestDamageIsCorruption(t *testing.T) {
	cases := []struct {
		name    string
		segment int64
		index   uint64 // the damaged entry
	}{
		{"middle of the log", 0, 23},
		{"last entry before the final batch", 0, 45},
		{"first entry", 0, 1},
		{"middle of a small segment", tinySegments, 23},
		{"end of a sealed segment", tinySegments, 0}, // 0: the first segment's last entry
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, _, _ := crashLog(t, tc.segment)
			l := openLog(t, dir, tc.segment)
			index := tc.index
			if index == 0 {
				index = l.segs[0].last()
			}
			seg := l.segmentOf(index)
			off, n := seg.span(index)
			path := seg.path
			l.Close()
			for i := off; i < off+n; i++ {
				crashed := copyDir(t, dir)
				p := filepath.Join(crashed, filepath.Base(path))
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				b[i] ^= 1 << (i % 8)
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
				l, err := Open(crashed, testOptions(t, tc.segment))
				if err == nil {
					l.Close()
					t.Fatalf("bit flip at %d in entry %d (record at %d): Open succeeded", i, index, off)
				}
				var ce *CorruptError
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Path != p || ce.Offset != off ||
					!strings.Contains(err.Error(), fmt.Sprintf("offset %d", off)) {
					t.Fatalf("bit flip at %d: %v, want a CorruptError for %s at offset %d", i, err, p, off)
				}
			}
		})
	}
}

// TestOpenRejects checks the directory states Open must refuse.
func TestOpenRejects(t *testing.T) {
	build := func(t *testing.T) string {
		dir := t.TempDir()
		l := openLog(t, dir, tinySegments)
		if err := storeBatches(l, 1, 100, 1, 5); err != nil {
			t.Fatal(err)
		}
		if err := l.SetUint64([]byte("CurrentTerm"), 1); err != nil {
			t.Fatal(err)
		}
		if err := l.DeleteRange(1, 3); err != nil { // writes the bounds file
			t.Fatal(err)
		}
		l.Close()
		return dir
	}
	cases := map[string]func(t *testing.T, dir string){
		"a segment missing in the middle": func(t *testing.T, dir string) {
			must(t, os.Remove(segmentFiles(t, dir)[2]))
		},
		"a segment under the wrong name": func(t *testing.T, dir string) {
			s := segmentFiles(t, dir)
			must(t, os.Rename(s[len(s)-1], filepath.Join(dir, segmentName(1000))))
		},
		"an empty segment before the last": func(t *testing.T, dir string) {
			must(t, os.Truncate(segmentFiles(t, dir)[1], 0))
		},
		"a damaged bounds file": func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, boundsFile), 3)
		},
		"a damaged stable file": func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, stableFile), 3)
		},
		"a file of another program": func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "wal-meta.db"), nil, 0o600))
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := build(t)
			damage(t, dir)
			if l, err := Open(dir, testOptions(t, tinySegments)); err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			} else {
				t.Log(err)
			}
		})
	}
	t.Run("a directory in use", func(t *testing.T) {
		dir := build(t)
		openLog(t, dir, 0)
		if l, err := Open(dir, Options{}); err == nil {
			l.Close()
			t.Fatal("a second Open of the same directory succeeded")
		}
	})
}

// TestCrashBeforeFirstWriteToNewSegment leaves the empty segment file a
// crash between creating it and writing to it leaves: Open removes it.
func TestCrashBeforeFirstWriteToNewSegment(t *testing.T) {
	dir, m, _, _ := crashLog(t, tinySegments)
	must(t, os.WriteFile(filepath.Join(dir, segmentName(51)), nil, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, boundsFile+tmpSuffix), []byte("half a rename"), 0o600))
	l := openLog(t, dir, tinySegments)
	checkModel(t, l, m)
	if err := l.StoreLogs(entries(51, 60, 1)); err != nil {
		t.Fatal(err)
	}
	m.store(51, 60, 1)
	l.Close()
	checkModel(t, openLog(t, dir, tinySegments), m)
}

// TestCrashPoints stops deletions (and the append that follows emptying
// the log) at every step, as a crash would, and reopens: the log must be
// the one before or after one of the case's operations, never another.
func TestCrashPoints(t *testing.T) {
	type op func(l *Log, m *model) error
	deleteRange := func(lo, hi uint64) op {
		return func(l *Log, m *model) error { m.deleteRange(lo, hi); return l.DeleteRange(lo, hi) }
	}
	store := func(lo, hi, term uint64) op {
		return func(l *Log, m *model) error { m.store(lo, hi, term); return l.StoreLogs(entries(lo, hi, term)) }
	}
	cases := []struct {
		name string
		ops  []op
	}{
		{"head inside a segment", []op{deleteRange(1, 22)}},
		{"head across segments", []op{deleteRange(1, 71)}},
		{"tail inside a segment", []op{deleteRange(98, 100)}},
		{"tail across segments", []op{deleteRange(31, 100)}},
		{"all", []op{deleteRange(1, 100)}},
		{"all then store below", []op{deleteRange(1, 100), store(40, 45, 2)}},
		{"all then store above", []op{deleteRange(1, 100), store(500, 510, 2)}},
		{"tail then store", []op{deleteRange(31, 100), store(31, 120, 2)}},
	}
	for _, segment := range []int64{0, tinySegments} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/segment=%d", tc.name, segment), func(t *testing.T) {
				base := t.TempDir()
				l := openLog(t, base, segment)
				var initial model
				must(t, storeBatches(l, 1, 100, 1, 5))
				initial.store(1, 100, 1)
				l.Close()

				// A run without crashing counts the steps and records the
				// states a crash may leave.
				steps := 0
				l = openLog(t, copyDir(t, base), segment)
				l.crashPoint = func(string) error { steps++; return nil }
				states := []model{initial}
				for _, op := range tc.ops {
					m := states[len(states)-1].clone()
					must(t, op(l, &m))
					states = append(states, m)
				}
				l.Close()
				if steps == 0 {
					t.Fatal("no crash points")
				}

				for crashAt := 1; crashAt <= steps; crashAt++ {
					dir := copyDir(t, base)
					l := openLog(t, dir, segment)
					n, at := 0, ""
					l.crashPoint = func(step string) error {
						if n++; n == crashAt {
							at = step
							return errors.New("crash")
						}
						return nil
					}
					var err error
					for _, op := range tc.ops {
						var m model
						if err = op(l, &m); err != nil {
							break
						}
					}
					if err == nil {
						t.Fatalf("crash at step %d did not stop the operations", crashAt)
					}
					abandon(l)
					l = openLog(t, dir, segment)
					var errs []error
					for _, m := range states {
						errs = append(errs, diffModel(l, m))
					}
					if !slices.Contains(errs, nil) {
						t.Fatalf("crash after %q: the log is none of the states before or after an operation: %v",
							at, errors.Join(errs...))
					}
					next, _ := l.LastIndex()
					must(t, l.StoreLogs(entries(next+1, next+3, 7)))
					l.Close()
				}
			})
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, i int) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	b[i] ^= 0x10
	must(t, os.WriteFile(path, b, 0o600))
}

// fillRandom fills b with bytes from a generator seeded by seed, in one
// bulk read: a byte-at-a-time loop over a preallocated segment made
// TestTornFinalWrite take minutes under -race.
func fillRandom(b []byte, seed uint64) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rand.NewChaCha8(key).Read(b)
}
