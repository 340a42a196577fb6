package sqlstore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleCommand() command {
	return command{
		Timestamp: 1_700_000_000_123_456_789,
		Seed:      0xdeadbeefcafef00d,
		Request: Request{Transaction: true, Statements: []Statement{
			{SQL: "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", Positional: []any{nil, int64(1 << 60), 3.5, "x", []byte{0, 1}, true}},
			{SQL: "INSERT INTO t VALUES (:a, :b)", Named: map[string]any{"a": int64(-7), "b": false}},
		}},
	}
}

func TestCommandRoundTrip(t *testing.T) {
	c := sampleCommand()
	b, err := encodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, c)
	}
	for i := 0; i < len(b); i++ {
		if _, err := decodeCommand(b[:i]); !errors.Is(err, ErrBadCommand) {
			t.Fatalf("truncated to %d bytes: err %v, want ErrBadCommand", i, err)
		}
	}
	if _, err := decodeCommand(append(b, 0)); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("trailing byte: err %v", err)
	}
}

// TestCommandRoundTripEveryVersion: encodeCommand is the inverse of
// decodeCommand for plain writes, transaction commits and loads alike
// (a commit once lost its result hashes when encoded again).
func TestCommandRoundTripEveryVersion(t *testing.T) {
	txn := sampleCommand()
	txn.Check = []resultHash{{1, 2}, {3}}
	empty := command{Timestamp: 1, Request: Request{Transaction: true}, Check: []resultHash{}}
	load := command{Timestamp: 5, Seed: 6, Load: "CREATE TABLE t (a);"}
	for name, c := range map[string]command{"plain": sampleCommand(), "txn": txn, "empty txn": empty, "load": load} {
		b, err := encodeCommand(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("%s round trip:\n got %#v\nwant %#v", name, got, c)
		}
	}
}

func TestEncodeCommandRejectsUnsupportedValue(t *testing.T) {
	_, err := encodeCommand(command{Request: Request{Statements: []Statement{{SQL: "SELECT ?", Positional: []any{struct{}{}}}}}})
	if !errors.Is(err, ErrParams) {
		t.Fatalf("err %v, want ErrParams", err)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	b, _ := encodeCommand(sampleCommand())
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(encodeLoadCommand(5, 6, "CREATE TABLE t (a);\nINSERT INTO t VALUES (1);\n"))
	f.Add([]byte{loadCommandVersion, 0})
	txn := sampleCommand()
	txn.Check = []resultHash{{1}, {2}}
	b, _ = encodeTxnCommand(txn)
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := decodeCommand(in)
		if err != nil {
			return
		}
		again, err := encodeCommand(c)
		if err != nil {
			t.Fatalf("re-encode of a decoded command: %v", err)
		}
		c2, err := decodeCommand(again)
		if err != nil || !sameCommand(c, c2) {
			t.Fatalf("re-decode differs: %v\n got %+v\nwant %+v", err, c2, c)
		}
	})
}

// sameCommand compares decoded commands by their encoding, which is
// canonical (named parameters sorted) and, unlike reflect.DeepEqual,
// holds a NaN parameter equal to itself; the kind (plain, commit, load)
// must match too.
func sameCommand(a, b command) bool {
	ea, erra := encodeCommand(a)
	eb, errb := encodeCommand(b)
	return erra == nil && errb == nil && bytes.Equal(ea, eb) &&
		(a.Check == nil) == (b.Check == nil) && len(a.Check) == len(b.Check) && a.Load == b.Load
}

func sampleResult() applyResult {
	return applyResult{Results: []Result{
		{Columns: []string{"a", "b"}, Types: []string{"INTEGER", "TEXT"}, Rows: [][]any{{int64(1), "x"}, {nil, []byte{9}}, {2.5, ""}}, ReadOnly: true, Time: 1234},
		{LastInsertID: 9, RowsAffected: 1},
		{Error: "no such table: z"},
	}}
}

func TestResultRoundTrip(t *testing.T) {
	r := sampleResult()
	got, err := decodeResult(encodeResult(r))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, r)
	}
	got, err = decodeResult(encodeResult(applyResult{Err: "boom"}))
	if err != nil || got.Err != "boom" || got.Results != nil {
		t.Fatalf("command error round trip: %#v %v", got, err)
	}
}

func FuzzDecodeResult(f *testing.F) {
	f.Add(encodeResult(sampleResult()))
	f.Add(encodeResult(applyResult{Err: "x"}))
	f.Add([]byte{1, 0, 0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := decodeResult(in)
		if err != nil {
			return
		}
		r2, err := decodeResult(encodeResult(r))
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-decode differs: %v", err)
		}
	})
}
