package linearizability

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Register model: one key per partition, read and written with Put, Get and
// a compare-and-swap (a txn comparing the key's mod_revision with the one a
// previous Get returned). Every written value is unique, so a key's
// mod_revision and its value name the same write: the model compares
// values, and checkRevisions separately checks that every value is seen
// with one revision only.

// RegInput is a register operation.
type RegInput struct {
	Op     string // "put", "get", "cas"
	Key    string
	Value  string // put, cas: the new value
	Expect string // cas: the value read with the compared mod_revision
	Rev    int64  // cas: the compared mod_revision
}

// RegOutput is a register operation's result.
type RegOutput struct {
	Unknown bool
	Value   string // get: the value read, "" if absent
	Rev     int64  // get: the key's mod_revision; put and successful cas: the header revision
	OK      bool   // cas: succeeded
}

// RegisterModel is the porcupine model of single-key registers.
var RegisterModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(RegInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(RegInput), output.(RegOutput)
		switch in.Op {
		case "put":
			return true, in.Value
		case "get":
			return out.Value == s, s
		case "cas":
			if out.Unknown {
				if s == in.Expect {
					return true, in.Value
				}
				return true, s
			}
			if out.OK {
				return s == in.Expect, in.Value
			}
			return s != in.Expect, s
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(RegInput), output.(RegOutput)
		res := ""
		switch {
		case out.Unknown:
			res = "unknown"
		case in.Op == "get":
			res = fmt.Sprintf("%q@%d", out.Value, out.Rev)
		case in.Op == "cas":
			res = fmt.Sprint(out.OK)
		default:
			res = fmt.Sprintf("ok@%d", out.Rev)
		}
		switch in.Op {
		case "put":
			return fmt.Sprintf("put(%s, %q) -> %s", in.Key, in.Value, res)
		case "cas":
			return fmt.Sprintf("cas(%s, rev %d (%q) -> %q) -> %s", in.Key, in.Rev, in.Expect, in.Value, res)
		}
		return fmt.Sprintf("get(%s) -> %s", in.Key, res)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
}

// MultiKeys is the number of keys of the multi-key model.
const MultiKeys = 3

// multiState is the value of every key of the multi-key model.
type multiState [MultiKeys]string

// MultiInput is a multi-key operation: a read of every key in one txn, a
// write of a subset in one txn, or a txn that writes a subset if key
// ExpectKey still has the mod_revision read with value Expect.
type MultiInput struct {
	Op        string // "read", "write", "cas"
	Writes    map[int]string
	ExpectKey int
	Expect    string
	Rev       int64
}

// MultiOutput is a multi-key operation's result.
type MultiOutput struct {
	Unknown bool
	Values  [MultiKeys]string // read
	Revs    [MultiKeys]int64  // read: mod_revisions
	OK      bool              // cas
	Rev     int64             // write, cas: header revision
}

// MultiModel is the porcupine model of a set of keys read and written
// atomically through txn.
var MultiModel = porcupine.Model{
	Init: func() any { return multiState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(multiState), input.(MultiInput), output.(MultiOutput)
		apply := func() multiState {
			n := s
			for k, v := range in.Writes {
				n[k] = v
			}
			return n
		}
		switch in.Op {
		case "read":
			return out.Values == [MultiKeys]string(s), s
		case "write":
			return true, apply()
		case "cas":
			match := s[in.ExpectKey] == in.Expect
			switch {
			case out.Unknown && match, !out.Unknown && out.OK && match:
				return true, apply()
			case out.Unknown:
				return true, s
			case out.OK:
				return false, s
			}
			return !match, s
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(MultiInput), output.(MultiOutput)
		res := fmt.Sprint(out.OK)
		if out.Unknown {
			res = "unknown"
		}
		switch in.Op {
		case "read":
			if out.Unknown {
				return "read() -> unknown"
			}
			return fmt.Sprintf("read() -> %q", out.Values)
		case "write":
			return fmt.Sprintf("write(%s) -> %s", describeWrites(in.Writes), res)
		}
		return fmt.Sprintf("cas(k%d rev %d (%q); %s) -> %s", in.ExpectKey, in.Rev, in.Expect, describeWrites(in.Writes), res)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state.(multiState)) },
}

func describeWrites(w map[int]string) string {
	var parts []string
	for k := range MultiKeys {
		if v, ok := w[k]; ok {
			parts = append(parts, fmt.Sprintf("k%d=%q", k, v))
		}
	}
	return strings.Join(parts, " ")
}
