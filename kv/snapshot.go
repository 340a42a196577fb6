package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/benbjohnson/immutable"

	"github.com/concord-db/concord/internal/btree"
)

// Snapshot format, version 1 (all integers varint or uvarint):
//
//	"ckv" 0x01                         magic and version
//	uvarint index, varint rev, varint compactRev
//	'b' rec ...                        retained versions at or below compactRev, key order
//	'l' rec ...                        revision log: versions above compactRev, (rev, sub) order
//	'L' varint id, ttl, remaining ...  leases, ID order
//	'A' uvarint member, uvarint type   raised alarms, (member, type) order;
//	                                   only if any (alarm.go), so a store
//	                                   without alarms writes what it always did
//	'E' crc32c (4 bytes little endian) of every byte before 'E'
//
// where rec is appendRec's form: uvarint len, key, varint mod, varint
// version, and for a put (version > 0) varint create, varint lease, uvarint
// len, value. Attached keys of leases are not stored: they are the live
// keys whose latest version names the lease.

const (
	snapMagic   = "ckv"
	snapVersion = 1
	// maxSnapField bounds one key or value in a snapshot.
	maxSnapField = 256 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Snapshot is an immutable point-in-time view of a Store.
type Snapshot struct {
	st *state
}

// Rev returns the revision the snapshot was taken at.
func (s *Snapshot) Rev() int64 { return s.st.rev }

// Index returns the raft index of the last command the snapshot includes.
func (s *Snapshot) Index() uint64 { return s.st.index }

// Release does nothing: the view is garbage collected.
func (s *Snapshot) Release() {}

// Persist streams the snapshot to w in chunks of about 64 KiB. It may run
// concurrently with Apply.
func (s *Snapshot) Persist(w io.Writer) error {
	e := &encoder{w: w, h: crc32.New(crcTable), buf: make([]byte, 0, 80<<10)}
	st := s.st
	e.buf = append(e.buf, snapMagic...)
	e.buf = append(e.buf, snapVersion)
	e.buf = binary.AppendUvarint(e.buf, st.index)
	e.buf = binary.AppendVarint(e.buf, st.rev)
	e.buf = binary.AppendVarint(e.buf, st.compactRev)
	it := st.keys.Iterator()
	for !it.Done() && e.err == nil {
		_, vs, _ := it.Next()
		if vs[0].mod <= st.compactRev {
			e.buf = appendRec(append(e.buf, 'b'), vs[0])
			e.flushIfFull()
		}
	}
	for _, v := range st.log {
		if e.err != nil {
			break
		}
		e.buf = appendRec(append(e.buf, 'l'), v)
		e.flushIfFull()
	}
	lt := st.leases.Iterator()
	for !lt.Done() && e.err == nil {
		_, l, _ := lt.Next()
		e.buf = append(e.buf, 'L')
		e.buf = binary.AppendVarint(e.buf, l.id)
		e.buf = binary.AppendVarint(e.buf, l.ttl)
		e.buf = binary.AppendVarint(e.buf, l.remaining)
		e.flushIfFull()
	}
	for _, a := range st.alarms {
		e.buf = append(e.buf, 'A')
		e.buf = binary.AppendUvarint(e.buf, a.member)
		e.buf = binary.AppendUvarint(e.buf, uint64(a.alarm))
	}
	e.buf = append(e.buf, 'E')
	e.h.Write(e.buf)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, e.h.Sum32())
	e.flush(false)
	return e.err
}

type encoder struct {
	w   io.Writer
	h   hash.Hash32
	buf []byte
	err error
}

func (e *encoder) flushIfFull() {
	if len(e.buf) >= 64<<10 {
		e.flush(true)
	}
}

func (e *encoder) flush(hashIt bool) {
	if e.err != nil {
		return
	}
	if hashIt {
		e.h.Write(e.buf)
	}
	_, e.err = e.w.Write(e.buf)
	e.buf = e.buf[:0]
}

// readSnapshot decodes a snapshot; an empty stream is an empty store.
func readSnapshot(r io.Reader) (*state, error) {
	d := &decoder{r: r, h: crc32.New(crcTable), buf: make([]byte, 0, 64<<10)}
	if !d.need(1) {
		if d.err == io.EOF {
			return emptyState(), nil
		}
		return nil, d.fail("empty stream: %v", d.err)
	}
	magic := d.bytes(len(snapMagic) + 1)
	if d.err != nil || string(magic[:3]) != snapMagic {
		return nil, d.fail("bad magic")
	}
	if magic[3] != snapVersion {
		return nil, d.fail("unsupported version %d", magic[3])
	}
	st := &state{index: d.uvarint(), rev: d.varint(), compactRev: d.varint()}
	if d.err != nil || st.rev < 1 || st.compactRev < 0 || st.compactRev > st.rev {
		return nil, d.fail("bad header")
	}
	b := &restorer{st: st, keys: btree.New[versions]().Transient(),
		leases: immutable.NewSortedMapBuilder[int64, *lease](int64Comparer{})}
	for {
		tb := d.bytes(1)
		if d.err != nil {
			return nil, d.fail("truncated: %v", d.err)
		}
		tag := tb[0] // copy: the buffer moves on the next read
		var err error
		switch tag {
		case 'b', 'l':
			err = b.addRec(tag, d.rec())
		case 'L':
			err = b.addLease(&lease{id: d.varint(), ttl: d.varint(), remaining: d.varint()})
		case 'A':
			err = b.addAlarm(d.uvarint(), d.uvarint())
		case 'E':
			return b.finish(d)
		default:
			err = fmt.Errorf("unknown record tag %q", tag)
		}
		if d.err != nil {
			return nil, d.fail("truncated: %v", d.err)
		}
		if err != nil {
			return nil, d.fail("%v", err)
		}
	}
}

// restorer rebuilds a state from snapshot records, checking the invariants
// the rest of the package relies on.
type restorer struct {
	st      *state
	keys    *btree.Map[versions] // transient until finish
	leases  *immutable.SortedMapBuilder[int64, *lease]
	lastKey string
	nBase   int
	lastRev int64
	lastID  int64
}

func (b *restorer) addRec(tag byte, v *rec) error {
	if v == nil {
		return nil // decoder error, reported by the caller
	}
	if v.version < 0 || v.mod < 1 || v.mod > b.st.rev || (!v.tombstone() && (v.create < 1 || v.create > v.mod)) {
		return fmt.Errorf("bad version of %q", v.key)
	}
	if tag == 'b' {
		if len(b.st.log) > 0 || (b.nBase > 0 && v.key <= b.lastKey) || v.mod > b.st.compactRev || v.tombstone() {
			return fmt.Errorf("bad base record %q", v.key)
		}
		b.keys.Set(v.key, versions{v})
		b.lastKey = v.key
		b.nBase++
		return nil
	}
	if v.mod <= b.st.compactRev || v.mod < b.lastRev {
		return fmt.Errorf("log record %q at %d out of order", v.key, v.mod)
	}
	vs, _ := b.keys.Get(v.key)
	if len(vs) > 0 {
		if last := vs[len(vs)-1]; last.mod >= v.mod {
			return fmt.Errorf("key %q written twice at %d", v.key, v.mod)
		}
		v.key = vs[0].key
	}
	b.keys.Set(v.key, append(vs, v))
	b.st.log = append(b.st.log, v)
	b.lastRev = v.mod
	return nil
}

func (b *restorer) addLease(l *lease) error {
	if l.id == 0 || (b.leases.Len() > 0 && l.id <= b.lastID) {
		return fmt.Errorf("bad lease %d", l.id)
	}
	l.keys = newKeySet()
	b.leases.Set(l.id, l)
	b.lastID = l.id
	return nil
}

func (b *restorer) finish(d *decoder) (*state, error) {
	d.hashConsumed()
	sum := d.bytes(4)
	if d.err != nil {
		return nil, d.fail("truncated checksum")
	}
	if binary.LittleEndian.Uint32(sum) != d.h.Sum32() {
		return nil, d.fail("checksum mismatch")
	}
	if d.need(1) || d.err != io.EOF {
		return nil, d.fail("data after the end")
	}
	if b.lastRev > 0 && b.lastRev != b.st.rev {
		return nil, d.fail("log ends at %d, header says %d", b.lastRev, b.st.rev)
	}
	st := b.st
	b.keys.Freeze()
	st.keys = b.keys
	leases := b.leases.Map()
	attached := map[int64]*immutable.SortedMapBuilder[string, struct{}]{}
	it := st.keys.Iterator()
	for !it.Done() {
		k, vs, _ := it.Next()
		for _, v := range vs {
			st.size += recSize(v)
		}
		v := vs.latest()
		if v == nil || v.lease == 0 {
			continue
		}
		if _, ok := leases.Get(v.lease); !ok {
			return nil, d.fail("key %q names missing lease %d", k, v.lease)
		}
		if attached[v.lease] == nil {
			attached[v.lease] = immutable.NewSortedMapBuilder[string, struct{}](stringComparer{})
		}
		attached[v.lease].Set(k, struct{}{})
	}
	lb := immutable.NewSortedMapBuilder[int64, *lease](int64Comparer{})
	lt := leases.Iterator()
	for !lt.Done() {
		id, l, _ := lt.Next()
		if a := attached[id]; a != nil {
			l.keys = a.Map()
		}
		lb.Set(id, l)
	}
	st.leases = lb.Map()
	return st, nil
}

// decoder reads from r through its own buffer, hashing bytes as they are
// consumed. It grows the buffer only as data arrives, so a garbage length
// cannot make it allocate more than the input holds.
type decoder struct {
	r   io.Reader
	h   hash.Hash32
	buf []byte
	pos int
	err error
}

func (d *decoder) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
}

func (d *decoder) hashConsumed() {
	d.h.Write(d.buf[:d.pos])
	d.buf = d.buf[:copy(d.buf, d.buf[d.pos:])]
	d.pos = 0
}

// need makes n unread bytes available, or sets d.err.
func (d *decoder) need(n int) bool {
	if len(d.buf)-d.pos >= n {
		return true
	}
	if d.err != nil {
		return false
	}
	d.hashConsumed()
	for len(d.buf) < n {
		if len(d.buf) == cap(d.buf) {
			nb := make([]byte, len(d.buf), min(max(2*cap(d.buf), 4096), n+64<<10))
			copy(nb, d.buf)
			d.buf = nb
		}
		m, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+m]
		if err != nil && len(d.buf) < n {
			if err == io.EOF && len(d.buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			d.err = err
			return false
		}
	}
	return true
}

// bytes returns the next n bytes; they are valid until the next read.
func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		if d.err == nil {
			d.err = io.ErrUnexpectedEOF
		}
		return nil
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	if !d.need(binary.MaxVarintLen64) && !errors.Is(d.err, io.ErrUnexpectedEOF) && d.err != io.EOF {
		return 0
	}
	if d.err != nil && len(d.buf) > d.pos {
		d.err = nil // a short varint at the end of the stream is fine
	}
	v, n := binary.Uvarint(d.buf[d.pos:])
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxSnapField {
		d.err = fmt.Errorf("field of %d bytes", n)
		return ""
	}
	return string(d.bytes(int(n)))
}

func (d *decoder) rec() *rec {
	v := &rec{key: d.str(), mod: d.varint(), version: d.varint()}
	if v.version != 0 {
		v.create, v.lease, v.value = d.varint(), d.varint(), d.str()
	}
	if d.err != nil {
		return nil
	}
	return v
}
