package node

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// The internal RPC between nodes runs gRPC on the peer port (after the
// protoRPC byte) with wireCodec, so no generated code is needed.

type wireCodec struct{}

func (wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(wireMessage)
	if !ok {
		return nil, fmt.Errorf("peer rpc: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(m.marshal())}, nil
}

func (wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(wireMessage)
	if !ok {
		return fmt.Errorf("peer rpc: cannot unmarshal into %T", v)
	}
	return m.unmarshal(data.Materialize())
}

func (wireCodec) Name() string { return "concord-peer" }

var _ encoding.CodecV2 = wireCodec{}

const peerService = "concord.node.Peer"

// unary adapts a typed handler to grpc.MethodDesc.
func unary[Req any, PReq interface {
	*Req
	wireMessage
}, Resp wireMessage](name string, fn func(*Node, context.Context, PReq) Resp) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, decode func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := PReq(new(Req))
			if err := decode(req); err != nil {
				return nil, err
			}
			return fn(srv.(*Node), ctx, req), nil
		},
	}
}

var peerServiceDesc = grpc.ServiceDesc{
	ServiceName: peerService,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		unary("ReadIndex", (*Node).handleReadIndex),
		unary("Member", (*Node).handleMember),
		unary("Status", (*Node).handleStatus),
		unary("MembershipCheck", (*Node).handleMembershipCheck),
		unary("LeaderCall", (*Node).handleLeaderCall),
	},
	Streams: []grpc.StreamDesc{
		{StreamName: forwardStreamDesc.StreamName, Handler: func(srv any, s grpc.ServerStream) error { return srv.(*Node).serveForward(s) }, ServerStreams: true, ClientStreams: true},
	},
}

func newPeerServer(n *Node, ln net.Listener) *grpc.Server {
	s := grpc.NewServer(grpc.ForceServerCodecV2(wireCodec{}), grpc.MaxRecvMsgSize(64<<20))
	s.RegisterService(&peerServiceDesc, n)
	go s.Serve(ln)
	return s
}

// peerClients keeps one gRPC connection per peer address.
type peerClients struct {
	nw    Network
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newPeerClients(nw Network) *peerClients {
	return &peerClients{nw: nw, conns: map[string]*grpc.ClientConn{}}
}

func (p *peerClients) get(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return nil, ErrShutdown
	}
	if cc := p.conns[addr]; cc != nil {
		return cc, nil
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return dialProto(ctx, p.nw, a, protoRPC)
		}),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(wireCodec{}), grpc.MaxCallRecvMsgSize(64<<20)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", addr, err)
	}
	p.conns[addr] = cc
	return cc, nil
}

// call invokes method on the peer at addr.
func (p *peerClients) call(ctx context.Context, addr, method string, req, resp wireMessage) error {
	cc, err := p.get(addr)
	if err != nil {
		return err
	}
	return cc.Invoke(ctx, "/"+peerService+"/"+method, req, resp)
}

func (p *peerClients) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cc := range p.conns {
		cc.Close()
	}
	p.conns = nil
}
