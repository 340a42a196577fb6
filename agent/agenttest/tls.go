package agenttest

import (
	"crypto/tls"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/internal/tlsconfig"
	"github.com/concord-db/concord/internal/tlsconfig/tlstest"
)

// TLSFiles are the certificates of a cluster started with Options.TLS:
// one CA signs the members' client-port and peer certificates and a
// client certificate (CN "root").
type TLSFiles struct {
	CA     *tlstest.CA
	Server tlstest.Cert
	Peer   tlstest.Cert
	Client tlstest.Cert
}

func newTLSFiles(c *Cluster) *TLSFiles {
	ca := tlstest.NewCA(c.t, c.t.TempDir(), "cluster-ca")
	return &TLSFiles{
		CA:     ca,
		Server: ca.Local(c.t, "server", "concord"),
		Peer:   ca.Local(c.t, "peer", "concord-peer"),
		Client: ca.Issue(c.t, "client", "root"),
	}
}

// configureTLS turns on TLS with client certificate authentication on
// both ports of a member.
func (f *TLSFiles) configureTLS(cfg *agent.Config) {
	cfg.ClientTLS = tlsconfig.Config{CertFile: f.Server.CertFile, KeyFile: f.Server.KeyFile,
		TrustedCAFile: f.CA.CertFile, ClientCertAuth: true}
	cfg.PeerTLS = tlsconfig.Config{CertFile: f.Peer.CertFile, KeyFile: f.Peer.KeyFile,
		TrustedCAFile: f.CA.CertFile, ClientCertAuth: true}
}

// ClientTLS is the configuration of a client of the cluster's CA, with
// the client certificate, or nil if the cluster is plain.
func (c *Cluster) ClientTLS() *tls.Config {
	c.t.Helper()
	if c.TLS == nil {
		return nil
	}
	cfg, err := tlsconfig.Config{CertFile: c.TLS.Client.CertFile, KeyFile: c.TLS.Client.KeyFile,
		TrustedCAFile: c.TLS.CA.CertFile}.ClientConfig()
	if err != nil {
		c.t.Fatalf("client TLS: %v", err)
	}
	return cfg
}
