package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/tlsconfig/tlstest"
)

// handshake dials addr with TLS (the CA, a client certificate, at most
// maxVersion, only suites if given) and returns the handshake's error.
func handshake(t *testing.T, addr, caFile string, client tlstest.Cert, maxVersion uint16, suites []uint16) error {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(client.CertFile, client.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(addr)
	cfg := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: host,
		MinVersion: tls.VersionTLS12, MaxVersion: maxVersion, CipherSuites: suites}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A TLS 1.3 server checks the client's certificate after the client's
	// Finished: read to learn whether it was refused.
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = conn.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return nil
	}
	return err
}

// TestTLSMinVersionAndCipherSuites runs the real binary with
// --tls-min-version TLS1.3 (a client offering only TLS 1.2 is refused on
// the client and the peer port, one offering 1.3 is served) and with
// --cipher-suites (a TLS 1.2 client offering only a suite not in the list
// is refused, one offering a listed suite is served).
func TestTLSMinVersionAndCipherSuites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "ca")
	server := ca.Local(t, "server", "concord")
	peer := ca.Local(t, "peer", "concord-peer")
	client := ca.Issue(t, "client", "root")
	start := func(id string, extra ...string) *agent {
		a := newAgent(t, id)
		a.start(append(append(a.nodeArgs(), "--bootstrap", "--cert-file", server.CertFile, "--key-file", server.KeyFile,
			"--trusted-ca-file", ca.CertFile, "--client-cert-auth", "--peer-cert-file", peer.CertFile,
			"--peer-key-file", peer.KeyFile, "--peer-trusted-ca-file", ca.CertFile, "--peer-client-cert-auth"), extra...)...)
		waitFor(t, 30*time.Second, id+" serving TLS", func() error {
			return handshake(t, a.clientAddr, ca.CertFile, client, tls.VersionTLS13, nil)
		})
		return a
	}
	isVersionRefusal := func(err error) bool {
		return err != nil && (strings.Contains(err.Error(), "protocol version") || strings.Contains(err.Error(), "version"))
	}

	a := start("v13", "--tls-min-version", "TLS1.3")
	for _, port := range []string{a.clientAddr, a.peerAddr} {
		if err := handshake(t, port, ca.CertFile, peerOrClient(port, a, client, peer), tls.VersionTLS12, nil); !isVersionRefusal(err) {
			t.Errorf("TLS 1.2 client on %s with --tls-min-version TLS1.3: %v, want a protocol version refusal", port, err)
		}
		if err := handshake(t, port, ca.CertFile, peerOrClient(port, a, client, peer), tls.VersionTLS13, nil); err != nil {
			t.Errorf("TLS 1.3 client on %s: %v", port, err)
		}
	}

	b := start("suites", "--cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
	for _, port := range []string{b.clientAddr, b.peerAddr} {
		cert := peerOrClient(port, b, client, peer)
		if err := handshake(t, port, ca.CertFile, cert, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}); err == nil {
			t.Errorf("TLS 1.2 client on %s offering only a suite not in --cipher-suites was served", port)
		}
		if err := handshake(t, port, ca.CertFile, cert, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}); err != nil {
			t.Errorf("TLS 1.2 client on %s offering the listed suite: %v", port, err)
		}
	}
}

// peerOrClient is the certificate to present on port: the peer
// certificate on a member's peer port, else the client's.
func peerOrClient(port string, a *agent, client, peer tlstest.Cert) tlstest.Cert {
	if port == a.peerAddr {
		return peer
	}
	return client
}
