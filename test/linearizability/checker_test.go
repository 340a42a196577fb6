package linearizability

import (
	"os"
	"strings"
	"testing"
)

// The checker must accept linearizable histories, including ones with
// indeterminate writes, and reject the anomalies a broken store produces.
func TestCheckerRegister(t *testing.T) {
	put := func(c int, call, ret int64, v string, rev int64) Op {
		return Op{Client: c, Call: call, Return: ret, Input: RegInput{Op: "put", Key: "k", Value: v}, Output: RegOutput{Rev: rev}}
	}
	get := func(c int, call, ret int64, v string, rev int64) Op {
		return Op{Client: c, Call: call, Return: ret, Input: RegInput{Op: "get", Key: "k"}, Output: RegOutput{Value: v, Rev: rev}}
	}
	lost := func(c int, call int64, v string) Op {
		return Op{Client: c, Call: call, Unknown: true, Input: RegInput{Op: "put", Key: "k", Value: v}, Output: RegOutput{Unknown: true}}
	}
	cas := func(c int, call, ret int64, expect string, rev int64, v string, ok bool) Op {
		return Op{Client: c, Call: call, Return: ret, Input: RegInput{Op: "cas", Key: "k", Value: v, Expect: expect, Rev: rev}, Output: RegOutput{OK: ok, Rev: 9}}
	}
	cases := []struct {
		name string
		ops  []Op
		ok   bool
	}{
		{"sequential", []Op{put(0, 1, 2, "a", 5), get(1, 3, 4, "a", 5)}, true},
		{"concurrent read may see either", []Op{put(0, 1, 10, "a", 5), get(1, 2, 3, "", 0), get(1, 4, 5, "a", 5)}, true},
		{"stale read", []Op{put(0, 1, 2, "a", 5), put(0, 3, 4, "b", 6), get(1, 5, 6, "a", 5)}, false},
		{"read goes back in time", []Op{put(0, 1, 10, "a", 5), get(1, 2, 3, "a", 5), get(2, 4, 5, "", 0)}, false},
		{"unknown write may apply late", []Op{lost(0, 1, "a"), get(1, 5, 6, "", 0), get(1, 7, 8, "a", 5)}, true},
		{"unknown write may never apply", []Op{put(0, 1, 2, "a", 5), lost(0, 3, "b"), get(1, 5, 6, "a", 5)}, true},
		{"never-written value read", []Op{put(0, 1, 2, "a", 5), get(1, 3, 4, "z", 7)}, false},
		{"cas success on a stale revision", []Op{put(0, 1, 2, "a", 5), put(0, 3, 4, "b", 6), cas(1, 5, 6, "a", 5, "c", true)}, false},
		{"cas failure although current", []Op{put(0, 1, 2, "a", 5), cas(1, 3, 4, "a", 5, "c", false)}, false},
		{"cas", []Op{put(0, 1, 2, "a", 5), cas(1, 3, 4, "a", 5, "c", true), get(2, 5, 6, "c", 9)}, true},
		{"one value, two revisions", []Op{put(0, 1, 2, "a", 5), get(1, 3, 4, "a", 6)}, false},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Check(strings.ReplaceAll(tc.name, " ", "-"), dir, tc.ops, nil, -1)
			if got := len(v.Violations) == 0; got != tc.ok {
				t.Fatalf("linearizable = %v, want %v (violations %v)", got, tc.ok, v.Violations)
			}
			if !tc.ok && len(v.Files) == 0 {
				t.Fatal("no artifact written for a violation")
			}
			for _, f := range v.Files {
				if _, err := os.Stat(f); err != nil {
					t.Fatalf("artifact %s: %v", f, err)
				}
			}
		})
	}
}

func TestCheckerMultiKey(t *testing.T) {
	write := func(c int, call, ret int64, w map[int]string) Op {
		return Op{Client: c, Call: call, Return: ret, Input: MultiInput{Op: "write", Writes: w}, Output: MultiOutput{}}
	}
	read := func(c int, call, ret int64, vals ...string) Op {
		var o MultiOutput
		copy(o.Values[:], vals)
		return Op{Client: c, Call: call, Return: ret, Input: MultiInput{Op: "read"}, Output: o}
	}
	good := []Op{write(0, 1, 2, map[int]string{0: "a", 1: "a"}), read(1, 3, 4, "a", "a", "")}
	torn := []Op{write(0, 1, 2, map[int]string{0: "a", 1: "a"}), write(0, 3, 4, map[int]string{0: "b", 1: "b"}), read(1, 5, 6, "b", "a", "")}
	if v := Check("multi-good", t.TempDir(), good, nil, -1); len(v.Violations) != 0 {
		t.Fatalf("good history rejected: %v", v.Violations)
	}
	if v := Check("multi-torn", t.TempDir(), torn, nil, -1); len(v.Violations) == 0 {
		t.Fatal("torn read accepted")
	}
}

func TestCheckerLocks(t *testing.T) {
	w := func(call int64, rev int64) GuardedWrite {
		return GuardedWrite{Call: call, Return: call + 1, OK: true, Rev: rev}
	}
	good := []Hold{{Client: 0, Token: 10, Acquired: 1, Writes: []GuardedWrite{w(2, 11)}}, {Client: 1, Token: 12, Acquired: 5, Writes: []GuardedWrite{w(6, 13)}}}
	if bad, _, _ := CheckLocks(good, 2); len(bad) != 0 {
		t.Fatalf("good holds rejected: %v", bad)
	}
	overlap := []Hold{{Client: 0, Token: 10, Acquired: 1, Writes: []GuardedWrite{w(7, 14)}}, {Client: 1, Token: 12, Acquired: 5, Writes: []GuardedWrite{w(6, 13)}}}
	if bad, _, _ := CheckLocks(overlap, 2); len(bad) == 0 {
		t.Fatal("a write by an older holder after a newer one acquired was accepted")
	}
	if bad, _, _ := CheckLocks(good, 3); len(bad) == 0 {
		t.Fatal("a counter with more increments than guarded writes was accepted")
	}
}
