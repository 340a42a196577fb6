package sqlstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/concord-db/concord/node"
)

// Compile-time checks of the node contracts.
var (
	_ node.StateMachine        = (*Store)(nil)
	_ node.RollbackRestorer    = (*Store)(nil)
	_ node.SnapshotValidator   = (*Store)(nil)
	_ node.DurableStateMachine = (*Store)(nil)
)

func fillStore(t *testing.T, s *Store, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		r := applyReq(t, s, i, Request{Statements: []Statement{{SQL: "INSERT INTO t (v, r) VALUES (?, random())", Positional: []any{fmt.Sprint("row", i)}}}})
		if r.Err != "" || r.Results[0].Error != "" {
			t.Fatalf("insert %d: %#v", i, r)
		}
	}
}

func TestSnapshotRoundTripIsPointInTime(t *testing.T) {
	src := openTestStore(t)
	applyReq(t, src, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, r INTEGER)")})
	fillStore(t, src, 2, 50)
	want := TableHash(t, src)

	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	fillStore(t, src, 51, 60) // applies continue after the snapshot
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	dst := openTestStore(t)
	if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got := TableHash(t, dst); got != want {
		t.Fatalf("restored store differs from the snapshot's point in time")
	}
	if dst.AppliedIndex() != 50 {
		t.Fatalf("restored applied index %d, want 50", dst.AppliedIndex())
	}
	// Replaying the rest of the log brings it level with the source.
	fillStore(t, dst, 51, 60)
	if TableHash(t, dst) != TableHash(t, src) {
		t.Fatalf("snapshot + replay differs from the source")
	}

	// Restore and RestoreRollback replace a store already past the
	// snapshot: skipping a restore at start is the node's decision
	// (node.DurableStateMachine), never a guess of the store's.
	for name, restore := range map[string]func(io.Reader) error{"Restore": src.Restore, "RestoreRollback": src.RestoreRollback} {
		fillStore(t, src, 61, 62)
		if err := restore(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		if src.AppliedIndex() != 50 || TableHash(t, src) != want {
			t.Fatalf("%s of an older snapshot kept the newer file: index %d", name, src.AppliedIndex())
		}
		fillStore(t, src, 51, 60) // the store works after the swap
	}
}

func TestValidateSnapshotRejectsTampering(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, r INTEGER)")})
	fillStore(t, s, 2, 20)
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	good := buf.Bytes()
	if err := s.ValidateSnapshot(bytes.NewReader(good)); err != nil {
		t.Fatalf("valid section rejected: %v", err)
	}
	before := TableHash(t, s)
	tamper := map[string][]byte{
		"truncated":   good[:len(good)-100],
		"bad magic":   append([]byte("XSQL"), good[4:]...),
		"wrong index": func() []byte { b := bytes.Clone(good); b[12] ^= 1; return b }(),
		"garbage db":  func() []byte { b := bytes.Clone(good); copy(b[snapshotHeaderSize:], "not a database!!"); return b }(),
	}
	for name, b := range tamper {
		if err := s.ValidateSnapshot(bytes.NewReader(b)); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: ValidateSnapshot err %v, want ErrBadSnapshot", name, err)
		}
		if err := s.RestoreRollback(bytes.NewReader(b)); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: RestoreRollback err %v, want ErrBadSnapshot", name, err)
		}
	}
	if TableHash(t, s) != before || s.AppliedIndex() != 20 {
		t.Fatalf("a rejected section changed the store")
	}
}
