package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const (
	lockName  = "LOCK"
	tmpSuffix = ".tmp" // writeFileAtomic's temporary files
)

// Open opens the log in dir, creating dir if needed, and recovers it:
//
//   - every segment is read and every record checked. A bad record that
//     can be the remains of the final write before a crash is cut away
//     with what follows it (see laterBatchFollows); any other is a
//     *CorruptError naming the file and offset, and Open fails;
//   - the segments must hold contiguous indexes;
//   - a deletion the bounds file records as committed but unfinished is
//     finished, and segments wholly below the first index are removed;
//   - leftover temporary files are removed.
//
// The directory is locked (flock) until Close. Files Open does not know
// make it fail, rather than guess at another program's data.
func Open(dir string, opts Options) (*Log, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: create %s: %w", dir, err)
	}
	// The directory's own entry must be durable before anything in it is
	// acknowledged: else a power loss may take the whole log with it
	// (internal/lazyfs found a cluster restarting empty after a crash of
	// every member just after bootstrap).
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return nil, fmt.Errorf("wal: sync the parent of %s: %w", dir, err)
	}
	lock, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, opts: opts, logger: opts.Logger.With("wal", dir), lock: lock}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, err
	}
	return l, nil
}

// recover loads the log from disk and repairs what a crash left.
func (l *Log) recover() error {
	firsts, err := l.listDir()
	if err != nil {
		return err
	}
	if l.bounds, err = readBounds(l.dir); err != nil {
		return err
	}
	if l.stable, err = openStable(l.dir); err != nil {
		return err
	}
	for i, first := range firsts {
		if err := l.loadSegment(first, i == len(firsts)-1); err != nil {
			return err
		}
	}
	if s := l.activeSegment(); s != nil && len(s.offs) == 0 {
		// Created for a batch that never made it, or left with nothing
		// but a torn write: it holds no entry.
		l.segs = l.segs[:len(l.segs)-1]
		if err := l.removeSegments([]*segment{s}); err != nil {
			return err
		}
	}
	l.setRange()
	if from := l.bounds.truncFrom; from != 0 {
		l.logger.Warn("finishing an interrupted deletion of the log's tail", "from", from)
		if err := l.cutTail(from); err != nil {
			return err
		}
		if err := l.setBounds(bounds{first: l.bounds.first}); err != nil {
			return err
		}
	}
	if gone := l.dropHead(l.bounds.first); len(gone) > 0 {
		l.logger.Warn("removing segments below the log's first index", "first", l.bounds.first, "segments", len(gone))
		return l.removeSegments(gone)
	}
	return nil
}

// listDir removes leftover temporary files and returns the segments'
// first indexes in order.
func (l *Log) listDir() ([]uint64, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var firsts []uint64
	for _, e := range entries {
		name := e.Name()
		if first, ok := parseSegmentName(name); ok && e.Type().IsRegular() {
			firsts = append(firsts, first)
			continue
		}
		switch {
		case name == lockName || name == boundsFile || name == stableFile:
		case strings.HasSuffix(name, tmpSuffix):
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return nil, fmt.Errorf("wal: remove leftover %s: %w", name, err)
			}
		default:
			return nil, fmt.Errorf("wal: %s holds %q, which is not a file of this log", l.dir, name)
		}
	}
	slices.Sort(firsts)
	return firsts, nil
}

// loadSegment scans one segment file, cuts a torn final write off the last
// one, and appends the segment to l.segs after checking it continues them.
func (l *Log) loadSegment(first uint64, last bool) error {
	path := filepath.Join(l.dir, segmentName(first))
	if prev := l.activeSegment(); prev != nil {
		switch {
		case len(prev.offs) == 0: // only the last segment may be empty
			return &CorruptError{Path: prev.path, Offset: -1, Err: errors.New("segment holds no entries but is not the last")}
		case prev.last()+1 != first:
			return &CorruptError{Path: path, Offset: -1,
				Err: fmt.Errorf("segment starts at entry %d but the previous one ends at %d", first, prev.last())}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	sc, err := scanSegment(path, b, first, last)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	s := &segment{first: first, path: path, f: f, offs: sc.offs, size: sc.end, alloc: int64(len(b)), ahead: l.zerosAhead()}
	l.segs = append(l.segs, s)
	if sc.torn {
		l.logger.Warn("cutting a torn write off the log's end", "file", path, "offset", sc.end,
			"bytes", int64(len(b))-sc.end, "last_entry", s.last())
		if err := s.truncate(sc.end); err != nil {
			return fmt.Errorf("wal: truncate %s: %w", path, err)
		}
	}
	return nil
}
