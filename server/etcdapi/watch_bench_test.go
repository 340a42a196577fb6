package etcdapi

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/concord-db/concord/kv"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto"
)

// benchNode is the part of Node response headers read.
type benchNode struct{ Node }

func (benchNode) ID() string        { return "n1" }
func (benchNode) ClusterID() uint64 { return 7 }
func (benchNode) Term() uint64      { return 3 }

// benchWatchServer is a Watch stream whose client creates n watchers and
// then only reads. Send encodes with gRPC's proto codec, as the real
// transport does, and counts.
type benchWatchServer struct {
	grpc.ServerStream
	ctx     context.Context
	creates chan *pb.WatchRequest
	codec   encoding.CodecV2
	sent    atomic.Int64
	wake    chan struct{}
	want    atomic.Int64 // wake once sent reaches it
}

func (f *benchWatchServer) Context() context.Context { return f.ctx }

func (f *benchWatchServer) Recv() (*pb.WatchRequest, error) {
	select {
	case r := <-f.creates:
		return r, nil
	case <-f.ctx.Done():
		return nil, f.ctx.Err()
	}
}

func (f *benchWatchServer) Send(r *pb.WatchResponse) error { return f.SendMsg(r) }

func (f *benchWatchServer) SendMsg(m any) error {
	data, err := f.codec.Marshal(m)
	if err != nil {
		return err
	}
	data.Free()
	if n := f.sent.Add(1); n == f.want.Load() {
		f.wake <- struct{}{}
	}
	return nil
}

// BenchmarkWatchStreamFanout measures the server side of a watch fan-out
// without the network: one put, delivered to n watchers of one Watch
// stream and encoded for the wire, per op.
func BenchmarkWatchStreamFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("watchers=%d", n), func(b *testing.B) {
			s := kv.New(kv.Options{})
			defer s.Close()
			a := &API{node: benchNode{}, store: s, limits: Limits{MaxRequestBytes: DefaultMaxRequestBytes}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv := &benchWatchServer{ctx: ctx, creates: make(chan *pb.WatchRequest, n), codec: encoding.GetCodecV2("proto"),
				wake: make(chan struct{}, 1)}
			srv.want.Store(int64(n))
			for range n {
				srv.creates <- &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{
					Key: []byte("/p/"), RangeEnd: []byte("/p0")}}}
			}
			go (&watchService{a: a}).Watch(srv)
			<-srv.wake // every watcher created
			put := kv.EncodePut(&pb.PutRequest{Key: []byte("/p/k"), Value: make([]byte, 256)})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				srv.want.Add(int64(n))
				s.Apply(uint64(i+1), put)
				<-srv.wake
			}
		})
	}
}
