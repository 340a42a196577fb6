package auth

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/concord-db/concord/node"
	"go.etcd.io/etcd/api/v3/authpb"
)

// snapshotVersion is the first byte of the auth snapshot section.
const snapshotVersion = 1

// maxSnapshotBytes bounds the section Restore reads into memory: users and
// roles are small, a section this large is not one of ours.
const maxSnapshotBytes = 256 << 20

// Snapshot returns a copy of the state (node.StateMachine).
func (s *Store) Snapshot() (node.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &snapshot{st: s.st.clone()}, nil
}

type snapshot struct{ st state }

// Persist writes the section: version, enabled, revision, then the users
// and the roles by name, each a length-prefixed authpb message.
func (sn *snapshot) Persist(w io.Writer) error {
	_, err := w.Write(encodeState(&sn.st))
	return err
}

func (sn *snapshot) Release() {}

func encodeState(st *state) []byte {
	b := []byte{snapshotVersion, 0}
	if st.enabled {
		b[1] = 1
	}
	b = binary.AppendUvarint(b, st.revision)
	b = binary.AppendUvarint(b, uint64(len(st.users)))
	for _, n := range sortedNames(st.users) {
		m, _ := st.users[n].Marshal()
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
	}
	b = binary.AppendUvarint(b, uint64(len(st.roles)))
	for _, n := range sortedNames(st.roles) {
		m, _ := st.roles[n].Marshal()
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
	}
	return b
}

// decodeState decodes a section; an empty one is the empty state (a
// snapshot taken before auth existed).
func decodeState(b []byte) (state, error) {
	st := newState()
	if len(b) == 0 {
		return st, nil
	}
	if len(b) < 2 || b[0] != snapshotVersion || b[1] > 1 {
		return st, fmt.Errorf("%w: bad header", ErrBadSnapshot)
	}
	st.enabled = b[1] == 1
	d := decoder{b: b[2:]}
	st.revision = d.uvarint()
	for n := d.count(); n > 0 && d.err == nil; n-- {
		u := &authpb.User{}
		d.message(u)
		if d.err == nil {
			if len(u.Name) == 0 || st.users[string(u.Name)] != nil {
				d.err = fmt.Errorf("%w: empty or duplicate user", ErrBadSnapshot)
			}
			st.users[string(u.Name)] = u
		}
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		r := &authpb.Role{}
		d.message(r)
		if d.err == nil {
			if len(r.Name) == 0 || st.roles[string(r.Name)] != nil {
				d.err = fmt.Errorf("%w: empty or duplicate role", ErrBadSnapshot)
			}
			st.roles[string(r.Name)] = r
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrBadSnapshot, len(d.b))
	}
	if d.err == nil && st.revision == 0 {
		d.err = fmt.Errorf("%w: revision 0", ErrBadSnapshot)
	}
	return st, d.err
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrBadSnapshot)
		return 0
	}
	d.b = d.b[k:]
	return v
}

// count reads an item count, which cannot exceed the bytes left.
func (d *decoder) count() uint64 {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: count %d beyond the section", ErrBadSnapshot, n)
		return 0
	}
	return n
}

func (d *decoder) message(m interface{ Unmarshal([]byte) error }) {
	n := d.uvarint()
	if d.err != nil {
		return
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: message beyond the section", ErrBadSnapshot)
		return
	}
	if err := m.Unmarshal(d.b[:n]); err != nil {
		d.err = fmt.Errorf("%w: %v", ErrBadSnapshot, err)
		return
	}
	d.b = d.b[n:]
}

func readSection(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSnapshotBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSnapshotBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadSnapshot, maxSnapshotBytes)
	}
	return b, nil
}

// Restore replaces the state with the section's (node.StateMachine). The
// simple tokens are forgotten: their users may differ in the new state.
func (s *Store) Restore(r io.Reader) error {
	b, err := readSection(r)
	if err != nil {
		return err
	}
	st, err := decodeState(b)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.st = st
	s.notifyLocked()
	s.mu.Unlock()
	s.tokens.disable()
	s.basic.reset()
	return nil
}

// ValidateSnapshot checks a section as Restore would, changing nothing.
func (s *Store) ValidateSnapshot(r io.Reader) error {
	b, err := readSection(r)
	if err != nil {
		return err
	}
	_, err = decodeState(b)
	return err
}

// equalState reports whether two states are the same (tests).
func equalState(a, b *state) bool { return bytes.Equal(encodeState(a), encodeState(b)) }
