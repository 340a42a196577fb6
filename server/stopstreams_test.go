package server

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// TestShutdownEndsStreams checks that Shutdown does not wait its whole
// timeout for streams that never end on their own: a bidirectional stream
// blocked reading the client (as etcd's Watch and LeaseKeepAlive are) and a
// server stream waiting on its context (the gRPC health Watch, as the
// resource WatchList) both end at once with Unavailable "server stopped",
// which clients take as "try another member".
func TestShutdownEndsStreams(t *testing.T) {
	s := newTestServer(t, newFakeNode())
	s.SetServing("", true)
	// A session stream: the handler reads until the client stops.
	s.GRPC().RegisterService(&grpc.ServiceDesc{ServiceName: "test.Sessions", HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Session", ServerStreams: true, ClientStreams: true,
			Handler: func(_ any, ss grpc.ServerStream) error {
				for {
					var m emptypb.Empty
					if err := ss.RecvMsg(&m); err != nil {
						return err
					}
					if err := ss.SendMsg(&m); err != nil {
						return err
					}
				}
			}}}}, struct{}{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	session, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Sessions/Session")
	if err != nil {
		t.Fatal(err)
	}
	if err := session.SendMsg(&emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := session.RecvMsg(&emptypb.Empty{}); err != nil {
		t.Fatalf("the session's echo: %v", err)
	}
	watch, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health watch: %v %v", r, err)
	}

	start := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Shutdown took %s: it waited for the streams instead of ending them", took)
	}
	if err := session.RecvMsg(&emptypb.Empty{}); status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "etcdserver: server stopped" {
		t.Errorf("the session stream ended with %v, want Unavailable etcdserver: server stopped", err)
	}
	for {
		r, err := watch.Recv()
		if err == nil {
			continue // NOT_SERVING, sent as the server shuts down
		}
		if status.Code(err) != codes.Unavailable {
			t.Errorf("the health watch ended with %v (last %v), want Unavailable", err, r)
		}
		break
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
