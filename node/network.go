package node

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// TCPNetwork is the default Network: plain TCP.
type TCPNetwork struct{}

// Listen implements Network.
func (TCPNetwork) Listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// Dial implements Network.
func (TCPNetwork) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// The first byte a peer writes on a new connection says which protocol follows.
const (
	protoRaft byte = 'R'
	protoRPC  byte = 'C'
)

// peerMux splits one peer listener into a raft listener and an RPC listener
// by the first byte of each connection.
type peerMux struct {
	ln   net.Listener
	raft *chanListener
	rpc  *chanListener
}

func newPeerMux(ln net.Listener) *peerMux {
	m := &peerMux{ln: ln, raft: newChanListener(ln.Addr()), rpc: newChanListener(ln.Addr())}
	go m.serve()
	return m
}

func (m *peerMux) serve() {
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			m.raft.close()
			m.rpc.close()
			return
		}
		go m.route(conn)
	}
}

func (m *peerMux) route(conn net.Conn) {
	var b [1]byte
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(b[:]); err != nil {
		conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	switch b[0] {
	case protoRaft:
		m.raft.deliver(conn)
	case protoRPC:
		m.rpc.deliver(conn)
	default:
		conn.Close()
	}
}

func (m *peerMux) Close() error { return m.ln.Close() }

// chanListener is a net.Listener fed by peerMux.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) close() { l.once.Do(func() { close(l.done) }) }

func (l *chanListener) Close() error { l.close(); return nil }

func (l *chanListener) Addr() net.Addr { return l.addr }

// dialProto dials a peer and announces the protocol.
func dialProto(ctx context.Context, nw Network, addr string, proto byte) (net.Conn, error) {
	conn, err := nw.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetWriteDeadline(dl)
	}
	if _, err := conn.Write([]byte{proto}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// raftStream is raft's StreamLayer over the peer mux.
type raftStream struct {
	*chanListener
	nw        Network
	advertise net.Addr
}

func (s *raftStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return dialProto(ctx, s.nw, string(addr), protoRaft)
}

func (s *raftStream) Addr() net.Addr { return s.advertise }

// stringAddr is a net.Addr for an advertised host:port.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }
