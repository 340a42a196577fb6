package logstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/logbench"
	"github.com/hashicorp/raft"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func entries(from, to uint64, term uint64) []*raft.Log {
	var ls []*raft.Log
	for i := from; i <= to; i++ {
		ls = append(ls, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("cmd-%d-%d", term, i)),
			AppendedAt: time.Unix(1700000000, int64(i))})
	}
	return ls
}

func checkRange(t *testing.T, s *Store, first, last uint64) {
	t.Helper()
	f, err1 := s.FirstIndex()
	l, err2 := s.LastIndex()
	if err1 != nil || err2 != nil || f != first || l != last {
		t.Fatalf("range [%d, %d] (%v %v), want [%d, %d]", f, l, err1, err2, first, last)
	}
}

func TestLogRoundTrip(t *testing.T) {
	s, _ := openTemp(t)
	checkRange(t, s, 0, 0)
	want := entries(1, 100, 1)
	want[7].Extensions = []byte("ext")
	want[8].Type = raft.LogConfiguration
	if err := s.StoreLogs(want); err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 1, 100)
	for _, w := range want {
		var got raft.Log
		if err := s.GetLog(w.Index, &got); err != nil {
			t.Fatal(err)
		}
		if got.Index != w.Index || got.Term != w.Term || got.Type != w.Type || !bytes.Equal(got.Data, w.Data) ||
			!bytes.Equal(got.Extensions, w.Extensions) || !got.AppendedAt.Equal(w.AppendedAt) {
			t.Fatalf("entry %d: got %+v, want %+v", w.Index, got, w)
		}
	}
	var missing raft.Log
	if err := s.GetLog(101, &missing); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("missing entry: %v", err)
	}
}

// TestTruncateTailThenReopen is the scenario raft-wal v0.4.0 fails: a
// follower deletes its conflicting suffix, appends the leader's entries,
// restarts, and must read its whole log back.
func TestTruncateTailThenReopen(t *testing.T) {
	s, path := openTemp(t)
	if err := s.StoreLogs(entries(1, 424, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(400, 424); err != nil { // clear the conflicting suffix
		t.Fatal(err)
	}
	checkRange(t, s, 1, 399)
	if err := s.StoreLogs(entries(400, 410, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 100); err != nil { // compaction of the head
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkRange(t, s, 101, 410)
	for i := uint64(101); i <= 410; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d after reopen: %v", i, err)
		}
		wantTerm := uint64(1)
		if i >= 400 {
			wantTerm = 2
		}
		if l.Term != wantTerm {
			t.Fatalf("entry %d has term %d, want %d", i, l.Term, wantTerm)
		}
	}
}

func TestStableStore(t *testing.T) {
	s, path := openTemp(t)
	if _, err := s.Get([]byte("CurrentTerm")); !errors.Is(err, ErrKeyNotFound) || err.Error() != "not found" {
		t.Fatalf("missing key: %v", err)
	}
	if v, err := s.GetUint64([]byte("LastVoteTerm")); err != nil || v != 0 {
		t.Fatalf("missing uint64: %d %v", v, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("n2")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Fatalf("term after reopen: %d %v", v, err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "n2" {
		t.Fatalf("vote after reopen: %q %v", v, err)
	}
	if err := s.Set([]byte("odd"), []byte("xyz")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUint64([]byte("odd")); err == nil {
		t.Fatal("a 3-byte value read as a uint64")
	}
}

// TestRaftUsesStore runs a real single-node raft on the store across a
// restart: the log, term and vote survive.
func TestRaftUsesStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	run := func(bootstrap bool, apply int) uint64 {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		conf := raft.DefaultConfig()
		conf.LocalID = "n1"
		conf.LogOutput = io.Discard
		conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
		_, trans := raft.NewInmemTransport("n1")
		fsm := &countFSM{}
		r, err := raft.NewRaft(conf, fsm, s, s, raft.NewInmemSnapshotStore(), trans)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { r.Shutdown().Error() }()
		if bootstrap {
			if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: trans.LocalAddr()}}}).Error(); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for r.State() != raft.Leader {
			if time.Now().After(deadline) {
				t.Fatal("no leader")
			}
			time.Sleep(5 * time.Millisecond)
		}
		for range apply {
			if err := r.Apply([]byte("x"), time.Second).Error(); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Barrier(time.Second).Error(); err != nil {
			t.Fatal(err)
		}
		return fsm.n
	}
	if n := run(true, 10); n != 10 {
		t.Fatalf("first run applied %d", n)
	}
	// Restarted with no snapshot, raft replays the whole log from the store.
	if n := run(false, 5); n != 15 {
		t.Fatalf("second run applied %d, want the 10 from the log plus 5", n)
	}
}

type countFSM struct{ n uint64 }

func (f *countFSM) Apply(*raft.Log) interface{}         { f.n++; return nil }
func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("no snapshots") }
func (f *countFSM) Restore(r io.ReadCloser) error       { return r.Close() }

func FuzzDecodeLog(f *testing.F) {
	f.Add(encodeLog(nil, &raft.Log{Index: 1, Term: 2, Type: raft.LogCommand, Data: []byte("x")}))
	f.Add(encodeLog(nil, &raft.Log{Index: 9, Term: 9, Extensions: []byte("e"), AppendedAt: time.Unix(5, 6)}))
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeLog(b, &l); err != nil {
			return
		}
		// Whatever decodes must encode back to the same bytes.
		if again := encodeLog(nil, &l); !bytes.Equal(again, b) && !bytes.Equal(encodeLog(nil, &l), encodeLog(nil, mustDecode(t, again))) {
			t.Fatalf("re-encoding differs: %x vs %x", again, b)
		}
	})
}

func mustDecode(t *testing.T, b []byte) *raft.Log {
	var l raft.Log
	if err := decodeLog(b, &l); err != nil {
		t.Fatal(err)
	}
	return &l
}

// BenchmarkStoreLogs appends batches of 64 300-byte entries, each one
// fsynced bbolt transaction, in a temporary directory. Compare with
// node/wal's benchmark of the same name; count the fsyncs per batch with
// strace -f -c -e trace=fsync,fdatasync.
func BenchmarkStoreLogs(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "raft.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	logbench.StoreLogs(b, s)
}

// BenchmarkGetLog reads 300-byte entries from a log of 64 Ki entries.
func BenchmarkGetLog(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "raft.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	logbench.GetLog(b, s)
}
