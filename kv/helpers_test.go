package kv

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

type testStore struct {
	*Store
	t   testing.TB
	idx uint64
}

func newTestStore(t testing.TB, opts Options) *testStore {
	t.Helper()
	s := &testStore{Store: New(opts), t: t}
	t.Cleanup(func() { s.Close() })
	return s
}

// do applies cmd and decodes the result.
func (s *testStore) do(cmd []byte) (Message, error) {
	s.idx++
	_, m, err := DecodeResult(s.Apply(s.idx, cmd))
	return m, err
}

func (s *testStore) must(cmd []byte) Message {
	s.t.Helper()
	m, err := s.do(cmd)
	if err != nil {
		s.t.Fatalf("apply: %v", err)
	}
	return m
}

func (s *testStore) put(k, v string) *pb.PutResponse {
	s.t.Helper()
	return s.must(EncodePut(&pb.PutRequest{Key: []byte(k), Value: []byte(v)})).(*pb.PutResponse)
}

func (s *testStore) putLease(k, v string, lease int64) *pb.PutResponse {
	s.t.Helper()
	return s.must(EncodePut(&pb.PutRequest{Key: []byte(k), Value: []byte(v), Lease: lease})).(*pb.PutResponse)
}

func (s *testStore) del(k, end string) *pb.DeleteRangeResponse {
	s.t.Helper()
	return s.must(EncodeDeleteRange(&pb.DeleteRangeRequest{Key: []byte(k), RangeEnd: bytesOrNil(end)})).(*pb.DeleteRangeResponse)
}

func (s *testStore) get(k string) *mvccpb.KeyValue {
	s.t.Helper()
	r, err := s.Range(&pb.RangeRequest{Key: []byte(k)})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(r.Kvs) == 0 {
		return nil
	}
	return r.Kvs[0]
}

func (s *testStore) compact(rev int64) error {
	_, err := s.do(EncodeCompact(&pb.CompactionRequest{Revision: rev}))
	return err
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// kvsString renders kvs compactly for comparisons.
func kvsString(kvs []*mvccpb.KeyValue) string {
	out := ""
	for _, kv := range kvs {
		out += fmt.Sprintf("%s=%s(c%d,m%d,v%d,l%d) ", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease)
	}
	return out
}

func keysOf(kvs []*mvccpb.KeyValue) string {
	out := ""
	for _, kv := range kvs {
		out += string(kv.Key) + " "
	}
	return out
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

type pbKV = mvccpb.KeyValue

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
