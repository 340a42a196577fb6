package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

func TestBatchRoundTrip(t *testing.T) {
	envs := [][]byte{
		(&envelope{typ: TypeUser, proposer: 1, seq: 1, watermark: 1, payload: []byte("a")}).encode(),
		{},
		(&envelope{typ: TypeKV, proposer: 2, seq: 300, watermark: 299, payload: bytes.Repeat([]byte("x"), 200)}).encode(),
	}
	b := encodeBatch(envs)
	if !isBatch(b) {
		t.Fatal("encoded batch not recognised")
	}
	got, err := decodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(envs) {
		t.Fatalf("decoded %d envelopes, want %d", len(got), len(envs))
	}
	for i := range envs {
		if !bytes.Equal(got[i], envs[i]) {
			t.Errorf("envelope %d: got %x, want %x", i, got[i], envs[i])
		}
	}
}

func TestDecodeBatchRejectsGarbage(t *testing.T) {
	good := encodeBatch([][]byte{[]byte("abc"), []byte("de")})
	for name, b := range map[string][]byte{
		"empty":           nil,
		"not a batch":     (&envelope{typ: TypeUser}).encode(),
		"no count":        good[:1],
		"zero commands":   {byte(typeBatch), 0},
		"count too large": {byte(typeBatch), 200, 1, 1, 'a'},
		"truncated":       good[:len(good)-1],
		"trailing bytes":  append(bytes.Clone(good), 0),
		"length past end": {byte(typeBatch), 1, 9, 'a'},
	} {
		if _, err := decodeBatch(b); err == nil {
			t.Errorf("%s: decodeBatch(%x) succeeded", name, b)
		}
	}
}

func FuzzBatchEntry(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeBatch([][]byte{[]byte("abc"), {}}))
	f.Add([]byte{byte(typeBatch), 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		envs, err := decodeBatch(b)
		if err != nil {
			return
		}
		if again, err := decodeBatch(encodeBatch(envs)); err != nil || len(again) != len(envs) {
			t.Fatalf("re-decode: %d envelopes, %v; want %d", len(again), err, len(envs))
		}
		// Applying any decodable batch must not panic.
		fsm := newFSM(slog.New(slog.DiscardHandler))
		fsm.register(TypeUser, &batchSM{})
		fsm.ApplyBatch([]*raft.Log{{Index: 1, Type: raft.LogCommand, Data: b}})
	})
}

func TestRegisterRefusesBatchType(t *testing.T) {
	f := newFSM(slog.New(slog.DiscardHandler))
	if err := f.register(typeBatch, &batchSM{}); err == nil {
		t.Fatal("registered a state machine under the batch type")
	}
}

// TestRegisterRefusesDurableWithoutBatch: a durable state machine that could
// only be fed command by command would see an entry's index more than once
// and take the second time for a replay.
func TestRegisterRefusesDurableWithoutBatch(t *testing.T) {
	f := newFSM(slog.New(slog.DiscardHandler))
	if err := f.register(TypeUser, &plainDurableSM{}); err == nil {
		t.Fatal("registered a durable state machine that is not a BatchApplier")
	}
	if err := f.register(TypeUser, &batchDurableSM{}); err != nil {
		t.Fatalf("durable BatchApplier refused: %v", err)
	}
}

type plainDurableSM struct{ plainSM }

func (*plainDurableSM) AppliedIndex() uint64     { return 0 }
func (*plainDurableSM) MarkApplied(uint64) error { return nil }

type batchDurableSM struct{ batchSM }

func (*batchDurableSM) AppliedIndex() uint64     { return 0 }
func (*batchDurableSM) MarkApplied(uint64) error { return nil }

// TestBatchEntryAppliesLikeSeparateEntries applies random command streams
// (with retries, stale retries, garbage, node commands and two kinds of
// state machine) once as one entry per command and once in random batches
// at the same indexes; results, state and sessions must be identical.
func TestBatchEntryAppliesLikeSeparateEntries(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cmds := randomCommands(rng, 60)
		one, batched := newDiffFSM(), newDiffFSM()
		var outOne, outBatched []string
		index := uint64(0)
		for len(cmds) > 0 {
			n := 1 + rng.IntN(min(len(cmds), 12))
			part := cmds[:n]
			cmds = cmds[n:]
			index++
			for _, c := range part {
				outOne = append(outOne, describe(one.f.ApplyBatch([]*raft.Log{{Index: index, Type: raft.LogCommand, Data: c}})[0]))
			}
			entry := encodeBatch(part)
			if n == 1 && rng.IntN(2) == 0 {
				entry = part[0]
			}
			res := batched.f.ApplyBatch([]*raft.Log{{Index: index, Type: raft.LogCommand, Data: entry}})[0]
			if rs, ok := res.([]applyResult); ok {
				if len(rs) != n {
					t.Fatalf("seed %d: %d results for %d commands", seed, len(rs), n)
				}
				for _, r := range rs {
					outBatched = append(outBatched, describe(r))
				}
			} else {
				outBatched = append(outBatched, describe(res))
			}
		}
		if !slices.Equal(outOne, outBatched) {
			t.Fatalf("seed %d: results differ\none entry each: %q\nbatched:        %q", seed, outOne, outBatched)
		}
		for _, sm := range []struct{ one, batched *batchSM }{{one.batch, batched.batch}, {one.plain, batched.plain}, {one.durable, batched.durable}} {
			if !slices.Equal(sm.one.applied, sm.batched.applied) {
				t.Fatalf("seed %d: applied commands differ\n%q\n%q", seed, sm.one.applied, sm.batched.applied)
			}
		}
		if calls := batched.durable.calls; len(slices.Compact(slices.Clone(calls))) != len(calls) {
			t.Fatalf("seed %d: a durable state machine's ApplyBatch called more than once for one entry: indexes %v", seed, calls)
		}
		if a, b := sessionBytes(t, one.f), sessionBytes(t, batched.f); !bytes.Equal(a, b) {
			t.Fatalf("seed %d: sessions differ", seed)
		}
		if len(one.f.meta.members) != len(batched.f.meta.members) {
			t.Fatalf("seed %d: cluster metadata differs", seed)
		}
	}
}

// TestBatchRetryInSameBatch: a retried command that lands in the same entry
// as its first copy is applied once, and both copies get its result.
func TestBatchRetryInSameBatch(t *testing.T) {
	d := newDiffFSM()
	first := (&envelope{typ: TypeUser, proposer: 9, seq: 4, watermark: 4, payload: []byte("once")}).encode()
	other := (&envelope{typ: TypeUser, proposer: 8, seq: 1, watermark: 1, payload: []byte("other")}).encode()
	res := d.f.ApplyBatch([]*raft.Log{{Index: 5, Type: raft.LogCommand, Data: encodeBatch([][]byte{first, other, first})}})[0].([]applyResult)
	if got := d.batch.applied; !slices.Equal(got, []string{"5:once", "5:other"}) {
		t.Fatalf("applied %q, want once and other at index 5", got)
	}
	if string(res[0].data) != "r1:once" || string(res[2].data) != "r1:once" || string(res[1].data) != "r2:other" {
		t.Fatalf("results %q %q %q", res[0].data, res[1].data, res[2].data)
	}
}

// TestBatchDurableStateMachineGetsOneCallPerEntry: however an entry's
// commands interleave (other state machines, node commands, retries of its
// own pending commands), a durable state machine gets one ApplyBatch call
// for the entry. sqlstore refuses a second call at the same index as a
// replay, so a second call would lose the commands it carried. Another
// BatchApplier keeps its place in the order: its run ends where another
// state machine's command or a node command comes, but not at a retry or
// at a durable state machine's command (those wait for the entry's end).
func TestBatchDurableStateMachineGetsOneCallPerEntry(t *testing.T) {
	cmd := func(typ Type, seq uint64, payload string) []byte {
		return (&envelope{typ: typ, proposer: 9 + uint64(typ), seq: seq, watermark: 1, payload: []byte(payload)}).encode()
	}
	const batch, durable = TypeUser, TypeUser + 2
	plain := cmd(TypeUser+1, 1, "p")
	member := (&envelope{typ: typeNode, proposer: 7, seq: 1, watermark: 1, payload: encodeSetMember("m1", memberMeta{ClientAddr: "x"})}).encode()
	for name, tc := range map[string]struct {
		between    []byte
		batchCalls int // the plain BatchApplier's calls
	}{
		"another state machine between": {plain, 2},
		// Its commands wait for the end of the entry: nothing to keep order with.
		"a durable one between": {cmd(durable, 7, "o"), 1},
		"node command between":  {member, 2},
		"retry between":         {nil, 1},
	} {
		for _, typ := range []Type{batch, durable} {
			a, b := cmd(typ, 1, "a"), cmd(typ, 2, "b")
			between := tc.between
			if between == nil {
				between = a
			}
			if typ == durable && name == "a durable one between" {
				between = cmd(batch, 7, "o") // a BatchApplier between
			}
			d := newDiffFSM()
			res := d.f.ApplyBatch([]*raft.Log{{Index: 3, Type: raft.LogCommand, Data: encodeBatch([][]byte{a, between, b})}})[0].([]applyResult)
			sm, calls := d.batch, tc.batchCalls
			if typ == durable {
				sm, calls = d.durable, 1
			}
			if len(sm.calls) != calls || slices.ContainsFunc(sm.calls, func(i uint64) bool { return i != 3 }) {
				t.Errorf("%s, type %d: ApplyBatch calls at indexes %v, want %d at 3", name, typ, sm.calls, calls)
			}
			if !slices.Equal(sm.applied, []string{"3:a", "3:b"}) {
				t.Errorf("%s, type %d: applied %q, want a and b once", name, typ, sm.applied)
			}
			if string(res[0].data) != "r1:a" || string(res[2].data) != "r2:b" {
				t.Errorf("%s, type %d: results %q and %q, want r1:a and r2:b", name, typ, res[0].data, res[2].data)
			}
			if tc.between == nil && string(res[1].data) != "r1:a" {
				t.Errorf("%s, type %d: the retry got %q, want the first copy's r1:a", name, typ, res[1].data)
			}
		}
	}
}

func TestBatchRejectsNestedBatch(t *testing.T) {
	d := newDiffFSM()
	nested := (&envelope{typ: typeBatch, proposer: 1, seq: 1, watermark: 1, payload: encodeBatch([][]byte{[]byte("x")})}).encode()
	ok := (&envelope{typ: TypeUser, proposer: 1, seq: 2, watermark: 1, payload: []byte("fine")}).encode()
	res := d.f.ApplyBatch([]*raft.Log{{Index: 1, Type: raft.LogCommand, Data: encodeBatch([][]byte{nested, ok})}})[0].([]applyResult)
	if !errors.Is(res[0].err, ErrUnknownType) || res[1].err != nil || string(res[1].data) != "r1:fine" {
		t.Fatalf("results %+v", res)
	}
}

// batchSM is a BatchApplier that records "index:cmd" and answers
// "r<n>:cmd" for its n-th command. calls has the index of each ApplyBatch.
type batchSM struct {
	applied []string
	calls   []uint64
}

func (s *batchSM) Apply(index uint64, cmd []byte) []byte {
	s.applied = append(s.applied, fmt.Sprintf("%d:%s", index, cmd))
	return fmt.Appendf(nil, "r%d:%s", len(s.applied), cmd)
}

func (s *batchSM) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	s.calls = append(s.calls, index)
	out := make([][]byte, len(cmds))
	for i, c := range cmds {
		out[i] = s.Apply(index, c)
	}
	return out
}

func (s *batchSM) Snapshot() (Snapshot, error) { return &testSnap{}, nil }
func (s *batchSM) Restore(io.Reader) error     { return nil }

// plainSM is batchSM without ApplyBatch.
type plainSM struct{ s batchSM }

func (p *plainSM) Apply(index uint64, cmd []byte) []byte { return p.s.Apply(index, cmd) }
func (p *plainSM) Snapshot() (Snapshot, error)           { return &testSnap{}, nil }
func (p *plainSM) Restore(io.Reader) error               { return nil }

// diffFSM has a BatchApplier (TypeUser), a plain state machine (TypeUser+1)
// and a durable BatchApplier (TypeUser+2).
type diffFSM struct {
	f       *fsm
	batch   *batchSM
	plain   *batchSM
	durable *batchSM
}

func newDiffFSM() diffFSM {
	d := diffFSM{f: newFSM(slog.New(slog.DiscardHandler)), batch: &batchSM{}}
	p := &plainSM{}
	d.plain = &p.s
	dur := &batchDurableSM{}
	d.durable = &dur.batchSM
	d.f.register(TypeUser, d.batch)
	d.f.register(TypeUser+1, p)
	d.f.register(TypeUser+2, dur)
	return d
}

// randomCommands returns encoded envelopes from three proposers, with
// retries of recent commands (some after the watermark passed them),
// garbage, commands for unregistered types and node commands.
func randomCommands(rng *rand.Rand, n int) [][]byte {
	type prop struct{ next, low uint64 }
	props := []*prop{{1, 1}, {1, 1}, {1, 1}}
	var sent []envelope
	var out [][]byte
	for range n {
		switch k := rng.IntN(20); {
		case k == 0:
			out = append(out, []byte{byte(TypeUser), 1, 2})
		case k == 1:
			out = append(out, (&envelope{typ: typeNode, proposer: 50, seq: uint64(len(out) + 1), watermark: 1,
				payload: encodeSetMember(fmt.Sprintf("m%d", rng.IntN(3)), memberMeta{ClientAddr: "x"})}).encode())
		case k < 6 && len(sent) > 0:
			e := sent[len(sent)-1-rng.IntN(min(len(sent), 8))]
			out = append(out, e.encode())
		default:
			pi := rng.IntN(len(props))
			p := props[pi]
			typ := TypeUser + Type(rng.IntN(3))
			if rng.IntN(15) == 0 {
				typ = TypeUser + 5
			}
			e := envelope{typ: typ, proposer: uint64(pi + 1), seq: p.next, watermark: p.low, payload: fmt.Appendf(nil, "c%d", len(out))}
			p.next++
			if rng.IntN(3) == 0 && p.low < p.next {
				p.low += uint64(1 + rng.IntN(int(p.next-p.low)))
			}
			sent = append(sent, e)
			out = append(out, e.encode())
		}
	}
	return out
}

func describe(r interface{}) string {
	a, ok := r.(applyResult)
	if !ok {
		return fmt.Sprintf("%T", r)
	}
	if a.err != nil {
		return "err:" + a.err.Error()
	}
	return "ok:" + string(a.data)
}

func sessionBytes(t *testing.T, f *fsm) []byte {
	var b bytes.Buffer
	if err := f.sessions.writeTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
