package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// stableFile holds raft's stable store (current term, vote), rewritten
// whole and atomically (writeFileAtomic) on every Set; raft sets a key only
// when the term or the vote changes.
//
//	version u8 | count uvarint | { key length uvarint | key | value length uvarint | value }*
//	| crc32c u32 of the preceding bytes
const (
	stableFile    = "stable"
	stableVersion = 1
)

// stableStore is the in-memory copy of the stable file.
type stableStore struct {
	dir string
	mu  sync.Mutex // serializes Set; guards kv
	kv  map[string][]byte
}

func openStable(dir string) (*stableStore, error) {
	path := filepath.Join(dir, stableFile)
	buf, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &stableStore{dir: dir, kv: map[string][]byte{}}, nil
	case err != nil:
		return nil, err
	}
	kv, err := decodeStable(buf)
	if err != nil {
		// Only ever replaced by a rename: a bad file is damage.
		return nil, &CorruptError{Path: path, Offset: -1, Err: err}
	}
	return &stableStore{dir: dir, kv: kv}, nil
}

func (s *stableStore) get(k []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[string(k)]
	if !ok {
		return nil, ErrNotFound
	}
	return bytes.Clone(v), nil
}

// set writes the store with k = v durably, then updates the memory copy.
func (s *stableStore) set(k, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := maps.Clone(s.kv)
	next[string(k)] = append([]byte{}, v...)
	if err := writeFileAtomic(s.dir, stableFile, encodeStable(next)); err != nil {
		return fmt.Errorf("wal: write stable store: %w", err)
	}
	s.kv = next
	return nil
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
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeStable(b []byte) (map[string][]byte, error) {
	if len(b) < 5 || crc32.Checksum(b[:len(b)-4], castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, errChecksum
	}
	b = b[:len(b)-4]
	if b[0] != stableVersion {
		return nil, fmt.Errorf("%w: version %d", errMalformed, b[0])
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
