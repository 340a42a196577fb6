package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ServerConfig returns the tls.Config of a port serving with c. Every
// handshake takes the certificate and client CA pool as currently on disk.
// The result must be used as is: clones of it serve what it serves.
func (c Config) ServerConfig() (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f, err := newFiles(c.CertFile, c.KeyFile, c.TrustedCAFile)
	if err != nil {
		return nil, err
	}
	base := c.base()
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cert, pool := f.current()
		cfg := base.Clone()
		cfg.GetConfigForClient = nil
		cfg.Certificates = []tls.Certificate{*cert}
		cfg.ClientCAs = pool
		switch {
		case c.ClientCertAuth:
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		case pool != nil:
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
		return cfg, nil
	}
	// tls.NewListener wants a certificate source on the outer config too;
	// the per-handshake config above is what is used.
	base.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		cert, _ := f.current()
		return cert, nil
	}
	return base, nil
}

// ClientConfig returns the tls.Config of a client dialing with c. The
// server's chain is verified against the CA pool as currently on disk (the
// system roots if there is no CA file) and against ServerName, which the
// caller (or grpc's credentials) sets to the dialed host.
func (c Config) ClientConfig() (*tls.Config, error) {
	if err := c.ValidateClient(); err != nil {
		return nil, err
	}
	f, err := newFiles(c.CertFile, c.KeyFile, c.TrustedCAFile)
	if err != nil {
		return nil, err
	}
	cfg := c.base()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		cert, _ := f.current()
		if cert == nil {
			return &tls.Certificate{}, nil
		}
		return cert, nil
	}
	// Verification is done here rather than by crypto/tls so that the CA
	// pool can change between handshakes.
	cfg.InsecureSkipVerify = true
	if !c.InsecureSkipVerify {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			_, pool := f.current()
			return verifyServer(cs, pool)
		}
	}
	return cfg, nil
}

func verifyServer(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: server presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName:       cs.ServerName,
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("tls: verify server certificate: %w", err)
	}
	return nil
}

// base carries the settings shared by both sides; Validate has run.
func (c Config) base() *tls.Config {
	v, _ := ParseMinVersion(c.MinVersion)
	suites, _ := ParseCipherSuites(c.CipherSuites)
	return &tls.Config{MinVersion: v, CipherSuites: suites, NextProtos: c.NextProtos}
}
