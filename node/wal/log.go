package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
)

// Log is a raft.LogStore and raft.StableStore in one directory. All methods
// are safe for concurrent use: raft reads entries from its replication
// goroutines while it appends and deletes.
//
// Writers (StoreLogs, DeleteRange, Close) are serialized by wmu, which they
// hold across their IO, and take mu only to publish the result. Readers
// take mu shared, so a read never waits for an fdatasync. The fields under
// mu change only with both locks held; a writer may read them with wmu.
type Log struct {
	dir    string
	opts   Options
	logger *slog.Logger
	lock   *os.File // holds the directory's flock
	stable *stableStore

	wmu    sync.Mutex
	bounds bounds // what the bounds file says; under wmu
	buf    []byte // encoding buffer; under wmu
	failed error  // the first write error; under wmu

	mu          sync.RWMutex
	segs        []*segment // in index order; each holds at least one entry
	first, last uint64     // 0, 0 when empty
	closed      bool

	// crashPoint, in tests, is called between the steps of an operation
	// and stops it there when it returns an error, as a crash would.
	crashPoint func(step string) error
}

var (
	_ raft.LogStore          = (*Log)(nil)
	_ raft.StableStore       = (*Log)(nil)
	_ raft.MonotonicLogStore = (*Log)(nil)
)

// IsMonotonic implements raft.MonotonicLogStore: StoreLogs refuses a gap
// after the last index, so raft must empty the log after installing a
// snapshot instead of leaving a gap behind it.
func (l *Log) IsMonotonic() bool { return true }

// FirstIndex implements raft.LogStore: 0 when the log is empty.
func (l *Log) FirstIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.first, nil
}

// LastIndex implements raft.LogStore: 0 when the log is empty.
func (l *Log) LastIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.last, nil
}

// GetLog implements raft.LogStore with one pread(2). It returns
// raft.ErrLogNotFound for an index outside [FirstIndex, LastIndex], and a
// *CorruptError if the record fails its checksum. log's byte slices are the
// caller's.
func (l *Log) GetLog(index uint64, log *raft.Log) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	if l.last == 0 || index < l.first || index > l.last {
		return raft.ErrLogNotFound
	}
	return l.segmentOf(index).read(index, log)
}

// segmentOf returns the segment holding index, which must be in the log.
func (l *Log) segmentOf(index uint64) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].last() >= index })
	return l.segs[i]
}

// StoreLog implements raft.LogStore.
func (l *Log) StoreLog(log *raft.Log) error { return l.StoreLogs([]*raft.Log{log}) }

// StoreLogs implements raft.LogStore: the batch is written with one
// write(2) and made durable with one fdatasync(2) before it returns (plus a
// directory fsync when the batch starts a new segment). The first index
// must be LastIndex+1, or anything above 0 if the log is empty, and the
// rest must follow one by one; otherwise ErrNotContiguous and nothing
// changes. After an IO error the log refuses all further writes: what
// reached the disk is unknown until Open recovers it.
func (l *Log) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if err := l.checkContiguous(logs); err != nil {
		return err
	}
	buf, offs, err := encodeBatch(l.buf[:0], logs)
	if err != nil {
		return err
	}
	if cap(buf) <= 4<<20 {
		l.buf = buf // keep a moderate buffer for the next batch
	}
	if err := l.append(buf, offs, logs[0].Index, logs[len(logs)-1].Index); err != nil {
		if !errors.Is(err, ErrNoSpace) { // see ErrNoSpace: retrying is safe
			l.failed = err
		}
		return err
	}
	return nil
}

// checkContiguous checks logs against the log's last index and itself.
func (l *Log) checkContiguous(logs []*raft.Log) error {
	next := l.last + 1
	if l.last == 0 {
		next = logs[0].Index
	}
	for _, e := range logs {
		if e.Index != next || e.Index == 0 {
			return fmt.Errorf("%w: entry %d where %d was due (log is [%d, %d])", ErrNotContiguous, e.Index, next, l.first, l.last)
		}
		next++
	}
	return nil
}

// encodeBatch appends the records of logs to b and returns each record's
// offset in b.
func encodeBatch(b []byte, logs []*raft.Log) ([]byte, []int64, error) {
	offs := make([]int64, len(logs))
	for i, e := range logs {
		offs[i] = int64(len(b))
		var err error
		if b, err = appendRecord(b, e, uint32(i)); err != nil {
			return nil, nil, err
		}
	}
	return b, offs, nil
}

// append writes a batch of records for entries [first, last] to the
// active segment, or to a new one when the active one is full, then
// publishes it.
func (l *Log) append(buf []byte, offs []int64, first, last uint64) error {
	if l.last == 0 && first < l.bounds.first {
		// An emptied log restarting below its old bounds (after raft
		// installed a snapshot): lower first, or Open would hide the batch.
		if err := l.setBounds(bounds{first: first}); err != nil {
			return err
		}
		if err := l.step("store: bounds lowered"); err != nil {
			return err
		}
	}
	seg, created := l.activeSegment(), false
	if seg == nil || seg.size+int64(len(buf)) > l.opts.SegmentSize {
		var err error
		if seg, err = createSegment(l.dir, first, l.zerosAhead()); err != nil {
			if isNoSpace(err) { // no file was left: createSegment failed at its creation
				return fmt.Errorf("%w: new segment: %w", ErrNoSpace, err)
			}
			return fmt.Errorf("wal: new segment: %w", err)
		}
		created = true
		if err := l.step("store: segment created"); err != nil {
			seg.f.Close()
			return err
		}
	}
	if err := seg.write(buf, l.opts.OnSync); err != nil {
		if created {
			// Remove the new segment so a retry can create it again; a
			// crash before the removal leaves a segment Open reads as
			// empty or torn.
			seg.f.Close()
			if errors.Is(err, ErrNoSpace) && os.Remove(seg.path) == nil {
				syncDir(l.dir)
			}
		}
		return fmt.Errorf("wal: append entries [%d, %d] to %s: %w", first, last, seg.path, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if created {
		l.segs = append(l.segs, seg)
	}
	for _, o := range offs {
		seg.offs = append(seg.offs, seg.size+o)
	}
	seg.size += int64(len(buf))
	if l.first == 0 {
		l.first = first
	}
	l.last = last
	return nil
}

// zerosAhead is how far the active segment is extended ahead of its
// records: never past a segment's size.
func (l *Log) zerosAhead() int64 { return min(preallocChunk, l.opts.SegmentSize) }

// activeSegment returns the segment appends go to, nil if there is none.
func (l *Log) activeSegment() *segment {
	if len(l.segs) == 0 {
		return nil
	}
	return l.segs[len(l.segs)-1]
}

// setBounds writes the bounds file and, once it is durable, remembers it.
func (l *Log) setBounds(b bounds) error {
	if err := writeBounds(l.dir, b); err != nil {
		return fmt.Errorf("wal: write bounds: %w", err)
	}
	l.bounds = b
	return nil
}

// writable reports why the log takes no more writes, if it does not.
func (l *Log) writable() error {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	switch {
	case closed:
		return ErrClosed
	case l.failed != nil:
		return fmt.Errorf("wal: refusing writes after an earlier failure: %w", l.failed)
	}
	return nil
}

// step calls crashPoint, if set, at a named point of an operation.
func (l *Log) step(name string) error {
	if l.crashPoint == nil {
		return nil
	}
	return l.crashPoint(name)
}

// Close closes the log's files and releases its directory. Later calls
// return ErrClosed.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	return l.closeFiles()
}

// closeFiles closes every open file; mu is held or the log unpublished.
func (l *Log) closeFiles() error {
	var errs []error
	for _, s := range l.segs {
		errs = append(errs, s.f.Close())
	}
	l.segs = nil
	if l.stable != nil {
		errs = append(errs, l.stable.close()) // waits for a Set under way
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close())
	}
	return errors.Join(errs...)
}

// Set implements raft.StableStore: durable before it returns, with one
// fdatasync (see stable.go).
func (l *Log) Set(key, val []byte) error { return l.stable.set(key, val) }

// Get implements raft.StableStore: ErrNotFound (whose text raft checks)
// for a key never set.
func (l *Log) Get(key []byte) ([]byte, error) { return l.stable.get(key) }

// SetUint64 implements raft.StableStore, as 8 bytes big endian.
func (l *Log) SetUint64(key []byte, val uint64) error {
	return l.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore: 0 and no error for a key never
// set, as raft's interface documents and its InmemStore does.
func (l *Log) GetUint64(key []byte) (uint64, error) {
	v, err := l.Get(key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("wal: stable key %q holds %d bytes, not a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
