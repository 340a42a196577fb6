package kv

import (
	"errors"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func TestResultRoundTrip(t *testing.T) {
	for _, err := range []error{ErrCompacted, ErrFutureRev, ErrLeaseNotFound, ErrLeaseExists, ErrDuplicateKey, ErrKeyNotFound, ErrLeaseTTLTooLarge} {
		_, _, got := DecodeResult(encodeError(err))
		if got != err {
			t.Errorf("%v decoded as %v", err, got)
		}
	}
	_, _, got := DecodeResult(encodeError(errors.New("something new")))
	var ae *ApplyError
	if !errors.As(got, &ae) || ae.Msg != "something new" {
		t.Errorf("unknown error decoded as %v", got)
	}
	put, err := ResultAs[*pb.PutResponse](encodeResult(KindPut, &pb.PutResponse{Header: &pb.ResponseHeader{Revision: 7}}))
	if err != nil || put.Header.Revision != 7 {
		t.Fatalf("put result: %v %v", put, err)
	}
	if _, err := ResultAs[*pb.TxnResponse](encodeResult(KindPut, &pb.PutResponse{})); !errors.Is(err, ErrBadResult) {
		t.Fatalf("wrong type: %v", err)
	}
}

func TestApplyGarbage(t *testing.T) {
	s := newTestStore(t, Options{})
	for _, cmd := range [][]byte{nil, {1}, {2, 1}, {1, 99}, {1, byte(KindPut), 0xff, 0xff}, {1, byte(KindTxn), 0x12, 0x05}} {
		_, err := s.do(cmd)
		if !errors.Is(err, ErrBadCommand) {
			t.Errorf("%x: %v", cmd, err)
		}
	}
	if s.Rev() != 1 || s.AppliedIndex() != 6 {
		t.Fatalf("rev %d index %d", s.Rev(), s.AppliedIndex())
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(EncodePut(&pb.PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: 3}))
	f.Add(EncodeTxn(&pb.TxnRequest{Compare: []*pb.Compare{compareOf("a", pb.Compare_VALUE, pb.Compare_EQUAL, 0, "1")},
		Success: []*pb.RequestOp{opPut("a", "2"), opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("b", "c")}})}}))
	f.Add(EncodeDeleteRange(&pb.DeleteRangeRequest{Key: []byte("a"), RangeEnd: []byte{0}}))
	f.Add(EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 1, TTL: 5}))
	f.Add(EncodeLeaseCheckpoint(&pb.LeaseCheckpointRequest{Checkpoints: []*pb.LeaseCheckpoint{{ID: 1, Remaining_TTL: 2}}}))
	f.Add(EncodeCompact(&pb.CompactionRequest{Revision: 2}))
	f.Add(EncodeAlarm(&pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: 7, Alarm: pb.AlarmType_NOSPACE}))
	f.Fuzz(func(t *testing.T, cmd []byte) {
		_, _, _ = DecodeCommand(cmd)
		s := New(Options{})
		defer s.Close()
		s.Apply(1, EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: 1, TTL: 5}))
		s.Apply(2, EncodePut(&pb.PutRequest{Key: []byte("a"), Value: []byte("1"), Lease: 1}))
		res := s.Apply(3, cmd)
		if _, _, err := DecodeResult(res); errors.Is(err, ErrBadResult) {
			t.Fatalf("apply returned an undecodable result for %x", cmd)
		}
		_, _ = s.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
	})
}
