package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// The stable file holds raft's stable store (current term, vote) as a
// sequence of frames, [length | crc32c | payload] like the log's records,
// each a whole copy of the store; the last one counts:
//
//	payload: version u8 | count uvarint | { key length uvarint | key | value length uvarint | value }*
//
// Set appends a frame with one write(2) and one fdatasync(2) to the open
// file. It creates no file, so it goes on working while the process holds
// the file open, even if the directory is removed (as bbolt did; raft
// panics when a Set fails). Open, and Set once the file passes
// stableCompactSize, rewrite the file with only the latest frame,
// atomically (writeFileAtomic). So the first frame is never torn, and only
// the final one can be: a crash during a Set. That Set never returned, so
// raft never acted on it (never sent that vote): Open cuts the frame and
// the previous one counts.
const (
	stableFile        = "stable"
	stableVersion     = 1
	stableMinPayload  = 2 // version and an empty count
	stableCompactSize = 1 << 20
	stableAhead       = 64 << 10 // zeros kept allocated past the last frame
)

// stableStore is the in-memory copy of the stable file and its open file.
type stableStore struct {
	dir  string
	path string

	mu     sync.Mutex // serializes Set and Close; guards the fields below
	kv     map[string][]byte
	f      *os.File
	size   int64
	alloc  int64 // bytes of the file allocated (zeros past size: stableAhead)
	failed error // a Set whose write failed: what is on disk is unknown
	closed bool
}

// openStable reads dir's stable file, cuts a torn final frame, and leaves
// the file holding only the latest frame. The first frame was written by
// an atomic rewrite, so it cannot be torn: if it is bad, the file is
// damaged.
func openStable(dir string) (*stableStore, error) {
	s := &stableStore{dir: dir, path: filepath.Join(dir, stableFile), kv: map[string][]byte{}}
	b, err := os.ReadFile(s.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	frames, torn := 0, false
	for off := 0; off < len(b) && !torn; {
		n, err := checkFrame(b[off:], stableMinPayload)
		switch {
		case err != nil && (off == 0 || stableFrameFollows(b[off+1:])):
			return nil, &CorruptError{Path: s.path, Offset: int64(off), Err: err}
		case err != nil:
			torn = true // the final Set, cut short by a crash
			continue
		}
		if s.kv, err = decodeStable(b[off+headerSize : off+n]); err != nil {
			return nil, &CorruptError{Path: s.path, Offset: int64(off), Err: err}
		}
		off += n
		frames++
	}
	if frames != 1 || torn {
		if err := s.rewrite(); err != nil {
			return nil, fmt.Errorf("wal: rewrite stable store: %w", err)
		}
		return s, nil
	}
	if s.f, err = os.OpenFile(s.path, os.O_RDWR, 0); err != nil {
		return nil, err
	}
	s.size, s.alloc = int64(len(b)), int64(len(b))
	return s, nil
}

// stableFrameFollows reports whether rest, the bytes after a bad frame,
// hold a good one: then the bad frame was not the final write, and is
// damage, not a torn Set.
func stableFrameFollows(rest []byte) bool {
	for p := 0; p+headerSize+stableMinPayload <= len(rest); p++ {
		if rest[p+headerSize] != stableVersion {
			continue // cheap filter before the checksum
		}
		if n, err := checkFrame(rest[p:], stableMinPayload); err == nil {
			if _, err := decodeStable(rest[p+headerSize : p+n]); err == nil {
				return true
			}
		}
	}
	return false
}

// rewrite replaces the file with one frame holding kv, atomically, and
// reopens it for appends.
func (s *stableStore) rewrite() error {
	frame := appendFrame(nil, encodeStable(s.kv))
	if err := writeFileAtomic(s.dir, stableFile, frame); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f, s.size, s.alloc = f, int64(len(frame)), int64(len(frame))
	return nil
}

func (s *stableStore) get(k []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	v, ok := s.kv[string(k)]
	if !ok {
		return nil, ErrNotFound
	}
	return bytes.Clone(v), nil
}

// set appends the store with k = v, durably, then updates the memory copy.
func (s *stableStore) set(k, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.failed != nil:
		return fmt.Errorf("wal: refusing stable store writes after an earlier failure: %w", s.failed)
	}
	next := maps.Clone(s.kv)
	next[string(k)] = append([]byte{}, v...)
	frame := appendFrame(nil, encodeStable(next))
	if err := writeData(s.f, frame, s.size); err != nil {
		if !errors.Is(err, ErrNoSpace) { // the next set overwrites a partial frame
			s.failed = err
		}
		return fmt.Errorf("wal: write stable store: %w", err)
	}
	// Keep zeros allocated ahead of the frames, so that term and vote
	// changes go on fitting when the file system fills up: raft panics
	// when it cannot save its term. Open reads the zeros as a torn tail
	// and rewrites the file without them. Best effort: no space for them
	// is not a failure of this Set.
	alloc := s.alloc
	if end := s.size + int64(len(frame)); end > alloc {
		switch err := writeData(s.f, zeroChunk[:stableAhead], end); {
		case err == nil:
			alloc = end + stableAhead
		case !errors.Is(err, ErrNoSpace):
			s.failed = err
			return fmt.Errorf("wal: write stable store: %w", err)
		}
	}
	if err := datasync(s.f); err != nil {
		s.failed = err
		return fmt.Errorf("wal: write stable store: %w", err)
	}
	s.kv, s.size, s.alloc = next, s.size+int64(len(frame)), alloc
	if s.size > stableCompactSize {
		if err := s.rewrite(); err != nil {
			if isNoSpace(err) {
				return nil // the frame is durable; compaction waits for the next set
			}
			s.failed = err
			return fmt.Errorf("wal: compact stable store: %w", err)
		}
	}
	return nil
}

// close waits for a Set under way and closes the file: a Set or Get
// after it returns ErrClosed.
func (s *stableStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.f.Close()
}

func encodeStable(kv map[string][]byte) []byte {
	b := []byte{stableVersion}
	b = binary.AppendUvarint(b, uint64(len(kv)))
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(kv[k])))
		b = append(b, kv[k]...)
	}
	return b
}

func decodeStable(b []byte) (map[string][]byte, error) {
	if len(b) < stableMinPayload || b[0] != stableVersion {
		return nil, errMalformed
	}
	b = b[1:]
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return nil, errMalformed
	}
	b = b[k:]
	kv := make(map[string][]byte, count)
	for range count {
		key, ok1 := field()
		val, ok2 := field()
		if !ok1 || !ok2 {
			return nil, errMalformed
		}
		kv[string(key)] = bytes.Clone(val)
	}
	if len(b) != 0 {
		return nil, errMalformed
	}
	return kv, nil
}
