package agent

import (
	"net"
	"net/http"
	"strings"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/server"
	"google.golang.org/grpc"
)

// secure applies cfg's TLS settings: the client listener is wrapped, the
// advertised client address becomes an https:// URL (what etcd's
// MemberList, GET /v1/members and status show), and the peer network is
// replaced by a TLS one. On error ln is closed.
func secure(cfg *Config, ln net.Listener) (net.Listener, error) {
	if cfg.PeerTLS.ServerEnabled() {
		nw, err := node.NewTLSNetwork(cfg.PeerTLS)
		if err != nil {
			ln.Close()
			return nil, err
		}
		cfg.Node.Network = nw
	}
	if !cfg.ClientTLS.ServerEnabled() {
		return ln, nil
	}
	if !strings.Contains(cfg.AdvertiseClientAddr, "://") {
		cfg.AdvertiseClientAddr = "https://" + cfg.AdvertiseClientAddr
	}
	tln, err := server.TLSListener(ln, cfg.ClientTLS)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if cfg.Snapshot.Client == nil {
		// A follower forwards a restore to the leader's TLS client port,
		// presenting its own certificate (for --client-cert-auth).
		tc, err := cfg.ClientTLS.ClientConfig()
		if err != nil {
			tln.Close()
			return nil, err
		}
		cfg.Snapshot.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
	}
	return tln, nil
}

// tlsCredentials lets gRPC handlers of a TLS client port see the client's
// certificate (credentials.TLSInfo through peer.FromContext).
func tlsCredentials(cfg Config) grpc.ServerOption {
	if !cfg.ClientTLS.ServerEnabled() {
		return grpc.EmptyServerOption{}
	}
	return server.TLSCredentials()
}
