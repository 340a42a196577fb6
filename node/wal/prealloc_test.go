package wal

import (
	"errors"
	"os"
	"testing"
)

// TestZerosAheadOfRecords: the active segment is extended with zeros
// ahead of its records, a chunk at a time, not per batch; Open reads the
// zeros as the clean end (keeping them, cutting nothing), in the last
// segment and in earlier ones, and appends after a reopen go where the
// records end.
func TestZerosAheadOfRecords(t *testing.T) {
	for _, segment := range []int64{0, tinySegments} {
		dir := t.TempDir()
		l := openLog(t, dir, segment)
		var m model
		if err := storeBatches(l, 1, 200, 1, 4); err != nil {
			t.Fatal(err)
		}
		m.store(1, 200, 1)
		s := l.activeSegment()
		ahead := min(preallocChunk, l.opts.SegmentSize)
		if s.alloc <= s.size || s.alloc > s.size+ahead+4096 {
			t.Fatalf("segment=%d: file extended to %d with records ending at %d", segment, s.alloc, s.size)
		}
		path, size, alloc := s.path, s.size, s.alloc
		if got := fileSize(t, path); got != alloc {
			t.Fatalf("file is %d bytes, want %d", got, alloc)
		}
		must(t, l.Close())
		sizes := map[string]int64{}
		for _, p := range segmentFiles(t, dir) {
			sizes[p] = fileSize(t, p)
		}

		l = openLog(t, dir, segment)
		checkModel(t, l, m)
		for p, n := range sizes {
			if got := fileSize(t, p); got != n {
				t.Errorf("segment=%d: Open changed %s from %d to %d bytes", segment, p, n, got)
			}
		}
		if segment == 0 && (l.activeSegment().size != size || l.activeSegment().path != path) {
			t.Fatalf("records end at %d in %s after reopen", l.activeSegment().size, l.activeSegment().path)
		}
		must(t, l.StoreLogs(entries(201, 210, 2)))
		m.store(201, 210, 2)
		must(t, l.Close())
		checkModel(t, openLog(t, dir, segment), m)
	}
}

// TestZeroedRecordBeforeLaterBatchIsCorruption: zeros in place of a
// synced record, with later batches after them, are damage, not the end.
func TestZeroedRecordBeforeLaterBatchIsCorruption(t *testing.T) {
	dir, _, offs, _ := crashLog(t, 0)
	path := segmentFiles(t, dir)[0]
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clear(b[offs[9]:offs[10]]) // entry 10, batch 6..10
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, testOptions(t, 0))
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != offs[9] {
		t.Fatalf("Open = %v, want a CorruptError at offset %d", err, offs[9])
	}
}
