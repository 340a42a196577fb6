package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/concord-db/concord/internal/tlsconfig"
)

// TLSNetwork is a Network that speaks TLS on the peer port, for the raft
// transport and the internal RPC alike. Server is used for accepted
// connections (with client certificate verification, a member that is not
// signed by the peer CA cannot even open a connection); Client for dialed
// ones, whose ServerName is set to the dialed host so that the peer's
// certificate must name its address.
type TLSNetwork struct {
	Server *tls.Config
	Client *tls.Config
	// Base carries the connections; default TCPNetwork.
	Base Network
}

func (n *TLSNetwork) base() Network {
	if n.Base == nil {
		return TCPNetwork{}
	}
	return n.Base
}

// Listen implements Network.
func (n *TLSNetwork) Listen(addr string) (net.Listener, error) {
	ln, err := n.base().Listen(addr)
	if err != nil {
		return nil, err
	}
	return tls.NewListener(ln, n.Server), nil
}

// Dial implements Network: the connection is returned after a completed
// handshake, so that a peer that is not trusted fails here, with the
// reason, rather than on a later read.
func (n *TLSNetwork) Dial(ctx context.Context, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial peer %s: %w", addr, err)
	}
	raw, err := n.base().Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	cfg := n.Client.Clone()
	cfg.ServerName = host
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("dial peer %s: TLS handshake: %w", addr, err)
	}
	return conn, nil
}

// NewTLSNetwork builds the peer network of a member from its peer TLS
// settings (etcd's --peer-* flags): the same certificate serves and dials,
// and the peer CA verifies the other side both ways (clients only with
// ClientCertAuth, as etcd's --peer-client-cert-auth).
func NewTLSNetwork(c tlsconfig.Config) (*TLSNetwork, error) {
	srv, err := c.ServerConfig()
	if err != nil {
		return nil, fmt.Errorf("peer TLS: %w", err)
	}
	cli, err := c.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("peer TLS: %w", err)
	}
	return &TLSNetwork{Server: srv, Client: cli}, nil
}
