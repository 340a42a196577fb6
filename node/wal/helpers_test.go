package wal

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// tinySegments puts a few entries in each segment, so that tests cross
// segment boundaries.
const tinySegments = 1 << 10

func testOptions(t testing.TB, segmentSize int64) Options {
	return Options{SegmentSize: segmentSize, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
}

// testWriter sends log lines to t.Log: shown only when a test fails.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

func openLog(t testing.TB, dir string, segmentSize int64) *Log {
	t.Helper()
	l, err := Open(dir, testOptions(t, segmentSize))
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// entry returns a deterministic entry whose fields all depend on index and
// term, with data of varying size.
func entry(index, term uint64) *raft.Log {
	data := fmt.Appendf(nil, "entry %d term %d ", index, term)
	data = append(data, bytes.Repeat([]byte{byte(index)}, int(index%7)*9)...)
	e := &raft.Log{Index: index, Term: term, Type: raft.LogType(index % 6), Data: data,
		AppendedAt: time.Unix(1700000000, int64(index*1000+term))}
	if index%3 == 0 {
		e.Extensions = fmt.Appendf(nil, "ext %d", index)
	}
	return e
}

func entries(from, to, term uint64) []*raft.Log {
	var ls []*raft.Log
	for i := from; i <= to; i++ {
		ls = append(ls, entry(i, term))
	}
	return ls
}

func sameEntry(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && bytes.Equal(a.Data, b.Data) &&
		bytes.Equal(a.Extensions, b.Extensions) && a.AppendedAt.Equal(b.AppendedAt)
}

// model is what a log should hold: entry(i, terms[i-first]) for i in
// [first, first+len(terms)).
type model struct {
	first uint64
	terms []uint64
}

func (m model) clone() model {
	m.terms = append([]uint64(nil), m.terms...)
	return m
}

func (m model) last() uint64 {
	if len(m.terms) == 0 {
		return 0
	}
	return m.first + uint64(len(m.terms)) - 1
}

func (m *model) store(from, to, term uint64) {
	if len(m.terms) == 0 {
		m.first = from
	}
	for i := from; i <= to; i++ {
		m.terms = append(m.terms, term)
	}
}

func (m *model) deleteRange(lo, hi uint64) {
	if len(m.terms) == 0 || hi < m.first || lo > m.last() {
		return
	}
	if hi >= m.last() {
		m.terms = m.terms[:max(lo, m.first)-m.first]
	} else {
		m.terms = m.terms[hi+1-m.first:]
		m.first = hi + 1
	}
	if len(m.terms) == 0 {
		m.first = 0
	}
}

// checkModel fails t unless l holds exactly m.
func checkModel(t testing.TB, l *Log, m model) {
	t.Helper()
	if err := diffModel(l, m); err != nil {
		t.Fatal(err)
	}
}

func diffModel(l *Log, m model) error {
	first, err1 := l.FirstIndex()
	last, err2 := l.LastIndex()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	wantFirst := m.first
	if len(m.terms) == 0 {
		wantFirst = 0
	}
	if first != wantFirst || last != m.last() {
		return fmt.Errorf("log is [%d, %d], want [%d, %d]", first, last, wantFirst, m.last())
	}
	for i, term := range m.terms {
		index := m.first + uint64(i)
		var got raft.Log
		if err := l.GetLog(index, &got); err != nil {
			return fmt.Errorf("entry %d: %v", index, err)
		}
		if want := entry(index, term); !sameEntry(&got, want) {
			return fmt.Errorf("entry %d: got %+v, want %+v", index, got, *want)
		}
	}
	for _, index := range []uint64{0, first - 1, last + 1} {
		if index != 0 && (index < first || index > last) {
			if err := l.GetLog(index, &raft.Log{}); !errors.Is(err, raft.ErrLogNotFound) {
				return fmt.Errorf("entry %d outside the log: %v, want raft.ErrLogNotFound", index, err)
			}
		}
	}
	return nil
}

// segmentFiles returns the paths of dir's segment files in index order.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// copyDir copies the log files of src into a new temporary directory, as
// a crash would find them (LOCK excluded).
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == lockName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// abandon drops l as a crash would: files closed, nothing more written.
func abandon(l *Log) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.closeFiles()
}
