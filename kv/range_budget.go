package kv

import (
	"errors"
	"fmt"
	"math/bits"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// ErrRangeTooLarge is returned by RangeCapped and ReadTxnCapped when the
// key-values a read would return pass its byte cap. It is detected before
// any KeyValue is built, so a refused read costs no memory in proportion
// to its size (see readBudget).
var ErrRangeTooLarge = errors.New("range response too large")

// readBudget is what is left of a read's byte cap; a nil budget is no cap.
// One budget is shared by every range of a txn, so the cap is on the whole
// response.
type readBudget struct {
	limit, left int64
}

func newReadBudget(maxBytes int64) *readBudget {
	if maxBytes <= 0 {
		return nil
	}
	return &readBudget{limit: maxBytes, left: maxBytes}
}

// take charges n bytes, or fails with ErrRangeTooLarge once the total
// passes the cap.
func (b *readBudget) take(n int) error {
	if b == nil {
		return nil
	}
	b.left -= int64(n)
	if b.left < 0 {
		return fmt.Errorf("%w: more than %d bytes of key-values", ErrRangeTooLarge, b.limit)
	}
	return nil
}

// RangeCapped is Range refused with ErrRangeTooLarge (and nothing built)
// when the encoded key-values of the response would pass maxBytes; a
// maxBytes of 0 or less is no cap.
func (s *Store) RangeCapped(r *pb.RangeRequest, maxBytes int64) (*pb.RangeResponse, error) {
	return rangeKeysCapped(s.view(), r, newReadBudget(maxBytes))
}

// ReadTxnCapped is ReadTxn with the cap of RangeCapped on the key-values of
// all its ranges together.
func (s *Store) ReadTxnCapped(r *pb.TxnRequest, maxBytes int64) (*pb.TxnResponse, error) {
	return readTxnCapped(s.view(), r, newReadBudget(maxBytes))
}

// kvEncodedSize is the exact size r takes in a RangeResponse (the
// mvccpb.KeyValue message, its field tag and length prefix), computed
// without building it: what gRPC will marshal for it.
func kvEncodedSize(r *rec, keysOnly bool) int {
	n := bytesField(len(r.key)) + varintField(r.create) + varintField(r.mod) + varintField(r.version) + varintField(r.lease)
	if !keysOnly && !r.tombstone() {
		n += bytesField(len(r.value))
	}
	return 1 + uvarintLen(uint64(n)) + n
}

func bytesField(n int) int {
	if n == 0 {
		return 0
	}
	return 1 + uvarintLen(uint64(n)) + n
}

func varintField(v int64) int {
	if v == 0 {
		return 0
	}
	return 1 + uvarintLen(uint64(v))
}

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// CheckTxnRanges refuses with ErrRangeTooLarge a writing txn whose ranges
// would return more than maxBytes of key-values on this member's state: a
// writing txn's ranges are read in apply, on every member, so without a
// check before proposing, one txn could make every member build a response
// of any size (what RangeCapped and ReadTxnCapped refuse for reads). It
// charges the ranges of the branches the compares choose now, with one
// budget as ReadTxnCapped does. Apply itself is not capped: the cap is a
// member's setting, and apply must come out the same on every member.
func (s *Store) CheckTxnRanges(r *pb.TxnRequest, maxBytes int64) error {
	b := newReadBudget(maxBytes)
	if b == nil || !hasRange(r) {
		return nil
	}
	st := s.view()
	return chargeRanges(st, r, choose(st, r), b)
}

// hasRange reports whether either branch of r, or a nested txn, reads.
func hasRange(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			if op.GetRequestRange() != nil || (op.GetRequestTxn() != nil && hasRange(op.GetRequestTxn())) {
				return true
			}
		}
	}
	return false
}

// chargeRanges charges b for the ranges of the branch c chose in r and in
// its nested txns. Only ErrRangeTooLarge is returned: any other failure
// (a compacted revision, say) is apply's to report.
func chargeRanges(st *state, r *pb.TxnRequest, c *choice, b *readBudget) error {
	nested := c.nested
	for _, op := range branch(r, c.succeeded) {
		switch {
		case op.GetRequestRange() != nil:
			if _, err := rangeKeysCapped(st, op.GetRequestRange(), b); errors.Is(err, ErrRangeTooLarge) {
				return err
			}
		case op.GetRequestTxn() != nil:
			if err := chargeRanges(st, op.GetRequestTxn(), nested[0], b); err != nil {
				return err
			}
			nested = nested[1:]
		}
	}
	return nil
}
