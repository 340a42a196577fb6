package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/concord-db/concord/internal/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// alpnProtocols are offered in the server's order of preference: a client
// that offers both (curl, browsers) gets HTTP/1.1, which the HTTP side
// speaks; gRPC clients offer only h2 and get it.
var alpnProtocols = []string{"http/1.1", "h2"}

// TLSListener wraps a client port listener in TLS as cfg says. Serve then
// splits the decrypted connections between gRPC and HTTP: by the ALPN
// protocol negotiated, or, for clients that negotiate none, by sniffing.
func TLSListener(ln net.Listener, cfg tlsconfig.Config) (net.Listener, error) {
	cfg.NextProtos = alpnProtocols
	tc, err := cfg.ServerConfig()
	if err != nil {
		return nil, fmt.Errorf("client port: %w", err)
	}
	return tls.NewListener(ln, tc), nil
}

// tlsStater is a connection that carries a TLS session: *tls.Conn, or the
// mux's wrapper of one.
type tlsStater interface {
	ConnectionState() tls.ConnectionState
}

// tlsPrefixConn is a prefixConn over a TLS connection that still exposes
// the session, so that handlers can see the client's certificate.
type tlsPrefixConn struct {
	*prefixConn
	tls *tls.Conn
}

func (c *tlsPrefixConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// TLSCredentials is the gRPC server option of a TLS client port (see
// connTLSCredentials): handlers then find the client's certificate
// through peer.FromContext.
func TLSCredentials() grpc.ServerOption { return grpc.Creds(connTLSCredentials{}) }

// connTLSCredentials are the gRPC server's transport credentials: the
// handshake has already happened in the mux, so they only report the TLS
// session (credentials.TLSInfo, reachable through peer.FromContext) of
// connections that have one. Plain connections carry no AuthInfo.
type connTLSCredentials struct{}

func (connTLSCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	ts, ok := conn.(tlsStater)
	if !ok {
		return conn, nil, nil
	}
	return conn, credentials.TLSInfo{
		State:          ts.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}, nil
}

func (connTLSCredentials) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return conn, nil, nil
}

func (connTLSCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "concord-mux"}
}

func (c connTLSCredentials) Clone() credentials.TransportCredentials { return c }

func (connTLSCredentials) OverrideServerName(string) error { return nil }

type connKey struct{}

// connContext is the HTTP server's ConnContext: it keeps the connection
// so that withConnTLS can find its TLS session.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// withConnTLS sets r.TLS for requests on TLS connections the mux wrapped
// (net/http sets it only for a bare *tls.Conn), so that handlers, and auth,
// see the client's verified certificate chain in r.TLS.
func withConnTLS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if ts, ok := r.Context().Value(connKey{}).(tlsStater); ok {
				cs := ts.ConnectionState()
				r.TLS = &cs
			}
		}
		h.ServeHTTP(w, r)
	})
}
