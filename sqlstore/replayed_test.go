package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/concord-db/concord/node"
)

// replayNode hands every command to the store at a fixed index, as the
// node does when it replays entries after a restart and a client's retry
// is answered from its session table with the replay's outcome.
type replayNode struct {
	s     *Store
	index uint64
}

func (n replayNode) Apply(_ context.Context, _ node.Type, b []byte) (node.Result, error) {
	return node.Result{Index: n.index, Data: n.s.Apply(n.index, b)}, nil
}
func (replayNode) ReadBarrier(context.Context) error { return nil }
func (replayNode) Status() node.Status               { return node.Status{} }

// TestReplayedWriteIsTypedAsApplied: a write whose entry is already in
// the file comes back as ErrResultUnavailable (applied, result lost),
// never as a failure, through Execute and a transaction's commit.
func TestReplayedWriteIsTypedAsApplied(t *testing.T) {
	s := openTestStore(t)
	if r := applyReq(t, s, 5, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY)")}); r.Err != "" {
		t.Fatal(r.Err)
	}
	db := NewDB(s, replayNode{s: s, index: 5})
	_, err := db.Execute(context.Background(), Request{Statements: stmts("INSERT INTO t VALUES (1)")})
	if !errors.Is(err, ErrResultUnavailable) {
		t.Fatalf("replayed execute: %v, want ErrResultUnavailable", err)
	}
	if ids := idsOf(t, s); len(ids) != 0 {
		t.Fatalf("replay ran the write again: %v", ids)
	}
	// A damaged member's text comes back typed too.
	if err := commandError("execute", 7, fmt.Errorf("%w: an apply failed", ErrDamaged).Error()); !errors.Is(err, ErrDamaged) {
		t.Fatalf("damaged: %v", err)
	}
}
