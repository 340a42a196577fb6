package resource

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
)

func sampleCommands() []*command {
	res := &pbresource.Resource{Id: testID("Artist", "a"), Data: testData("x"), Metadata: map[string]string{"b": "2", "a": "1"}}
	id := testID("Artist", "a")
	id.Uid = ulidA
	return []*command{
		{op: opWrite, maxBytes: 1 << 20, uid: ulidA, generation: ulidA, res: res},
		{op: opStatus, id: id, version: "", key: "k", status: &pbresource.Status{ObservedGeneration: ulidA}},
		{op: opDelete, id: id, version: "2"},
	}
}

const ulidA = "01HZZZZZZZZZZZZZZZZZZZZZZZ"

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range sampleCommands() {
		b, err := c.encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeCommand(b, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		again, _ := got.encode()
		if !bytes.Equal(b, again) {
			t.Fatalf("%s: re-encoding differs", c.op)
		}
		for i := range b {
			if _, err := decodeCommand(b[:i], nil); !errors.Is(err, errMalformed) {
				t.Fatalf("%s truncated to %d bytes: %v", c.op, i, err)
			}
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	res := &pbresource.Resource{Id: testID("Artist", "a"), Version: "7"}
	for _, r := range []result{
		{res: res, rev: 7}, {rev: 8},
		{err: ErrNotFound}, {err: ErrCASFailure}, {err: ErrWrongUid},
		{err: ValidationError{Field: "id.name", Reason: "bad"}},
		{err: GroupVersionMismatchError{RequestedType: res.Id.Type, Stored: res}},
		{err: errors.New("other")},
	} {
		got, err := decodeResult(encodeResult(r))
		if err != nil {
			t.Fatal(err)
		}
		if got.rev != r.rev || !proto.Equal(got.res, r.res) || (got.err == nil) != (r.err == nil) || got.err != nil && got.err.Error() != r.err.Error() {
			t.Fatalf("round trip of %+v gave %+v", r, got)
		}
		var gv GroupVersionMismatchError
		if errors.As(r.err, &gv) && !errors.As(got.err, &gv) {
			t.Fatalf("lost the error's type: %T", got.err)
		}
	}
	// A write's result carries what apply decided, not the resource.
	stored := &pbresource.Resource{Id: testID("Artist", "a"), Version: "9", Generation: ulidA, Data: testData("x"),
		Status: map[string]*pbresource.Status{"k": {ObservedGeneration: ulidA}}}
	stored.Id.Uid = ulidA
	for _, st := range []map[string]*pbresource.Status{stored.Status, nil} {
		stored.Status = st
		got, err := decodeResult(encodeResult(result{res: stored, rev: 9, written: true}))
		want := &pbresource.Resource{Id: &pbresource.ID{Uid: ulidA}, Version: "9", Generation: ulidA, Status: st}
		if err != nil || !got.written || got.rev != 9 || !proto.Equal(got.res, want) {
			t.Fatalf("write result: %+v, %v; want %v", got, err, want)
		}
	}
}

// TestApplyDeterministic applies the same commands, one by one and in
// batches, on two stores: results and states must be identical, and a
// malformed or invalid command changes nothing.
func TestApplyDeterministic(t *testing.T) {
	var cmds [][]byte
	for _, c := range sampleCommands() {
		b, _ := c.encode()
		cmds = append(cmds, b)
	}
	cmds = append(cmds, []byte{1, 99}, []byte("garbage"))
	bad := &command{op: opWrite, maxBytes: 10, uid: ulidA, generation: ulidA, res: &pbresource.Resource{Id: testID("Artist", "b"), Data: testData("too big for ten bytes")}}
	bb, _ := bad.encode()
	cmds = append(cmds, bb, cmds[0], cmds[0])

	one, _ := Open(Config{})
	batch, _ := Open(Config{})
	var r1 [][]byte
	for i, c := range cmds {
		r1 = append(r1, one.Apply(uint64(10+i), c))
	}
	r2 := batch.ApplyBatch(10, cmds[:4])
	r2 = append(r2, batch.ApplyBatch(11, cmds[4:])...)
	for i := range r1 {
		if !bytes.Equal(r1[i], r2[i]) {
			t.Fatalf("command %d: result %x one by one, %x batched", i, r1[i], r2[i])
		}
	}
	if one.Revision() != 4 || batch.Revision() != 4 {
		t.Fatalf("revisions %d and %d, want 4 (write, status, delete, write)", one.Revision(), batch.Revision())
	}
	rA, rB := allResources(t, one), allResources(t, batch)
	if len(rA) != 1 || len(rB) != 1 || !proto.Equal(rA[0], rB[0]) {
		t.Fatalf("states differ: %v vs %v", rA, rB)
	}
	for _, i := range []int{3, 4, 5} {
		r, err := decodeResult(r1[i])
		if err != nil || r.err == nil {
			t.Fatalf("command %d: result %+v, %v; want an error result", i, r, err)
		}
	}
	var ve ValidationError
	if r, _ := decodeResult(r1[5]); !errors.As(r.err, &ve) {
		t.Fatalf("oversized write: %v, want a ValidationError", r.err)
	}
	if r, _ := decodeResult(r1[7]); !errors.Is(r.err, ErrCASFailure) {
		t.Fatalf("second create: %v, want ErrCASFailure", r.err)
	}
}

// FuzzDecodeCommand feeds arbitrary bytes to the command decoder and to
// apply: neither may panic, a decoded command re-encodes to an equivalent
// one, and a command that fails changes no state.
func FuzzDecodeCommand(f *testing.F) {
	for _, c := range sampleCommands() {
		b, _ := c.encode()
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b, nil)
		if err == nil {
			enc, err := c.encode()
			if err == nil {
				if _, err := decodeCommand(enc, nil); err != nil {
					t.Fatalf("re-encoded command does not decode: %v", err)
				}
			}
		}
		s, _ := Open(Config{})
		res, err := decodeResult(s.Apply(1, b))
		if err != nil {
			t.Fatalf("apply returned an undecodable result: %v", err)
		}
		if res.err != nil && (s.Revision() != 0 || s.Status().Resources != 0) {
			t.Fatalf("a failed command changed the store: %+v", s.Status())
		}
	})
}

// FuzzDecodeResult: the proposer's decoder of results from other members.
func FuzzDecodeResult(f *testing.F) {
	f.Add(encodeResult(result{res: &pbresource.Resource{Id: testID("Artist", "a")}, rev: 3}))
	f.Add(encodeResult(result{err: ValidationError{Field: "f", Reason: "r"}}))
	f.Add(encodeResult(result{err: GroupVersionMismatchError{RequestedType: &pbresource.Type{}, Stored: &pbresource.Resource{}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResult(b)
		if err == nil && r.err == nil {
			encodeResult(r)
		}
	})
}

// FuzzReadSection: snapshot sections come from archives on disk and from
// other members.
func FuzzReadSection(f *testing.F) {
	s, b := newLocal(f, Config{})
	fillStore(f, b)
	f.Add(persist(f, s))
	f.Add([]byte{snapVersion, 0, 0, tagEnd})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := readSection(bytes.NewReader(data))
		if err == nil && st == nil {
			t.Fatal("nil state without error")
		}
	})
}
