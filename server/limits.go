package server

import (
	"crypto/tls"
	"net"
	"time"
)

// DefaultClientSendTimeout is Config.ClientSendTimeout's default.
const DefaultClientSendTimeout = time.Minute

// writeGuardListener gives every HTTP connection it accepts a write
// deadline of timeout from the start of each write: a client that stops
// reading (a REST or resource NDJSON watch it does not consume, a
// snapshot download it stalls) has its connection closed once the socket
// buffer is full and a write has waited that long, which ends the handler
// and releases what it held. A client that reads slowly but keeps reading
// is never dropped.
type writeGuardListener struct {
	net.Listener
	timeout time.Duration
}

func (l writeGuardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return guardWrites(c, l.timeout), nil
}

// guardWrites wraps c so that each Write must finish within timeout
// (timeout <= 0: c itself). A TLS connection keeps its TLS state visible
// to handlers (withConnTLS).
func guardWrites(c net.Conn, timeout time.Duration) net.Conn {
	if timeout <= 0 {
		return c
	}
	g := &writeGuardConn{Conn: c, timeout: timeout}
	if tc, ok := c.(tlsStater); ok { // *tls.Conn or the mux's tlsPrefixConn
		return &tlsWriteGuardConn{writeGuardConn: g, tls: tc.ConnectionState}
	}
	return g
}

type writeGuardConn struct {
	net.Conn
	timeout time.Duration
}

func (c *writeGuardConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// tlsWriteGuardConn is a writeGuardConn over a TLS connection.
type tlsWriteGuardConn struct {
	*writeGuardConn
	tls func() tls.ConnectionState
}

func (c *tlsWriteGuardConn) ConnectionState() tls.ConnectionState { return c.tls() }
