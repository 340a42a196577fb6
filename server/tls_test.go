package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/tlsconfig"
	"github.com/concord-db/concord/internal/tlsconfig/tlstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
)

type tlsFixture struct {
	addr   string
	ca     *tlstest.CA
	other  *tlstest.CA
	server tlstest.Cert
	client tlstest.Cert
	grpcCN chan string
	dir    string
}

// startTLSServer serves a test Server over TLS with client certificate
// authentication. Its HTTP handler answers with the client certificate's
// CN as handlers see it in r.TLS; its gRPC calls report the CN seen through
// peer.FromContext on grpcCN.
func startTLSServer(t *testing.T) *tlsFixture {
	t.Helper()
	dir := t.TempDir()
	f := &tlsFixture{dir: dir, grpcCN: make(chan string, 16)}
	f.ca = tlstest.NewCA(t, dir, "ca")
	f.other = tlstest.NewCA(t, dir, "other-ca")
	f.server = f.ca.Local(t, "server", "server")
	f.client = f.ca.Issue(t, "client", "alice")
	s, err := New(Config{Node: newFakeNode(), GRPCOptions: []grpc.ServerOption{TLSCredentials(),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			cn := "<none>"
			if p, ok := peer.FromContext(ctx); ok {
				if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
					cn = ti.State.PeerCertificates[0].Subject.CommonName
				}
			}
			f.grpcCN <- cn
			return h(ctx, req)
		})}})
	if err != nil {
		t.Fatal(err)
	}
	s.http.Handler = withConnTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			io.WriteString(w, "<no tls>")
			return
		}
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	s.SetServing("", true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	tln, err := TLSListener(ln, tlsconfig.Config{CertFile: f.server.CertFile, KeyFile: f.server.KeyFile,
		TrustedCAFile: f.ca.CertFile, ClientCertAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(tln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return f
}

func clientTLS(t *testing.T, c tlsconfig.Config) *tls.Config {
	t.Helper()
	cfg, err := c.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// httpsGet fetches / with cfg; alpn chooses whether the client offers
// ALPN protocols (a plain Go client offers none).
func httpsGet(cfg *tls.Config, addr, host string, alpn bool) (string, error) {
	cfg = cfg.Clone()
	if alpn {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get("https://" + net.JoinHostPort(host, portOf(addr)) + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

func grpcHealth(cfg *tls.Config, addr string) error {
	creds := insecure.NewCredentials()
	if cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(false))
	return err
}

// TestTLSClientPortAcceptsVerifiedClients checks that HTTP (with and without
// ALPN) and gRPC work over TLS with a certificate from the trusted CA, and
// that handlers see the client's certificate: r.TLS for HTTP, the peer's
// credentials.TLSInfo for gRPC.
func TestTLSClientPortAcceptsVerifiedClients(t *testing.T) {
	f := startTLSServer(t)
	cfg := clientTLS(t, tlsconfig.Config{CertFile: f.client.CertFile, KeyFile: f.client.KeyFile, TrustedCAFile: f.ca.CertFile})
	for _, alpn := range []bool{false, true} {
		got, err := httpsGet(cfg, f.addr, "127.0.0.1", alpn)
		if err != nil || got != "alice" {
			t.Fatalf("GET with alpn=%v: %q %v, want the client CN alice in r.TLS", alpn, got, err)
		}
	}
	if got, err := httpsGet(cfg, f.addr, "localhost", false); err != nil || got != "alice" {
		t.Fatalf("GET by DNS name: %q %v", got, err)
	}
	if err := grpcHealth(cfg, f.addr); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
	if cn := <-f.grpcCN; cn != "alice" {
		t.Fatalf("gRPC handler saw client CN %q, want alice", cn)
	}
}

// TestTLSClientPortRefuses checks that the port refuses, with an error and
// without hanging, clients it must not serve.
func TestTLSClientPortRefuses(t *testing.T) {
	f := startTLSServer(t)
	foreign := f.other.Local(t, "foreign", "mallory")
	cases := []struct {
		name string
		cfg  tlsconfig.Config
		host string
		want string
	}{
		{"no client certificate", tlsconfig.Config{TrustedCAFile: f.ca.CertFile}, "127.0.0.1", "certificate required"},
		{"client certificate from another CA", tlsconfig.Config{CertFile: foreign.CertFile, KeyFile: foreign.KeyFile, TrustedCAFile: f.ca.CertFile}, "127.0.0.1", "unknown certificate authority"},
		{"server not signed by the trusted CA", tlsconfig.Config{CertFile: f.client.CertFile, KeyFile: f.client.KeyFile, TrustedCAFile: f.other.CertFile}, "127.0.0.1", "certificate signed by unknown authority"},
	}
	for _, c := range cases {
		cfg := clientTLS(t, c.cfg)
		if _, err := httpsGet(cfg, f.addr, c.host, false); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: HTTP got %v, want an error with %q", c.name, err, c.want)
		}
		if err := grpcHealth(cfg, f.addr); err == nil {
			t.Errorf("%s: gRPC succeeded", c.name)
		}
	}

	// A wrong server name: the certificate is for 127.0.0.1 and localhost.
	cfg := clientTLS(t, tlsconfig.Config{CertFile: f.client.CertFile, KeyFile: f.client.KeyFile, TrustedCAFile: f.ca.CertFile})
	wrong := cfg.Clone()
	wrong.ServerName = "db.example.com"
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", f.addr, wrong)
	if err == nil {
		conn.Close()
		t.Error("wrong server name: handshake succeeded")
	} else if !strings.Contains(err.Error(), "db.example.com") {
		t.Errorf("wrong server name: %v, want an error naming it", err)
	}

	// Plain HTTP and plain gRPC to the TLS port fail promptly.
	start := time.Now()
	hc := &http.Client{Timeout: 20 * time.Second}
	if resp, err := hc.Get("http://" + f.addr + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP got %s", resp.Status)
		}
	}
	if err := grpcHealth(nil, f.addr); err == nil {
		t.Error("plain gRPC succeeded on the TLS port")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("plain clients took %v to be refused", d)
	}
}

// TestTLSClientPortRotation replaces the server's certificate and key, and
// the trusted CA file, on disk: new handshakes use the new chain without a
// restart.
func TestTLSClientPortRotation(t *testing.T) {
	f := startTLSServer(t)
	oldCfg := clientTLS(t, tlsconfig.Config{CertFile: f.client.CertFile, KeyFile: f.client.KeyFile, TrustedCAFile: f.ca.CertFile})
	if got, err := httpsGet(oldCfg, f.addr, "127.0.0.1", false); err != nil || got != "alice" {
		t.Fatalf("before rotation: %q %v", got, err)
	}
	// The new CA signs the server's new certificate and the clients' new
	// ones; the server trusts it from now on.
	next := tlstest.NewCA(t, t.TempDir(), "next-ca")
	nextServer := next.Local(t, "server", "server")
	nextClient := next.Issue(t, "client", "bob")
	nextServer.CopyTo(t, f.server)
	tlstest.CopyFile(t, next.CertFile, f.ca.CertFile)

	newCfg := clientTLS(t, tlsconfig.Config{CertFile: nextClient.CertFile, KeyFile: nextClient.KeyFile, TrustedCAFile: next.CertFile})
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := httpsGet(newCfg, f.addr, "127.0.0.1", false)
		if err == nil && got == "bob" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new chain not served after rotation: %q %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := grpcHealth(newCfg, f.addr); err != nil {
		t.Fatalf("gRPC with the new chain: %v", err)
	}
	// The old client trusts neither the server's new chain nor is trusted.
	if _, err := httpsGet(oldCfg, f.addr, "127.0.0.1", false); err == nil {
		t.Fatal("a client of the old CA still connects after rotation")
	} else if !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("old client: %v, want an unknown authority error", err)
	}
}
