package wal

import (
	"errors"
	"fmt"
)

// DeleteRange implements raft.LogStore: it deletes entries [lo, hi].
// raft deletes only a prefix (compaction after a snapshot, or the whole
// log after installing one) or a suffix (a follower's entries that
// conflict with the leader's); any other range is ErrMiddleDelete. Indexes
// outside the log are ignored, so [0, n] on an empty log does nothing.
//
// Either way the change is committed by one atomic rename of the bounds
// file and the files are changed afterwards, so that a crash at any point
// leaves, after Open, the old log or the new one.
func (l *Log) DeleteRange(lo, hi uint64) error {
	if lo > hi {
		return fmt.Errorf("wal: delete range [%d, %d] is inverted", lo, hi)
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if l.last == 0 || hi < l.first || lo > l.last {
		return nil
	}
	var err error
	switch {
	case lo <= l.first:
		err = l.deleteHead(min(hi, l.last))
	case hi >= l.last:
		err = l.deleteTail(lo)
	default:
		return fmt.Errorf("%w: [%d, %d] of [%d, %d]", ErrMiddleDelete, lo, hi, l.first, l.last)
	}
	if err != nil {
		l.failed = err
	}
	return err
}

// deleteHead deletes the entries up to upTo (possibly all of them):
//
//  1. the bounds file's first becomes upTo+1 (atomic rename): from here
//     on Open hides the entries below it;
//  2. the segments with nothing left are dropped from memory, then their
//     files are removed, oldest first, and the directory fsynced.
//
// A crash before 1 leaves the old log; after it, the new one, and Open
// removes any segment files 2 left behind. Removing oldest first keeps
// the files on disk contiguous at every step.
func (l *Log) deleteHead(upTo uint64) error {
	if err := l.setBounds(bounds{first: upTo + 1}); err != nil {
		return err
	}
	if err := l.step("head: bounds written"); err != nil {
		return err
	}
	l.mu.Lock()
	gone := l.dropHead(upTo + 1)
	l.mu.Unlock()
	return l.removeSegments(gone)
}

// deleteTail deletes the entries from `from` on; the log keeps entries
// below it:
//
//  1. the bounds file records truncFrom = from (atomic rename): from here
//     on Open finishes the deletion, whatever the files hold;
//  2. the entries are dropped from memory; the segments that start at or
//     after from are removed, newest first, and the directory fsynced;
//  3. the segment holding from-1 is cut at the end of that entry's record
//     (ftruncate, fsync);
//  4. the bounds file's truncFrom is cleared (atomic rename).
//
// A crash before 1 leaves the old log; after it, Open redoes 2 and 3 (they
// are idempotent) and 4, so the result is the new log. Removing newest
// first keeps the files on disk contiguous at every step. Appends wait
// for 4: until then Open would delete what they wrote.
func (l *Log) deleteTail(from uint64) error {
	if err := l.setBounds(bounds{first: l.bounds.first, truncFrom: from}); err != nil {
		return err
	}
	if err := l.step("tail: bounds written"); err != nil {
		return err
	}
	if err := l.cutTail(from); err != nil {
		return err
	}
	if err := l.step("tail: files cut"); err != nil {
		return err
	}
	return l.setBounds(bounds{first: l.bounds.first})
}

// cutTail drops entries from `from` on from memory and from the files
// (steps 2 and 3 of deleteTail); Open uses it too.
func (l *Log) cutTail(from uint64) error {
	l.mu.Lock()
	gone, cut := l.dropTail(from)
	l.mu.Unlock()
	if err := l.removeSegments(gone); err != nil {
		return err
	}
	if err := l.step("tail: segments removed"); err != nil {
		return err
	}
	if cut == nil {
		return nil
	}
	if err := cut.truncate(cut.size); err != nil {
		return fmt.Errorf("wal: truncate %s: %w", cut.path, err)
	}
	return nil
}

// dropHead removes from memory the segments whose entries are all below
// first and returns them, oldest first. mu is held.
func (l *Log) dropHead(first uint64) []*segment {
	n := 0
	for n < len(l.segs) && l.segs[n].last() < first {
		n++
	}
	gone := l.segs[:n:n]
	l.segs = l.segs[n:]
	l.setRange()
	return gone
}

// dropTail removes from memory the entries from `from` on. It returns the
// segments that become empty, newest first, and the segment cut short (its
// new size set), if any. mu is held.
func (l *Log) dropTail(from uint64) (gone []*segment, cut *segment) {
	for len(l.segs) > 0 && l.activeSegment().first >= from {
		gone = append(gone, l.activeSegment())
		l.segs = l.segs[:len(l.segs)-1]
	}
	if s := l.activeSegment(); s != nil && s.contains(from) {
		i := from - s.first
		s.size = s.offs[i]
		s.offs = s.offs[:i]
		cut = s
	}
	l.setRange()
	return gone, cut
}

// setRange recomputes first and last from the segments and bounds. mu is
// held.
func (l *Log) setRange() {
	if len(l.segs) == 0 {
		l.first, l.last = 0, 0
		return
	}
	l.first = max(l.bounds.first, l.segs[0].first)
	l.last = l.activeSegment().last()
}

// removeSegments deletes the files of segments no longer in the log, in
// the order given, and fsyncs the directory.
func (l *Log) removeSegments(gone []*segment) error {
	if len(gone) == 0 {
		return nil
	}
	var errs []error
	for _, s := range gone {
		errs = append(errs, s.remove())
		if err := l.step("removed " + s.path); err != nil {
			return err
		}
	}
	errs = append(errs, syncDir(l.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wal: remove segments: %w", err)
	}
	return nil
}
