package node

import (
	"encoding/binary"
	"fmt"
)

// Messages of the internal peer RPC, hand-encoded: a sequence of uvarints and
// length-prefixed byte strings, in the field order of each struct.

type wireMessage interface {
	marshal() []byte
	unmarshal([]byte) error
}

// wireErr is the error part of every response.
type wireErr struct {
	code byte
	msg  string
}

func toWireErr(err error) wireErr {
	if err == nil {
		return wireErr{}
	}
	return wireErr{code: errCode(err), msg: err.Error()}
}

func (w wireErr) err() error { return codeErr(w.code, w.msg) }

// readIndexRequest asks the leader for a linearizable read index.
type readIndexRequest struct{}

type readIndexResponse struct {
	wireErr
	index uint64
}

// Membership operations.
const (
	opAddVoter byte = iota + 1
	opAddNonVoter
	opRemove
	opTransfer
	opPromote
)

type memberRequest struct {
	op         byte
	id         string
	addr       string
	clientAddr string
}

type memberResponse struct{ wireErr }

// statusRequest asks a node about itself.
type statusRequest struct{}

type statusResponse struct {
	wireErr
	status Status
}

// membershipCheckRequest asks whether a node is (still) a member.
type membershipCheckRequest struct{ id string }

type membershipCheckResponse struct {
	wireErr
	member  bool
	removed bool
	leader  string
}

type enc struct{ b []byte }

func (e *enc) u(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) by(p []byte) { e.u(uint64(len(p))); e.b = append(e.b, p...) }
func (e *enc) s(v string)  { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) bool(v bool) {
	if v {
		e.u(1)
	} else {
		e.u(0)
	}
}
func (e *enc) werr(w wireErr) { e.u(uint64(w.code)); e.s(w.msg) }

type dec struct {
	b   []byte
	err error
}

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("malformed message")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) by() []byte {
	n := d.u()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("malformed message: length %d exceeds %d", n, len(d.b))
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) s() string     { return string(d.by()) }
func (d *dec) bool() bool    { return d.u() != 0 }
func (d *dec) werr() wireErr { return wireErr{code: byte(d.u()), msg: d.s()} }

func (d *dec) done() error {
	if d.err == nil && len(d.b) != 0 {
		return fmt.Errorf("malformed message: %d trailing bytes", len(d.b))
	}
	return d.err
}

func (m *readIndexRequest) marshal() []byte          { return nil }
func (m *readIndexRequest) unmarshal(b []byte) error { return (&dec{b: b}).done() }

func (m *readIndexResponse) marshal() []byte { e := enc{}; e.werr(m.wireErr); e.u(m.index); return e.b }
func (m *readIndexResponse) unmarshal(b []byte) error {
	d := dec{b: b}
	m.wireErr, m.index = d.werr(), d.u()
	return d.done()
}

func (m *memberRequest) marshal() []byte {
	e := enc{}
	e.u(uint64(m.op))
	e.s(m.id)
	e.s(m.addr)
	e.s(m.clientAddr)
	return e.b
}
func (m *memberRequest) unmarshal(b []byte) error {
	d := dec{b: b}
	m.op, m.id, m.addr, m.clientAddr = byte(d.u()), d.s(), d.s(), d.s()
	return d.done()
}

func (m *memberResponse) marshal() []byte { e := enc{}; e.werr(m.wireErr); return e.b }
func (m *memberResponse) unmarshal(b []byte) error {
	d := dec{b: b}
	m.wireErr = d.werr()
	return d.done()
}

func (m *statusRequest) marshal() []byte          { return nil }
func (m *statusRequest) unmarshal(b []byte) error { return (&dec{b: b}).done() }

func (m *statusResponse) marshal() []byte {
	e := enc{}
	e.werr(m.wireErr)
	s := &m.status
	e.s(s.ID)
	e.s(s.State)
	e.s(s.Leader)
	e.s(s.LeaderID)
	for _, v := range []uint64{s.Term, s.CommitIndex, s.AppliedIndex, s.LastLogIndex, s.ClusterID, uint64(s.LastContact)} {
		e.u(v)
	}
	return e.b
}
func (m *statusResponse) unmarshal(b []byte) error {
	d := dec{b: b}
	m.wireErr = d.werr()
	s := &m.status
	s.ID, s.State, s.Leader, s.LeaderID = d.s(), d.s(), d.s(), d.s()
	s.Term, s.CommitIndex, s.AppliedIndex, s.LastLogIndex, s.ClusterID = d.u(), d.u(), d.u(), d.u(), d.u()
	s.LastContact = durationOf(d.u())
	return d.done()
}

func (m *membershipCheckRequest) marshal() []byte { e := enc{}; e.s(m.id); return e.b }
func (m *membershipCheckRequest) unmarshal(b []byte) error {
	d := dec{b: b}
	m.id = d.s()
	return d.done()
}

func (m *membershipCheckResponse) marshal() []byte {
	e := enc{}
	e.werr(m.wireErr)
	e.bool(m.member)
	e.bool(m.removed)
	e.s(m.leader)
	return e.b
}
func (m *membershipCheckResponse) unmarshal(b []byte) error {
	d := dec{b: b}
	m.wireErr, m.member, m.removed, m.leader = d.werr(), d.bool(), d.bool(), d.s()
	return d.done()
}
