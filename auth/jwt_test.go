package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKeyPair writes a PKCS#8 private key and its PKIX public key.
func writeKeyPair(t *testing.T, priv any, pub any) (string, string) {
	t.Helper()
	dir := t.TempDir()
	pb, err := x509.MarshalPKCS8PrivateKey(priv)
	must(t, err)
	ub, err := x509.MarshalPKIXPublicKey(pub)
	must(t, err)
	privPath, pubPath := filepath.Join(dir, "priv.pem"), filepath.Join(dir, "pub.pem")
	must(t, os.WriteFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pb}), 0o600))
	must(t, os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ub}), 0o600))
	return privPath, pubPath
}

func TestJWTTokens(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		alg       string
		priv, pub any
	}{
		{"ES256", ec, &ec.PublicKey},
		{"RS256", rs, &rs.PublicKey},
		{"PS384", rs, &rs.PublicKey},
		{"EdDSA", edPriv, edPub},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			privPath, pubPath := writeKeyPair(t, tc.priv, tc.pub)
			spec := "jwt,pub-key=" + pubPath + ",priv-key=" + privPath + ",sign-method=" + tc.alg + ",ttl=1m"
			s, clock := newTestStore(t, Config{Token: spec})
			ctx := context.Background()
			enableWithRoot(t, s)
			tok, err := s.Authenticate(ctx, RootUser, "rootpw")
			must(t, err)
			id, err := s.tokenIdentity(ctx, tok)
			must(t, err)
			if id.Name != RootUser || id.Revision != s.Revision() {
				t.Fatalf("identity %+v", id)
			}
			// Another member with only the public key verifies it.
			v, _ := newTestStore(t, Config{Token: "jwt,pub-key=" + pubPath + ",sign-method=" + tc.alg, Now: clock.now})
			if _, _, ok := v.jwt.verify(tok); !ok {
				t.Fatal("verify-only member refused the token")
			}
			if _, err := v.jwt.sign("x", 1); !errors.Is(err, errVerifyOnly) {
				t.Fatalf("verify-only sign: %v", err)
			}
			// Tampered claims, another algorithm, and expiry are refused.
			parts := strings.Split(tok, ".")
			forged := parts[0] + "." + b64.EncodeToString([]byte(`{"username":"root","revision":99,"exp":9999999999}`)) + "." + parts[2]
			if _, _, ok := s.jwt.verify(forged); ok {
				t.Fatal("forged claims accepted")
			}
			none := b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
			if _, _, ok := s.jwt.verify(none); ok {
				t.Fatal("alg none accepted")
			}
			// A change of the auth state makes the token old.
			must(t, s.RoleAdd(ctx, root, "r"))
			if err := s.Authorize(ctx, Request{User: id, Op: OpRead, Key: []byte("k")}); !errors.Is(err, ErrAuthOldRevision) {
				t.Fatalf("token from before a change: %v", err)
			}
			clock.advance(time.Minute)
			if _, err := s.tokenIdentity(ctx, tok); !errors.Is(err, ErrInvalidAuthToken) {
				t.Fatalf("expired jwt: %v", err)
			}
		})
	}
}

func TestTokenOptions(t *testing.T) {
	for _, bad := range []string{"opaque", "simple,x=1", "jwt", "jwt,sign-method=RS256,foo=bar", "jwt,sign-method", "jwt,sign-method=RS256,sign-method=ES256"} {
		if err := (Config{Token: bad}).Validate(); !errors.Is(err, ErrInvalidAuthOpts) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := (Config{BcryptCost: 99}).Validate(); err == nil {
		t.Error("bcrypt cost 99 accepted")
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, pubPath := writeKeyPair(t, ec, &ec.PublicKey)
	if _, err := New(Config{Token: "jwt,pub-key=" + pubPath + ",sign-method=ES256"}, nil); !errors.Is(err, ErrInvalidAuthOpts) {
		t.Errorf("P-384 key with ES256: %v", err)
	}
}
