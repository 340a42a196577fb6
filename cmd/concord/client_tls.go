package main

import (
	"crypto/tls"
	"net/http"
	"strings"

	"github.com/concord-db/concord/internal/tlsconfig"
	"github.com/spf13/cobra"
)

// clientTLSOptions are the TLS flags of the client commands, named as
// etcdctl names them (and CONCORD_CACERT, CONCORD_CERT, CONCORD_KEY, ...
// through the environment like every flag).
type clientTLSOptions struct {
	cfg tlsconfig.Config
}

func (o *clientTLSOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.cfg.TrustedCAFile, "cacert", "", "verify the server's certificate with this CA bundle (PEM); turns TLS on")
	f.StringVar(&o.cfg.CertFile, "cert", "", "client certificate (PEM) to present; turns TLS on")
	f.StringVar(&o.cfg.KeyFile, "key", "", "private key (PEM) of --cert")
	f.BoolVar(&o.cfg.InsecureSkipVerify, "insecure-skip-tls-verify", false, "use TLS but accept any server certificate (testing only)")
}

// enabled reports whether TLS is asked for by flags or by an https:// endpoint.
func (o *clientTLSOptions) enabled(endpoints []string) bool {
	if o.cfg.ClientEnabled() {
		return true
	}
	for _, ep := range endpoints {
		if strings.HasPrefix(strings.TrimSpace(ep), "https://") {
			return true
		}
	}
	return false
}

// config is the client's tls.Config, or nil for plain connections.
func (o *clientTLSOptions) config(endpoints []string) (*tls.Config, error) {
	if !o.enabled(endpoints) {
		return nil, nil
	}
	cfg, err := o.cfg.ClientConfig()
	if err != nil {
		return nil, usagef("--cacert/--cert/--key: %v", err)
	}
	return cfg, nil
}

// httpEndpoints gives endpoints without a scheme the https:// one when TLS
// is on, so that baseURL does not fall back to http://.
func (o *clientTLSOptions) httpEndpoints(endpoints []string) []string {
	if !o.enabled(endpoints) {
		return endpoints
	}
	out := make([]string, len(endpoints))
	for i, ep := range endpoints {
		ep = strings.TrimSpace(ep)
		if !strings.Contains(ep, "://") {
			ep = "https://" + ep
		}
		out[i] = ep
	}
	return out
}

// httpTransport is the REST client's transport with cfg (nil: plain).
func httpTransport(cfg *tls.Config) http.RoundTripper {
	if cfg == nil {
		return http.DefaultTransport
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return tr
}
