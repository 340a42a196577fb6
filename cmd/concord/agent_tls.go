package main

import (
	"errors"
	"fmt"

	"github.com/concord-db/concord/internal/tlsconfig"
	"github.com/spf13/pflag"
)

// agentTLSOptions are the agent's TLS flags, named as etcd names them.
type agentTLSOptions struct {
	client       tlsconfig.Config
	peer         tlsconfig.Config
	minVersion   string
	cipherSuites []string
}

func (o *agentTLSOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.client.CertFile, "cert-file", "", "client port: TLS certificate (PEM); turns TLS on for the client port")
	f.StringVar(&o.client.KeyFile, "key-file", "", "client port: TLS private key (PEM)")
	f.StringVar(&o.client.TrustedCAFile, "trusted-ca-file", "", "client port: CA bundle (PEM) that signs client certificates")
	f.BoolVar(&o.client.ClientCertAuth, "client-cert-auth", false, "client port: require a client certificate signed by --trusted-ca-file")
	f.StringVar(&o.peer.CertFile, "peer-cert-file", "", "peer port: TLS certificate (PEM), used to serve and to dial; turns TLS on for the peer port")
	f.StringVar(&o.peer.KeyFile, "peer-key-file", "", "peer port: TLS private key (PEM)")
	f.StringVar(&o.peer.TrustedCAFile, "peer-trusted-ca-file", "", "peer port: CA bundle (PEM) that signs the members' peer certificates")
	f.BoolVar(&o.peer.ClientCertAuth, "peer-client-cert-auth", false, "peer port: require members dialing in to present a certificate signed by --peer-trusted-ca-file")
	f.StringVar(&o.minVersion, "tls-min-version", "TLS1.2", "lowest TLS version accepted on both ports: TLS1.2 or TLS1.3")
	f.StringSliceVar(&o.cipherSuites, "cipher-suites", nil, "TLS 1.2 cipher suites allowed on both ports, Go's names, comma-separated (default: Go's)")
}

// configs checks the flags and returns the client port's and the peer
// port's settings (zero when that port stays plain).
func (o *agentTLSOptions) configs() (client, peer tlsconfig.Config, err error) {
	var errs []error
	check := func(name string, c *tlsconfig.Config, prefix string) {
		c.MinVersion, c.CipherSuites = o.minVersion, o.cipherSuites
		if !c.ServerEnabled() {
			if c.TrustedCAFile != "" || c.ClientCertAuth {
				errs = append(errs, fmt.Errorf("%s TLS: --%strusted-ca-file and --%sclient-cert-auth need --%scert-file and --%skey-file", name, prefix, prefix, prefix, prefix))
			}
			return
		}
		if e := c.Validate(); e != nil {
			errs = append(errs, fmt.Errorf("%s TLS (--%scert-file ...): %w", name, prefix, e))
		}
	}
	check("client port", &o.client, "")
	check("peer port", &o.peer, "peer-")
	if !o.client.ServerEnabled() && !o.peer.ServerEnabled() {
		if _, e := tlsconfig.ParseMinVersion(o.minVersion); e != nil {
			errs = append(errs, fmt.Errorf("--tls-min-version: %w", e))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return client, peer, &usageError{err}
	}
	return o.client, o.peer, nil
}
