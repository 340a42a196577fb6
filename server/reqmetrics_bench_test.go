package server

import (
	"context"
	"testing"

	"google.golang.org/grpc"
)

// BenchmarkUnaryInterceptor is the request metrics' cost on every unary
// gRPC call (a put, a range): the handler does nothing.
func BenchmarkUnaryInterceptor(b *testing.B) {
	m := newRequestMetrics()
	ic := m.unaryInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/etcdserverpb.KV/Put"}
	h := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ic(ctx, nil, info, h)
		}
	})
}

// BenchmarkUnaryBaseline is the same call without the interceptor, for
// comparison on a noisy machine.
func BenchmarkUnaryBaseline(b *testing.B) {
	h := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h(ctx, nil)
	}
}
