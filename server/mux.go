package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// http2Preface is what every HTTP/2 client (and so every gRPC client) sends
// first on a cleartext connection.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// connMux splits one listener into a gRPC listener and an HTTP listener by
// sniffing the first bytes of each connection: the HTTP/2 preface goes to
// gRPC, anything else to HTTP/1.1. TLS connections are decrypted first and
// routed by the ALPN protocol they negotiated, if any. Cleartext HTTP/2 with prior knowledge is
// thus served by gRPC only; HTTP clients use HTTP/1.1.
type connMux struct {
	ln     net.Listener
	logger *slog.Logger
	grpc   *subListener
	http   *subListener
}

func newConnMux(ln net.Listener, logger *slog.Logger) *connMux {
	return &connMux{ln: ln, logger: logger, grpc: newSubListener(ln.Addr()), http: newSubListener(ln.Addr())}
}

// serve accepts connections until the listener is closed. Sniffing runs in
// a goroutine per connection so a slow client holds up no one else.
func (m *connMux) serve() error {
	defer m.grpc.close()
	defer m.http.close()
	var delay time.Duration
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		delay = 0
		go m.route(conn)
	}
}

func (m *connMux) route(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(sniffTimeout))
	tc, isTLS := conn.(*tls.Conn)
	if isTLS {
		if err := tc.Handshake(); err != nil {
			m.logger.Info("client TLS handshake failed", "remote", conn.RemoteAddr(), "err", err)
			conn.Close()
			return
		}
		switch tc.ConnectionState().NegotiatedProtocol {
		case "h2":
			_ = conn.SetReadDeadline(time.Time{})
			m.grpc.deliver(tc)
			return
		case "http/1.1":
			_ = conn.SetReadDeadline(time.Time{})
			m.http.deliver(tc)
			return
		}
	}
	isGRPC, prefix, err := sniff(conn)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		m.logger.Debug("client connection closed before its protocol was known", "remote", conn.RemoteAddr(), "err", err)
		conn.Close()
		return
	}
	var pc net.Conn = &prefixConn{Conn: conn, prefix: prefix}
	if isTLS {
		pc = &tlsPrefixConn{prefixConn: pc.(*prefixConn), tls: tc}
	}
	if isGRPC {
		m.grpc.deliver(pc)
	} else {
		m.http.deliver(pc)
	}
}

// sniff reads until the bytes read either are the whole HTTP/2 preface or
// stop matching it, and returns them for replay.
func sniff(conn net.Conn) (isGRPC bool, read []byte, err error) {
	buf := make([]byte, len(http2Preface))
	n := 0
	for n < len(buf) {
		k, err := conn.Read(buf[n:])
		n += k
		if !bytes.HasPrefix([]byte(http2Preface), buf[:n]) {
			return false, buf[:n], nil
		}
		if err != nil {
			return false, buf[:n], err
		}
	}
	return true, buf, nil
}

// Close stops accepting connections.
func (m *connMux) Close() error { return m.ln.Close() }

// prefixConn replays the sniffed bytes before reading from the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// subListener is a net.Listener fed by connMux.
type subListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newSubListener(addr net.Addr) *subListener {
	return &subListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *subListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *subListener) close() { l.once.Do(func() { close(l.done) }) }

func (l *subListener) Close() error { l.close(); return nil }

func (l *subListener) Addr() net.Addr { return l.addr }
