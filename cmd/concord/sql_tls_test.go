package main

import (
	"strings"
	"testing"

	"github.com/concord-db/concord/internal/tlsconfig"
	"github.com/concord-db/concord/internal/tlsconfig/tlstest"
	"github.com/concord-db/concord/server/sqlapi/sqlapitest"
)

// TestSQLOverTLS checks that concord sql uses etcdctl's --cacert, --cert
// and --key against a TLS client port that requires a client certificate,
// and is refused without them.
func TestSQLOverTLS(t *testing.T) {
	ca := tlstest.NewCA(t, t.TempDir(), "ca")
	server := ca.Local(t, "server", "concord")
	client := ca.Local(t, "client", "alice")
	cfg, err := tlsconfig.Config{CertFile: server.CertFile, KeyFile: server.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	srv := sqlapitest.StartTLS(t, cfg)
	tlsFlags := []string{"--cacert", ca.CertFile, "--cert", client.CertFile, "--key", client.KeyFile}
	for _, ep := range []string{srv.Addr, srv.URL} {
		args := append([]string{"sql", "--endpoints", ep, "--mode", "csv", "-e", "SELECT 40 + 2 AS answer"}, tlsFlags...)
		code, out, errs := run(t, "", args...)
		if code != exitOK || out != "answer\n42\n" {
			t.Fatalf("concord sql over TLS to %s: exit %d %q %q", ep, code, out, errs)
		}
	}
	code, _, _ := run(t, "", "sql", "--endpoints", srv.Addr, "--cacert", ca.CertFile, "-e", "SELECT 1")
	if code == exitOK {
		t.Fatal("concord sql without a client certificate was served")
	}
	code, _, errs := run(t, "", "sql", "--endpoints", srv.URL, "-e", "SELECT 1")
	if code == exitOK || !strings.Contains(errs, "certificate") {
		t.Fatalf("concord sql without the CA: exit %d %q, want a certificate error", code, errs)
	}
}
