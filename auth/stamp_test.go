package auth

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/concord-db/concord/node"
)

// recorder is a state machine's apply that records what it was given.
type recorder struct{ got [][]byte }

func (r *recorder) apply(_ uint64, cmd []byte) []byte {
	r.got = append(r.got, cmd)
	return append([]byte("ok:"), cmd...)
}

func (r *recorder) applyBatch(index uint64, cmds [][]byte) [][]byte {
	out := make([][]byte, len(cmds))
	for i, c := range cmds {
		out[i] = r.apply(index, c)
	}
	return out
}

// TestStampGuard: a write stamped before an auth change is refused at
// apply, with nothing applied; one stamped at the current state, or
// while auth stays off, is applied without its stamp; an unstamped
// command passes as it is.
func TestStampGuard(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := context.Background()
	off := s.Stamp()
	if off.Enabled {
		t.Fatal("a new store has auth on")
	}
	r := &recorder{}
	if res := s.GuardApply(1, StampCommand(off, []byte("a")), r.apply); string(res) != "ok:a" {
		t.Fatalf("auth off: %q", res)
	}
	enableWithRoot(t, s)
	if res := s.GuardApply(2, StampCommand(off, []byte("b")), r.apply); !bytes.Equal(res, staleResult) {
		t.Fatalf("checked while auth was off, applied after it was enabled: %q, want the refusal", res)
	}
	on := s.Stamp()
	if res := s.GuardApply(3, StampCommand(on, []byte("c")), r.apply); string(res) != "ok:c" {
		t.Fatalf("current stamp: %q", res)
	}
	must(t, s.RoleAdd(ctx, Identity{Name: "root"}, "app"))
	if res := s.GuardApply(4, StampCommand(on, []byte("d")), r.apply); !bytes.Equal(res, staleResult) {
		t.Fatalf("stamped before a role was added: %q, want the refusal", res)
	}
	if res := s.GuardApply(5, []byte("e"), r.apply); string(res) != "ok:e" {
		t.Fatalf("unstamped: %q", res)
	}
	if want := []string{"a", "c", "e"}; len(r.got) != len(want) || string(r.got[0]) != "a" || string(r.got[1]) != "c" || string(r.got[2]) != "e" {
		t.Fatalf("applied %q, want %q", r.got, want)
	}

	// A batch: the refused are left out, the others applied in order,
	// the answers in the batch's order.
	now := s.Stamp()
	r = &recorder{}
	res := s.GuardApplyBatch(6, [][]byte{[]byte("u1"), StampCommand(on, []byte("old")), StampCommand(now, []byte("new")), []byte("u2")}, r.applyBatch)
	if len(res) != 4 || string(res[0]) != "ok:u1" || !bytes.Equal(res[1], staleResult) || string(res[2]) != "ok:new" || string(res[3]) != "ok:u2" {
		t.Fatalf("batch answers %q", res)
	}
	if len(r.got) != 3 || string(r.got[1]) != "new" {
		t.Fatalf("batch applied %q, want u1 new u2", r.got)
	}
	// Nothing stamped: the batch is handed on as it is.
	r = &recorder{}
	if res := s.GuardApplyBatch(7, [][]byte{[]byte("x")}, r.applyBatch); len(res) != 1 || string(res[0]) != "ok:x" {
		t.Fatalf("unstamped batch: %q", res)
	}
}

// TestStampApplier: the proposing side stamps with the context's stamp
// and turns the refusal into ErrAuthOldRevision; without a stamp in the
// context it proposes the command unchanged.
func TestStampApplier(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	enableWithRoot(t, s)
	var proposed []byte
	answer := []byte("fine")
	a := Applier{Store: s, Next: func(_ context.Context, _ node.Type, p []byte) (node.Result, error) {
		proposed = p
		return node.Result{Data: answer}, nil
	}}
	ctx := context.Background()
	if res, err := a.Apply(ctx, node.TypeKV, []byte("cmd")); err != nil || string(proposed) != "cmd" || string(res.Data) != "fine" {
		t.Fatalf("unstamped: %q %v, proposed %q", res.Data, err, proposed)
	}
	st := s.Stamp()
	if _, err := a.Apply(WithStamp(ctx, st), node.TypeKV, []byte("cmd")); err != nil || !bytes.Equal(proposed, StampCommand(st, []byte("cmd"))) {
		t.Fatalf("stamped: %v, proposed %q", err, proposed)
	}
	got, inner, ok := splitStamp(proposed)
	if !ok || got != st || string(inner) != "cmd" {
		t.Fatalf("split %v %q %v, want %v", got, inner, ok, st)
	}
	answer = staleResult
	if _, err := a.Apply(WithStamp(ctx, st), node.TypeKV, []byte("cmd")); !errors.Is(err, ErrAuthOldRevision) {
		t.Fatalf("refused at apply: %v, want ErrAuthOldRevision", err)
	}
}

// FuzzSplitStamp: any bytes split without panic, and a stamped command
// splits back into its stamp and command.
func FuzzSplitStamp(f *testing.F) {
	f.Add(uint64(3), true, []byte("cmd"))
	f.Add(uint64(0), false, []byte{})
	f.Fuzz(func(t *testing.T, rev uint64, enabled bool, cmd []byte) {
		splitStamp(cmd)
		st := Stamp{Revision: rev, Enabled: enabled}
		got, inner, ok := splitStamp(StampCommand(st, cmd))
		if !ok || got != st || !bytes.Equal(inner, cmd) {
			t.Fatalf("split(%v, %q) = %v %q %v", st, cmd, got, inner, ok)
		}
	})
}
