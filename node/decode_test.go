package node

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"
)

// Decoders of outside input (log entries, peer RPC messages, state.bin
// streams) must reject garbage with an error, never panic. The Fuzz targets
// run their seeds as unit tests; run them with e.g.
//
//	go test ./node -run '^$' -fuzz FuzzWireMessages -fuzztime 1m

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, e := range []envelope{
		{},
		{typ: TypeUser, proposer: 1<<64 - 1, seq: 1<<64 - 1, watermark: 1 << 40, payload: []byte("payload")},
		{typ: typeNode, proposer: 7, seq: 3, watermark: 2, payload: []byte{}},
	} {
		got, err := decodeEnvelope(e.encode())
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", e, err)
		}
		if got.typ != e.typ || got.proposer != e.proposer || got.seq != e.seq || got.watermark != e.watermark || !bytes.Equal(got.payload, e.payload) {
			t.Fatalf("round trip: got %+v, want %+v", got, e)
		}
	}
}

func TestEnvelopeRejectsGarbage(t *testing.T) {
	full := (&envelope{typ: TypeUser, proposer: 1, seq: 300, watermark: 300}).encode()
	for name, b := range map[string][]byte{
		"empty":            nil,
		"short header":     full[:8],
		"no seq":           full[:9],
		"truncated seq":    full[:10],
		"no watermark":     full[:11],
		"overlong varint":  append(append([]byte{}, full[:9]...), bytes.Repeat([]byte{0xff}, 11)...),
		"truncated varint": append(append([]byte{}, full[:11]...), 0x80),
	} {
		if _, err := decodeEnvelope(b); err == nil {
			t.Errorf("%s: decodeEnvelope(%x) succeeded", name, b)
		}
	}
}

func FuzzEnvelope(f *testing.F) {
	f.Add([]byte{})
	f.Add((&envelope{typ: TypeUser, proposer: 42, seq: 1, watermark: 1, payload: []byte("x")}).encode())
	f.Add((&envelope{typ: typeNode, proposer: 1 << 63, seq: 1 << 50, watermark: 1 << 49}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same header and payload, unless the
		// input used a non-minimal varint (which encode never writes).
		got, err := decodeEnvelope(e.encode())
		if err != nil || got.seq != e.seq || got.watermark != e.watermark || !bytes.Equal(got.payload, e.payload) {
			t.Fatalf("re-decode of %+v: %+v, %v", e, got, err)
		}
	})
}

// wireMessages returns one value of every peer RPC message type, with
// fields set, in a fixed order (the fuzzer picks one by the first byte).
func wireMessages() []wireMessage {
	we := wireErr{code: codeNotLeader, msg: "node: not the leader"}
	return []wireMessage{
		&forwardBatch{items: []forwardItem{{id: 1, entry: []byte("e1")}, {id: 7, entry: []byte("entry")}}},
		&forwardResults{items: []forwardResult{{id: 7, wireErr: we, index: 12, data: []byte("d")}, {id: 1, index: 13, data: []byte("data")}}},
		&readIndexRequest{},
		&readIndexResponse{wireErr: we, index: 99},
		&memberRequest{op: opAddVoter, id: "n4", addr: "127.0.0.1:1", clientAddr: "http://x"},
		&memberResponse{wireErr: we},
		&statusRequest{},
		&statusResponse{status: Status{ID: "n1", State: "Leader", Leader: "a:1", LeaderID: "n1", Term: 3, CommitIndex: 4, AppliedIndex: 5, LastLogIndex: 6, ClusterID: 7, LastContact: 8}},
		&membershipCheckRequest{id: "n2"},
		&membershipCheckResponse{wireErr: we, member: true, removed: true, leader: "a:1"},
		&leaderCallRequest{name: "renew", req: []byte{1, 2}},
		&leaderCallResponse{wireErr: we, resp: []byte{3}},
	}
}

// newLike returns a zero message of m's type.
func newLike(m wireMessage) wireMessage {
	return reflect.New(reflect.TypeOf(m).Elem()).Interface().(wireMessage)
}

func TestWireMessagesRoundTrip(t *testing.T) {
	for _, m := range wireMessages() {
		got := newLike(m)
		if err := got.unmarshal(m.marshal()); err != nil {
			t.Fatalf("%T: unmarshal(marshal()): %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%T: round trip gave %+v, want %+v", m, got, m)
		}
		// Every strict prefix (all test values end in a non-empty field) and
		// any trailing byte is an error.
		b := m.marshal()
		for i := range len(b) {
			if err := newLike(m).unmarshal(b[:i]); err == nil {
				t.Errorf("%T: prefix of %d/%d bytes decoded", m, i, len(b))
			}
		}
		if err := newLike(m).unmarshal(append(b, 0)); err == nil {
			t.Errorf("%T: trailing byte accepted", m)
		}
	}
}

func FuzzWireMessages(f *testing.F) {
	for i, m := range wireMessages() {
		f.Add(byte(i), m.marshal())
	}
	f.Add(byte(0), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		msgs := wireMessages()
		m := newLike(msgs[int(which)%len(msgs)])
		if err := m.unmarshal(b); err != nil {
			return
		}
		// A decoded message survives a round trip.
		again := newLike(m)
		if err := again.unmarshal(m.marshal()); err != nil {
			t.Fatalf("%T: re-unmarshal: %v", m, err)
		}
	})
}

func TestWireErrKeepsSentinel(t *testing.T) {
	for _, sentinel := range codeErrors[1:] {
		var resp readIndexResponse
		wrapped := errors.Join(errors.New("context"), sentinel)
		if err := resp.unmarshal((&readIndexResponse{wireErr: toWireErr(wrapped)}).marshal()); err != nil {
			t.Fatal(err)
		}
		if err := resp.err(); !errors.Is(err, sentinel) || err.Error() != wrapped.Error() {
			t.Errorf("%v over the wire came back as %v", wrapped, err)
		}
	}
	if err := codeErr(200, ""); err == nil {
		t.Error("unknown code decoded as success")
	}
}

// testSM is a minimal state machine for the FSM tests of this package: it
// keeps the bytes it last restored or applied.
type testSM struct{ state []byte }

func (s *testSM) Apply(_ uint64, cmd []byte) []byte { s.state = append(s.state, cmd...); return nil }
func (s *testSM) Snapshot() (Snapshot, error)       { return &testSnap{b: bytes.Clone(s.state)}, nil }
func (s *testSM) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.state = b
	return nil
}

type testSnap struct{ b []byte }

func (s *testSnap) Persist(w io.Writer) error { _, err := w.Write(s.b); return err }
func (s *testSnap) Release()                  {}

// validSnapshot builds a state.bin stream of an fsm with some sessions,
// metadata and a user state machine.
func validSnapshot(t testing.TB, user []byte) []byte {
	f := newFSM(slog.New(slog.DiscardHandler))
	f.register(TypeUser, &testSM{state: user})
	f.sessions.record(&envelope{proposer: 5, seq: 2, watermark: 1}, 10, sessionResult{data: []byte("r")})
	f.sessions.record(&envelope{proposer: 6, seq: 9, watermark: 9}, 11, sessionResult{err: ErrUnknownType})
	f.meta.apply(encodeSetClusterID(77))
	f.meta.apply(encodeSetMember("n1", memberMeta{ClientAddr: "http://n1"}))
	f.meta.apply(encodeRemoved("n9"))
	f.applied.set(11)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.(*fsmSnapshot).writeStream(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	user := bytes.Repeat([]byte("0123456789"), chunkSize/5) // spans several chunks
	b := validSnapshot(t, user)
	h, sections, err := ScanSnapshot(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != snapshotVersion || h.Index != 11 || len(sections) != 2 || sections[1].Type != TypeUser || sections[1].Bytes != int64(len(user)) {
		t.Fatalf("scan: header %+v sections %+v", h, sections)
	}
	f := newFSM(slog.New(slog.DiscardHandler))
	sm := &testSM{}
	f.register(TypeUser, sm)
	if err := f.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sm.state, user) || f.applied.get() != 11 || f.meta.clusterID != 77 || !f.meta.removed["n9"] ||
		f.meta.members["n1"].ClientAddr != "http://n1" {
		t.Fatalf("restore: applied %d meta %+v, state of %d bytes", f.applied.get(), f.meta, len(sm.state))
	}
	if res, seen := f.sessions.lookup(5, 2); !seen || string(res.data) != "r" {
		t.Fatalf("restored session (5,2) = %+v, %v", res, seen)
	}
	if res, seen := f.sessions.lookup(6, 9); !seen || !errors.Is(res.err, ErrUnknownType) {
		t.Fatalf("restored session (6,9) = %+v, %v", res, seen)
	}
}

func TestScanSnapshotRejectsCorruption(t *testing.T) {
	good := validSnapshot(t, []byte("some user state"))
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x40; return b }
	cases := map[string][]byte{
		"empty":             nil,
		"bad magic":         flip(0),
		"version 0":         append(append(bytes.Clone(good[:8]), 0, 0), good[10:]...),
		"future version":    append(append(bytes.Clone(good[:8]), 9, 0), good[10:]...),
		"truncated header":  good[:20],
		"no end marker":     good[:len(good)-1],
		"data after end":    append(bytes.Clone(good), 0),
		"flipped user byte": flip(len(good) - 15),
		"flipped checksum":  flip(len(good) - 3),
		"truncated section": good[:len(good)-12],
	}
	for name, b := range cases {
		if _, _, err := ScanSnapshot(bytes.NewReader(b)); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: ScanSnapshot = %v, want ErrBadSnapshot", name, err)
		}
	}
}

func FuzzScanSnapshot(f *testing.F) {
	f.Add(validSnapshot(f, []byte("state")))
	f.Add(validSnapshot(f, nil))
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		ScanSnapshot(bytes.NewReader(b))
	})
}

// frame builds a state.bin stream from raw section bodies with correct
// framing and checksums, so the fuzzer reaches the section decoders.
func frame(sections map[Type][]byte) []byte {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	writeSnapshotHeader(bw, SnapshotHeader{Version: snapshotVersion, Index: 3, Term: 1})
	for _, t := range []Type{typeNode, TypeUser} {
		if body, ok := sections[t]; ok {
			sw := newSectionWriter(bw, t)
			sw.Write(body)
			sw.close()
		}
	}
	bw.WriteByte(sectionEnd)
	bw.Flush()
	return buf.Bytes()
}

func FuzzFSMRestore(f *testing.F) {
	good := validSnapshot(f, []byte("user"))
	f.Add(good, []byte{}, false)
	// The node section of the valid snapshot, as a raw body.
	br := bufio.NewReader(bytes.NewReader(good))
	ReadSnapshotHeader(br)
	forEachSection(br, func(t Type, r io.Reader) error {
		if t == typeNode {
			body, _ := io.ReadAll(r)
			f.Add([]byte{}, body, true)
		}
		return nil
	})
	f.Add([]byte{}, []byte{1, 2, 3}, true)
	f.Fuzz(func(t *testing.T, stream, nodeSection []byte, framed bool) {
		if framed {
			stream = frame(map[Type][]byte{typeNode: nodeSection, TypeUser: []byte("u")})
		}
		fsm := newFSM(slog.New(slog.DiscardHandler))
		fsm.register(TypeUser, &testSM{})
		fsm.Restore(io.NopCloser(bytes.NewReader(stream)))
	})
}

func TestFSMRestoreRejectsUnknownType(t *testing.T) {
	stream := frame(map[Type][]byte{TypeUser: []byte("u")})
	f := newFSM(slog.New(slog.DiscardHandler)) // nothing registered
	if err := f.Restore(io.NopCloser(bytes.NewReader(stream))); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("restore of a section for an unregistered machine: %v, want ErrUnknownType", err)
	}
}

// FuzzNodeCommand feeds the node's own log commands (cluster metadata).
func FuzzNodeCommand(f *testing.F) {
	f.Add(encodeSetClusterID(5))
	f.Add(encodeSetMember("n1", memberMeta{ClientAddr: "http://a"}))
	f.Add(encodeRemoved("n2"))
	f.Add([]byte{metaSetMember, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := newClusterMeta()
		if m.apply(b) != nil {
			return
		}
		// Whatever applied snapshots and restores to the same state.
		var buf bytes.Buffer
		if err := m.writeTo(&buf); err != nil {
			t.Fatal(err)
		}
		got, err := readClusterMeta(bufio.NewReader(&buf))
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("meta round trip: %+v, %v; want %+v", got, err, m)
		}
	})
}

func TestSectionChecksumCoversEveryChunk(t *testing.T) {
	// A section whose chunk is altered after the writer computed the
	// checksum is rejected even when the consumer reads only a part of it.
	b := frame(map[Type][]byte{TypeUser: []byte("abcdef")})
	i := bytes.Index(b, []byte("abcdef"))
	b[i+5] = 'X'
	br := bufio.NewReader(bytes.NewReader(b))
	ReadSnapshotHeader(br)
	err := forEachSection(br, func(_ Type, r io.Reader) error {
		var one [1]byte
		_, err := r.Read(one[:])
		return err
	})
	if !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("partial read of a corrupt section: %v, want ErrBadSnapshot", err)
	}
}
