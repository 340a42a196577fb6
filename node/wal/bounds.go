package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// boundsFile holds the log's bounds, rewritten atomically (writeFileAtomic):
//
//	version u8 | first u64 | truncFrom u64 | crc32c u32 of the preceding bytes
//
// A missing file means zero bounds.
const (
	boundsFile    = "bounds"
	boundsVersion = 1
	boundsSize    = 1 + 8 + 8 + 4
)

// bounds is the part of the log's state that lives outside the segments.
type bounds struct {
	// first hides the entries below it: a deletion of the log's head is
	// committed by raising first, and whole segments below it are removed
	// afterwards. Zero hides nothing.
	first uint64
	// truncFrom, when not zero, says a deletion of the entries from
	// truncFrom on is committed but may not be done on disk yet: Open
	// finishes it.
	truncFrom uint64
}

func (b bounds) encode() []byte {
	buf := make([]byte, 0, boundsSize)
	buf = append(buf, boundsVersion)
	buf = binary.LittleEndian.AppendUint64(buf, b.first)
	buf = binary.LittleEndian.AppendUint64(buf, b.truncFrom)
	return binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
}

// readBounds reads dir's bounds file. The file is only ever replaced by a
// rename, so a bad one is damage, not a torn write.
func readBounds(dir string) (bounds, error) {
	path := filepath.Join(dir, boundsFile)
	buf, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return bounds{}, nil
	}
	if err != nil {
		return bounds{}, err
	}
	if len(buf) != boundsSize || buf[0] != boundsVersion ||
		crc32.Checksum(buf[:boundsSize-4], castagnoli) != binary.LittleEndian.Uint32(buf[boundsSize-4:]) {
		return bounds{}, &CorruptError{Path: path, Offset: -1, Err: fmt.Errorf("bad bounds file (%d bytes)", len(buf))}
	}
	return bounds{
		first:     binary.LittleEndian.Uint64(buf[1:]),
		truncFrom: binary.LittleEndian.Uint64(buf[9:]),
	}, nil
}

func writeBounds(dir string, b bounds) error {
	return writeFileAtomic(dir, boundsFile, b.encode())
}
