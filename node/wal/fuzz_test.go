package wal

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzOpen opens a log directory whose segment, bounds and stable files
// hold arbitrary bytes. Open may fail, but must not panic; a log it opens
// must be readable end to end and take an append. With fix set, the
// checksums of the frames in the segment and stable files are made valid
// first, so that the fuzzer gets past them to the payload decoders.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	if err := l.StoreLogs(entries(1, 5, 1)); err != nil {
		f.Fatal(err)
	}
	if err := l.StoreLogs(entries(6, 8, 2)); err != nil {
		f.Fatal(err)
	}
	if err := l.DeleteRange(1, 2); err != nil {
		f.Fatal(err)
	}
	if err := l.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		f.Fatal(err)
	}
	l.Close()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	seg, bnd, stb := read(segmentName(1)), read(boundsFile), read(stableFile)
	f.Add(seg, bnd, stb, false)
	f.Add(seg, bnd, stb, true)
	f.Add(seg[:len(seg)-3], bnd, stb, false)
	f.Add(seg[:40], []byte{}, []byte{}, false)
	f.Add([]byte{}, []byte{}, []byte{}, false)
	f.Add(make([]byte, 100), make([]byte, boundsSize), []byte{1, 0, 0, 0, 0, 0}, true)
	f.Fuzz(func(t *testing.T, seg, bnd, stb []byte, fix bool) {
		if fix {
			fixChecksums(seg)
			fixChecksums(stb)
		}
		dir := t.TempDir()
		for name, b := range map[string][]byte{segmentName(1): seg, boundsFile: bnd, stableFile: stb} {
			if len(b) == 0 && name != segmentName(1) {
				continue // a missing bounds or stable file is valid
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		l, err := Open(dir, Options{})
		if err != nil {
			return
		}
		defer l.Close()
		first, _ := l.FirstIndex()
		last, _ := l.LastIndex()
		for i := first; i <= last && last != 0; i++ {
			var e raft.Log
			if err := l.GetLog(i, &e); err != nil {
				t.Fatalf("entry %d of [%d, %d] after Open: %v", i, first, last, err)
			}
		}
		if last+1 != 0 {
			if err := l.StoreLogs([]*raft.Log{{Index: max(last+1, 1), Term: 1}}); err != nil {
				t.Fatalf("append after [%d, %d]: %v", first, last, err)
			}
		}
		l.Get([]byte("CurrentTerm"))
	})
}

// fixChecksums sets the checksum of every whole frame in b.
func fixChecksums(b []byte) {
	for off := 0; off+headerSize <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if n < 0 || n > len(b)-off-headerSize {
			return
		}
		payload := b[off+headerSize : off+headerSize+n]
		binary.LittleEndian.PutUint32(b[off+4:], crc32.Checksum(payload, castagnoli))
		off += headerSize + n
	}
}
