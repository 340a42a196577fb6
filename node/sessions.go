package node

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// sessions remembers, per proposer, the results of its commands that it may
// still retry, so a command that reaches the log twice is applied once. It is
// part of the replicated state: it changes only in apply and is snapshotted.
//
// A proposer's results are kept while their seq is at or above the proposer's
// watermark (the lowest seq it still waits on); a command below the watermark
// was answered or abandoned and is never applied again. A proposer silent for
// sessionTTL entries is forgotten (processes restart with a new proposer id).
type sessions struct {
	byProposer map[uint64]*session
}

type session struct {
	watermark uint64
	lastIndex uint64
	results   map[uint64]sessionResult
}

type sessionResult struct {
	data []byte
	err  error // only node-level errors (unknown type); nil otherwise
}

const (
	sessionTTL        = 1 << 20 // entries
	sessionSweepEvery = 1 << 12 // entries
)

func newSessions() *sessions { return &sessions{byProposer: map[uint64]*session{}} }

// lookup reports whether (proposer, seq) was seen. If it was, res holds the
// first result, or ok is false when the command is below the watermark.
func (s *sessions) lookup(proposer, seq uint64) (res sessionResult, seen bool) {
	sess := s.byProposer[proposer]
	if sess == nil {
		return res, false
	}
	if seq < sess.watermark {
		return sessionResult{err: ErrDuplicate}, true
	}
	res, seen = sess.results[seq]
	return res, seen
}

// record stores the result of an applied command and advances the watermark.
func (s *sessions) record(e *envelope, index uint64, res sessionResult) {
	sess := s.byProposer[e.proposer]
	if sess == nil {
		sess = &session{results: map[uint64]sessionResult{}}
		s.byProposer[e.proposer] = sess
	}
	sess.lastIndex = index
	sess.results[e.seq] = res
	if e.watermark > sess.watermark {
		sess.watermark = e.watermark
		for seq := range sess.results {
			if seq < sess.watermark {
				delete(sess.results, seq)
			}
		}
	}
	if index%sessionSweepEvery == 0 {
		s.expire(index)
	}
}

// fill sets the result of a command recorded earlier with a placeholder,
// unless its proposer's watermark has passed it since.
func (s *sessions) fill(proposer, seq uint64, res sessionResult) {
	sess := s.byProposer[proposer]
	if sess == nil {
		return
	}
	if _, ok := sess.results[seq]; ok {
		sess.results[seq] = res
	}
}

func (s *sessions) expire(index uint64) {
	for p, sess := range s.byProposer {
		if sess.lastIndex+sessionTTL < index {
			delete(s.byProposer, p)
		}
	}
}

// clone returns a deep copy for a snapshot.
func (s *sessions) clone() *sessions {
	c := newSessions()
	for p, sess := range s.byProposer {
		cs := &session{watermark: sess.watermark, lastIndex: sess.lastIndex, results: make(map[uint64]sessionResult, len(sess.results))}
		for seq, r := range sess.results {
			cs.results[seq] = r
		}
		c.byProposer[p] = cs
	}
	return c
}

// writeTo encodes the table deterministically (sorted by proposer and seq).
func (s *sessions) writeTo(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var buf []byte
	buf = binary.AppendUvarint(buf[:0], uint64(len(s.byProposer)))
	bw.Write(buf)
	for _, p := range slices.Sorted(mapKeys(s.byProposer)) {
		sess := s.byProposer[p]
		buf = binary.LittleEndian.AppendUint64(buf[:0], p)
		buf = binary.AppendUvarint(buf, sess.watermark)
		buf = binary.AppendUvarint(buf, sess.lastIndex)
		buf = binary.AppendUvarint(buf, uint64(len(sess.results)))
		bw.Write(buf)
		for _, seq := range slices.Sorted(mapKeys(sess.results)) {
			r := sess.results[seq]
			buf = binary.AppendUvarint(buf[:0], seq)
			buf = append(buf, errCode(r.err))
			buf = binary.AppendUvarint(buf, uint64(len(r.data)))
			bw.Write(buf)
			bw.Write(r.data)
		}
	}
	return bw.Flush()
}

func readSessions(r io.Reader) (*sessions, error) {
	br := bufio.NewReader(r)
	s := newSessions()
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	for range n {
		var pb [8]byte
		if _, err := io.ReadFull(br, pb[:]); err != nil {
			return nil, fmt.Errorf("sessions: %w", err)
		}
		sess := &session{results: map[uint64]sessionResult{}}
		var count uint64
		for _, f := range []*uint64{&sess.watermark, &sess.lastIndex, &count} {
			if *f, err = binary.ReadUvarint(br); err != nil {
				return nil, fmt.Errorf("sessions: %w", err)
			}
		}
		for range count {
			seq, err := binary.ReadUvarint(br)
			if err != nil {
				return nil, fmt.Errorf("sessions: %w", err)
			}
			code, err := br.ReadByte()
			if err != nil {
				return nil, fmt.Errorf("sessions: %w", err)
			}
			data, err := readBytes(br, 64<<20)
			if err != nil {
				return nil, fmt.Errorf("sessions: %w", err)
			}
			sess.results[seq] = sessionResult{data: data, err: codeErr(code, "")}
		}
		s.byProposer[binary.LittleEndian.Uint64(pb[:])] = sess
	}
	return s, nil
}

func readBytes(br *bufio.Reader, limit uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("length %d exceeds limit %d", n, limit)
	}
	if n == 0 {
		return nil, nil
	}
	b := make([]byte, n)
	_, err = io.ReadFull(br, b)
	return b, err
}

func mapKeys[K comparable, V any](m map[K]V) func(yield func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
