package agent

import (
	"net"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/server"
)

// secure applies cfg's TLS settings: the client listener is wrapped, and
// the peer network replaced by a TLS one. On error ln is closed.
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
	tln, err := server.TLSListener(ln, cfg.ClientTLS)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return tln, nil
}
