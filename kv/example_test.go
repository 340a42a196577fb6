package kv_test

import (
	"errors"
	"fmt"

	"github.com/concord-db/concord/kv"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func Example() {
	s := kv.New(kv.Options{})
	defer s.Close()
	var index uint64
	apply := func(cmd []byte) []byte { index++; return s.Apply(index, cmd) }

	put, _ := kv.ResultAs[*pb.PutResponse](apply(kv.EncodePut(&pb.PutRequest{Key: []byte("greeting"), Value: []byte("hello")})))
	fmt.Println("put at revision", put.Header.Revision)

	w := s.Watch(kv.WatchRequest{Key: []byte("greeting"), PrevKV: true})
	defer w.Close()

	txn, _ := kv.ResultAs[*pb.TxnResponse](apply(kv.EncodeTxn(&pb.TxnRequest{
		Compare: []*pb.Compare{{Key: []byte("greeting"), Target: pb.Compare_VALUE, Result: pb.Compare_EQUAL,
			TargetUnion: &pb.Compare_Value{Value: []byte("hello")}}},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("greeting"), Value: []byte("world")}}}},
	})))
	fmt.Println("txn succeeded:", txn.Succeeded, "revision", txn.Header.Revision)

	ev := (<-w.C()).Events[0]
	fmt.Printf("watch: %s %s=%s (was %s)\n", ev.Type, ev.Kv.Key, ev.Kv.Value, ev.PrevKv.Value)

	old, _ := s.Range(&pb.RangeRequest{Key: []byte("greeting"), Revision: 2})
	fmt.Printf("at revision 2: %s\n", old.Kvs[0].Value)

	_, err := kv.ResultAs[*pb.CompactionResponse](apply(kv.EncodeCompact(&pb.CompactionRequest{Revision: 3})))
	fmt.Println("compact:", err)
	_, err = s.Range(&pb.RangeRequest{Key: []byte("greeting"), Revision: 2})
	fmt.Println("read below compaction:", errors.Is(err, kv.ErrCompacted))

	// Output:
	// put at revision 2
	// txn succeeded: true revision 3
	// watch: PUT greeting=world (was hello)
	// at revision 2: hello
	// compact: <nil>
	// read below compaction: true
}
