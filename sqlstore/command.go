package sqlstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// command is one write request as it travels through the raft log: the
// proposer's timestamp (unix nanos) and random seed make apply identical
// on every member.
type command struct {
	Timestamp int64
	Seed      uint64
	Request   Request
	// Check, for an interactive transaction's commit, holds the hash of
	// each statement's result as the client saw it (txn_command.go).
	Check []resultHash
	// Load, for a /db/load, is the SQL text that replaces the database's
	// content (load.go); Request is then empty.
	Load string
}

const commandVersion = 1

// Value tags of the binary encoding.
const (
	tagNull byte = iota
	tagInt
	tagFloat
	tagText
	tagBlob
	tagFalse
	tagTrue
)

// encodeCommand renders c compactly: version, timestamp, seed, flag,
// statements (SQL, positional values, named values sorted by name). It
// is the inverse of decodeCommand for every version: a load (load.go), a
// transaction's commit when c.Check is set (txn_command.go), else a plain
// write.
func encodeCommand(c command) ([]byte, error) {
	if c.Load != "" {
		return encodeLoadCommand(c.Timestamp, c.Seed, c.Load), nil
	}
	if c.Check != nil {
		return encodeTxnCommand(c)
	}
	return encodeRequest(commandVersion, c)
}

// encodeRequest renders c's timestamp, seed and request after version.
func encodeRequest(version byte, c command) ([]byte, error) {
	b := []byte{version}
	b = binary.AppendVarint(b, c.Timestamp)
	b = binary.BigEndian.AppendUint64(b, c.Seed)
	if c.Request.Transaction {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Request.Statements)))
	for i, st := range c.Request.Statements {
		b = appendString(b, st.SQL)
		b = binary.AppendUvarint(b, uint64(len(st.Positional)))
		var err error
		for _, v := range st.Positional {
			if b, err = appendValue(b, v); err != nil {
				return nil, fmt.Errorf("statement %d: %w", i, err)
			}
		}
		names := make([]string, 0, len(st.Named))
		for n := range st.Named {
			names = append(names, n)
		}
		sort.Strings(names)
		b = binary.AppendUvarint(b, uint64(len(names)))
		for _, n := range names {
			b = appendString(b, n)
			if b, err = appendValue(b, st.Named[n]); err != nil {
				return nil, fmt.Errorf("statement %d, parameter %q: %w", i, n, err)
			}
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, tagNull), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt), x), nil
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, tagFloat), math.Float64bits(x)), nil
	case string:
		return appendString(append(b, tagText), x), nil
	case []byte:
		return appendString(append(b, tagBlob), string(x)), nil
	case bool:
		if x {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	default:
		return nil, fmt.Errorf("%w: unsupported value type %T", ErrParams, v)
	}
}

// decoder reads the binary encoding; the first failure sticks in err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or invalid %s", ErrBadCommand, what)
	}
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64be(what string) uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// count reads a length that must not exceed the bytes left (each element
// takes at least one byte), so a hostile length cannot force a huge
// allocation.
func (d *decoder) count(what string) int {
	n := d.uvarint(what)
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail(what)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) value() any {
	switch tag := d.byte1("value tag"); tag {
	case tagNull:
		return nil
	case tagInt:
		return d.varint("integer")
	case tagFloat:
		return math.Float64frombits(d.uint64be("float"))
	case tagText:
		return string(d.bytes("text"))
	case tagBlob:
		return append([]byte{}, d.bytes("blob")...)
	case tagFalse:
		return false
	case tagTrue:
		return true
	default:
		d.fail("value tag")
		return nil
	}
}

// decodeCommand is the inverse of encodeCommand; it rejects trailing bytes.
func decodeCommand(b []byte) (command, error) {
	d := &decoder{b: b}
	var c command
	v := d.byte1("version")
	if v == loadCommandVersion {
		c := decodeLoadCommand(d)
		if d.err != nil {
			return command{}, d.err
		}
		return c, nil
	}
	if d.err == nil && v != commandVersion && v != txnCommandVersion {
		return c, fmt.Errorf("%w: unknown version %d", ErrBadCommand, v)
	}
	c.Timestamp = d.varint("timestamp")
	c.Seed = d.uint64be("seed")
	switch d.byte1("transaction flag") {
	case 0:
	case 1:
		c.Request.Transaction = true
	default:
		d.fail("transaction flag")
	}
	n := d.count("statement count")
	for i := 0; i < n && d.err == nil; i++ {
		var st Statement
		st.SQL = string(d.bytes("sql"))
		np := d.count("positional count")
		for j := 0; j < np && d.err == nil; j++ {
			st.Positional = append(st.Positional, d.value())
		}
		nn := d.count("named count")
		for j := 0; j < nn && d.err == nil; j++ {
			name := string(d.bytes("parameter name"))
			if st.Named == nil {
				st.Named = map[string]any{}
			}
			if _, dup := st.Named[name]; dup {
				d.fail("duplicate parameter name")
			}
			st.Named[name] = d.value()
		}
		c.Request.Statements = append(c.Request.Statements, st)
	}
	if v == txnCommandVersion {
		c.Check = d.hashes(len(c.Request.Statements))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return command{}, d.err
	}
	return c, nil
}
