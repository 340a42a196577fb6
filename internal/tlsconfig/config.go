// Package tlsconfig builds the crypto/tls configurations of concord's client
// and peer ports, and of its clients, from certificate files named as etcd
// names them. Certificates, keys and CA bundles are re-read from disk when
// they change, so that they can be rotated without a restart.
package tlsconfig

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Config is one side's TLS settings: a port's (server and, for peers,
// dialer) or a client's.
type Config struct {
	// CertFile and KeyFile are the PEM certificate chain and private key
	// presented to the other side. Required for a server; optional for a
	// client (then it presents no certificate).
	CertFile string
	KeyFile  string
	// TrustedCAFile is a PEM bundle of the CAs that sign the other side's
	// certificates. Empty: the system's roots when dialing; when serving,
	// client certificates cannot be verified (ClientCertAuth needs it).
	TrustedCAFile string
	// ClientCertAuth, when serving, requires every client to present a
	// certificate signed by TrustedCAFile (etcd's --client-cert-auth).
	// Without it a certificate that is offered is still verified.
	ClientCertAuth bool
	// InsecureSkipVerify, when dialing, accepts any server certificate.
	InsecureSkipVerify bool
	// MinVersion is "TLS1.2" (the default) or "TLS1.3".
	MinVersion string
	// CipherSuites are Go's names of the TLS 1.2 suites allowed (etcd's
	// --cipher-suites). Default: Go's secure defaults.
	CipherSuites []string
	// NextProtos are the ALPN protocols a server offers, in its order of
	// preference. The serving code sets them; they are not a user setting.
	NextProtos []string
}

// ErrInvalid marks a configuration that cannot be used.
var ErrInvalid = errors.New("invalid TLS configuration")

// ServerEnabled reports whether the settings ask for a TLS server.
func (c Config) ServerEnabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// ClientEnabled reports whether the settings ask a client to use TLS.
func (c Config) ClientEnabled() bool {
	return c.CertFile != "" || c.KeyFile != "" || c.TrustedCAFile != "" || c.InsecureSkipVerify
}

// Validate checks the settings of a server (or a peer, which is both).
func (c Config) Validate() error {
	if err := c.validateCommon(); err != nil {
		return err
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return fmt.Errorf("%w: a certificate file and a key file are both required", ErrInvalid)
	}
	if c.ClientCertAuth && c.TrustedCAFile == "" {
		return fmt.Errorf("%w: client certificate authentication needs a trusted CA file", ErrInvalid)
	}
	return nil
}

// ValidateClient checks the settings of a client.
func (c Config) ValidateClient() error {
	if err := c.validateCommon(); err != nil {
		return err
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("%w: a client certificate needs its key, and a key its certificate", ErrInvalid)
	}
	return nil
}

func (c Config) validateCommon() error {
	v, err := ParseMinVersion(c.MinVersion)
	if err != nil {
		return err
	}
	if _, err := ParseCipherSuites(c.CipherSuites); err != nil {
		return err
	}
	if v == tls.VersionTLS13 && len(c.CipherSuites) > 0 {
		return fmt.Errorf("%w: cipher suites cannot be chosen with TLS 1.3 as the minimum version", ErrInvalid)
	}
	return nil
}

// ParseMinVersion maps etcd's --tls-min-version values to crypto/tls's.
// Empty means TLS 1.2.
func ParseMinVersion(s string) (uint16, error) {
	switch s {
	case "", "TLS1.2":
		return tls.VersionTLS12, nil
	case "TLS1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%w: unknown TLS version %q (want TLS1.2 or TLS1.3)", ErrInvalid, s)
}

// ParseCipherSuites maps Go's cipher suite names, as etcd's --cipher-suites
// takes them, to their IDs. Empty means Go's defaults (nil).
func ParseCipherSuites(names []string) ([]uint16, error) {
	if len(names) == 0 {
		return nil, nil
	}
	known := map[string]uint16{}
	for _, s := range tls.CipherSuites() {
		known[s.Name] = s.ID
	}
	for _, s := range tls.InsecureCipherSuites() {
		known[s.Name] = s.ID
	}
	ids := make([]uint16, 0, len(names))
	for _, n := range names {
		id, ok := known[strings.TrimSpace(n)]
		if !ok {
			valid := make([]string, 0, len(known))
			for k := range known {
				valid = append(valid, k)
			}
			sort.Strings(valid)
			return nil, fmt.Errorf("%w: unknown cipher suite %q (known: %s)", ErrInvalid, n, strings.Join(valid, ", "))
		}
		ids = append(ids, id)
	}
	return ids, nil
}
