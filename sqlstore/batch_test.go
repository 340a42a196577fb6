package sqlstore

import (
	"testing"

	"github.com/concord-db/concord/node"
)

var _ node.BatchApplier = (*Store)(nil)

func TestApplyBatchMatchesSingleApplies(t *testing.T) {
	single, batched := openTestStore(t), openTestStore(t)
	var cmds [][]byte
	for j, req := range deterministicLog {
		b, err := encodeCommand(command{Timestamp: 1_700_000_000_000_000_000, Seed: 42, Request: req})
		if err != nil {
			t.Fatal(err)
		}
		single.Apply(uint64(j+1), b)
		cmds = append(cmds, b)
	}
	bad := []byte{0xff}
	out := batched.ApplyBatch(3, append(cmds[:1:1], append([][]byte{bad}, cmds[1:]...)...))
	if len(out) != len(cmds)+1 {
		t.Fatalf("%d results for %d commands", len(out), len(cmds)+1)
	}
	for i, b := range out {
		r, err := decodeResult(b)
		if err != nil {
			t.Fatal(err)
		}
		if (i == 1) != (r.Err != "") {
			t.Fatalf("command %d: %q", i, r.Err)
		}
	}
	if TableHash(t, single) != TableHash(t, batched) {
		t.Fatal("batch apply differs from single applies")
	}
	if batched.AppliedIndex() != 3 {
		t.Fatalf("applied index %d", batched.AppliedIndex())
	}
	r, _ := decodeResult(batched.ApplyBatch(3, cmds)[0])
	if r.Err == "" {
		t.Fatal("replayed batch index was not skipped")
	}
}
