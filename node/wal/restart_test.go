package wal

import (
	"fmt"
	"testing"
)

// TestTruncatedTailSurvivesRestart is hashicorp/raft-wal#31, the reason
// raft-wal v0.4.0 was rejected: a follower deletes its conflicting tail,
// appends the leader's entries of a newer term, restarts, and must read
// all of them back. It runs within one segment, across many small ones,
// and with the deletion starting exactly at a segment's first entry.
func TestTruncatedTailSurvivesRestart(t *testing.T) {
	cases := []struct {
		name    string
		segment int64
		batches [][2]uint64 // how 1..100 is stored
	}{
		{"one segment", 0, [][2]uint64{{1, 100}}},
		{"small segments", tinySegments, batchesOf(1, 100, 5)},
		{"deletion at a segment start", 2 << 10, [][2]uint64{{1, 60}, {61, 100}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, tc.segment)
			var m model
			for _, b := range tc.batches {
				if err := l.StoreLogs(entries(b[0], b[1], 1)); err != nil {
					t.Fatal(err)
				}
				m.store(b[0], b[1], 1)
			}
			if tc.name == "deletion at a segment start" && len(segmentFiles(t, dir)) != 2 {
				t.Fatalf("want segments starting at 1 and 61, have %v", segmentFiles(t, dir))
			}
			if err := l.DeleteRange(61, 100); err != nil {
				t.Fatal(err)
			}
			m.deleteRange(61, 100)
			if err := l.StoreLogs(entries(61, 80, 2)); err != nil {
				t.Fatal(err)
			}
			m.store(61, 80, 2)
			l.Close()

			l = openLog(t, dir, tc.segment)
			checkModel(t, l, m) // 1..60 in term 1, 61..80 in term 2
			if err := l.StoreLogs(entries(81, 90, 2)); err != nil {
				t.Fatal(err)
			}
			m.store(81, 90, 2)
			l.Close()
			checkModel(t, openLog(t, dir, tc.segment), m)
		})
	}
}

// TestRestartAfterEachOperation interleaves every kind of operation with a
// reopen, over small segments, and compares with the model each time.
func TestRestartAfterEachOperation(t *testing.T) {
	dir := t.TempDir()
	var m model
	ops := []func(l *Log) error{
		func(l *Log) error { m.store(1, 200, 1); return storeBatches(l, 1, 200, 1, 7) },
		func(l *Log) error { m.deleteRange(1, 50); return l.DeleteRange(1, 50) },
		func(l *Log) error { m.deleteRange(150, 200); return l.DeleteRange(150, 200) },
		func(l *Log) error { m.store(150, 180, 2); return storeBatches(l, 150, 180, 2, 4) },
		func(l *Log) error { m.deleteRange(51, 120); return l.DeleteRange(51, 120) },
		func(l *Log) error { m.deleteRange(170, 180); return l.DeleteRange(170, 180) },
		func(l *Log) error { m.deleteRange(0, 1000); return l.DeleteRange(0, 1000) },
		func(l *Log) error { m.store(140, 160, 3); return storeBatches(l, 140, 160, 3, 3) },
		func(l *Log) error { return l.SetUint64([]byte("CurrentTerm"), 3) },
	}
	for i, op := range ops {
		l := openLog(t, dir, tinySegments)
		if err := op(l); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		checkModel(t, l, m)
		l.Close()
		l = openLog(t, dir, tinySegments)
		if err := diffModel(l, m); err != nil {
			t.Fatalf("after op %d and a restart: %v", i, err)
		}
		l.Close()
	}
	if v, err := openLog(t, dir, tinySegments).GetUint64([]byte("CurrentTerm")); err != nil || v != 3 {
		t.Fatalf("term %d %v", v, err)
	}
}

func batchesOf(from, to, n uint64) [][2]uint64 {
	var bs [][2]uint64
	for i := from; i <= to; i += n {
		bs = append(bs, [2]uint64{i, min(i+n-1, to)})
	}
	return bs
}

func storeBatches(l *Log, from, to, term, n uint64) error {
	for _, b := range batchesOf(from, to, n) {
		if err := l.StoreLogs(entries(b[0], b[1], term)); err != nil {
			return fmt.Errorf("store [%d, %d]: %w", b[0], b[1], err)
		}
	}
	return nil
}
