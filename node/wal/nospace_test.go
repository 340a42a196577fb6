package wal

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/concord-db/concord/internal/diskfull"
	"github.com/hashicorp/raft"
)

// injectNoSpace makes writes under fs.Dir fail with ENOSPC while fs.Full,
// after writing half of what they were given (a short write, as a full
// file system does), when fs is not a real small file system.
func injectNoSpace(t *testing.T, fs *diskfull.FS) {
	if fs.Real {
		return
	}
	prev := writeAt
	writeAt = func(f *os.File, b []byte, off int64) (int, error) {
		if fs.Full() && strings.HasPrefix(f.Name(), fs.Dir) {
			n, _ := f.WriteAt(b[:len(b)/2], off)
			return n, syscall.ENOSPC
		}
		return f.WriteAt(b, off)
	}
	t.Cleanup(func() { writeAt = prev })
}

// TestNoSpaceRecovers: on a full file system StoreLogs fails with
// ErrNoSpace and changes nothing; reads go on; once space returns the same
// log (no reopen) takes the batch, and a reopen finds every entry intact.
// It runs on a real tmpfs where the machine allows mounting one, else with
// an injected ENOSPC (short writes).
func TestNoSpaceRecovers(t *testing.T) {
	fs := diskfull.New(t, 4<<20)
	injectNoSpace(t, fs)
	const seg = 64 << 10
	l, err := Open(fs.Dir, testOptions(t, seg))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StoreLogs(entries(1, 100, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		t.Fatal(err)
	}
	fs.Fill(t)
	if fs.Real {
		// The stable store's zeros allocated ahead take a term change.
		if err := l.SetUint64([]byte("CurrentTerm"), 5); err != nil {
			t.Fatalf("a term change on a full file system: %v", err)
		}
	}
	// Writes may still land in blocks allocated ahead; keep going until
	// the file system refuses one (at the latest a new segment).
	next := uint64(101)
	for ; next < 100000; next += 50 {
		err = l.StoreLogs(entries(next, next+49, 2))
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("StoreLogs on a full file system: %v, want ErrNoSpace wrapping ENOSPC", err)
	}
	if last, _ := l.LastIndex(); last != next-1 {
		t.Fatalf("a refused batch moved the last index to %d, want %d", last, next-1)
	}
	var got raft.Log
	if err := l.GetLog(50, &got); err != nil || !sameEntry(&got, entry(50, 1)) {
		t.Fatalf("read on a full file system: %v", err)
	}
	// Refused again, not remembered as a failure of the log.
	if err := l.StoreLogs(entries(next, next+49, 2)); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("second try on a full file system: %v", err)
	}
	fs.Free(t)
	if err := l.StoreLogs(entries(next, next+49, 2)); err != nil {
		t.Fatalf("StoreLogs once space returned: %v", err)
	}
	if err := l.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, fs.Dir, seg)
	first, _ := l.FirstIndex()
	if last, _ := l.LastIndex(); first != 1 || last != next+49 {
		t.Fatalf("reopened log holds [%d, %d], want [1, %d]", first, last, next+49)
	}
	for i := uint64(1); i <= next+49; i++ {
		want := entry(i, 1)
		if i > 100 {
			want = entry(i, 2)
		}
		if err := l.GetLog(i, &got); err != nil || !sameEntry(&got, want) {
			t.Fatalf("entry %d after reopen: %v", i, err)
		}
	}
	if v, err := l.GetUint64([]byte("CurrentTerm")); err != nil || v != 2 {
		t.Fatalf("term after reopen: %d, %v", v, err)
	}
}

// TestNoSpaceStable: a stable store write refused for space is not
// remembered as a failure; the next one succeeds once space returns.
func TestNoSpaceStable(t *testing.T) {
	fs := diskfull.New(t, 1<<20)
	injectNoSpace(t, fs)
	l := openLog(t, fs.Dir, tinySegments)
	fs.Fill(t)
	var err error
	for i := uint64(0); i < 100000 && err == nil; i++ {
		err = l.Set([]byte("k"), make([]byte, 1024+i%7))
	}
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("stable writes on a full file system: %v", err)
	}
	fs.Free(t)
	if err := l.SetUint64([]byte("CurrentTerm"), 9); err != nil {
		t.Fatalf("stable write once space returned: %v", err)
	}
	l.Close()
	l = openLog(t, fs.Dir, tinySegments)
	if v, err := l.GetUint64([]byte("CurrentTerm")); err != nil || v != 9 {
		t.Fatalf("term after reopen: %d, %v", v, err)
	}
}
