package tlsconfig

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
)

func TestValidateRefusesUnusableSettings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		client bool
		want   string // "" means valid
	}{
		{"server with both files", Config{CertFile: "c", KeyFile: "k"}, false, ""},
		{"server without key", Config{CertFile: "c"}, false, "certificate file and a key file"},
		{"client cert auth without CA", Config{CertFile: "c", KeyFile: "k", ClientCertAuth: true}, false, "trusted CA file"},
		{"unknown min version", Config{CertFile: "c", KeyFile: "k", MinVersion: "TLS1.0"}, false, "unknown TLS version"},
		{"unknown cipher suite", Config{CertFile: "c", KeyFile: "k", CipherSuites: []string{"TLS_NOPE"}}, false, "unknown cipher suite"},
		{"cipher suites with TLS 1.3", Config{CertFile: "c", KeyFile: "k", MinVersion: "TLS1.3",
			CipherSuites: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}}, false, "cannot be chosen with TLS 1.3"},
		{"client with CA only", Config{TrustedCAFile: "ca"}, true, ""},
		{"client cert without key", Config{CertFile: "c", TrustedCAFile: "ca"}, true, "needs its key"},
		{"client key without cert", Config{KeyFile: "k"}, true, "needs its key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.client {
				err = tc.cfg.ValidateClient()
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid settings refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseMinVersionAndCipherSuites(t *testing.T) {
	for in, want := range map[string]uint16{"": tls.VersionTLS12, "TLS1.2": tls.VersionTLS12, "TLS1.3": tls.VersionTLS13} {
		if got, err := ParseMinVersion(in); err != nil || got != want {
			t.Errorf("ParseMinVersion(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	ids, err := ParseCipherSuites([]string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", " TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"})
	if err != nil || len(ids) != 2 || ids[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 || ids[1] != tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 {
		t.Fatalf("ParseCipherSuites = %x, %v", ids, err)
	}
	if ids, err := ParseCipherSuites(nil); err != nil || ids != nil {
		t.Fatalf("no names: %v, %v; want Go's defaults (nil)", ids, err)
	}
}

func TestEnabled(t *testing.T) {
	if (Config{}).ServerEnabled() || (Config{}).ClientEnabled() {
		t.Fatal("empty settings enable TLS")
	}
	if !(Config{TrustedCAFile: "ca"}).ClientEnabled() || (Config{TrustedCAFile: "ca"}).ServerEnabled() {
		t.Fatal("a CA alone makes a TLS client, not a server")
	}
}
