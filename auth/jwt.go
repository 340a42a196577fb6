package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384 and SHA-512
)

// Token types of --auth-token.
const (
	tokenSimple = "simple"
	tokenJWT    = "jwt"
)

// DefaultJWTTTL is a JWT's lifetime unless ttl= says otherwise (etcd's).
const DefaultJWTTTL = 5 * time.Minute

// parseTokenOpts splits etcd's --auth-token value: a type, then
// comma-separated key=value options, none repeated.
func parseTokenOpts(spec string) (string, map[string]string, error) {
	if spec == "" {
		return tokenSimple, nil, nil
	}
	parts := strings.Split(spec, ",")
	opts := map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return "", nil, fmt.Errorf("%w: %q is not key=value", ErrInvalidAuthOpts, p)
		}
		if _, dup := opts[k]; dup {
			return "", nil, fmt.Errorf("%w: %q given twice", ErrInvalidAuthOpts, k)
		}
		opts[k] = v
	}
	switch parts[0] {
	case tokenSimple:
		if len(opts) > 0 {
			return "", nil, fmt.Errorf("%w: simple tokens take no options", ErrInvalidAuthOpts)
		}
	case tokenJWT:
		for k := range opts {
			switch k {
			case "pub-key", "priv-key", "sign-method", "ttl":
			default:
				return "", nil, fmt.Errorf("%w: unknown jwt option %q", ErrInvalidAuthOpts, k)
			}
		}
		if opts["sign-method"] == "" {
			return "", nil, fmt.Errorf("%w: jwt needs sign-method", ErrInvalidAuthOpts)
		}
	default:
		return "", nil, fmt.Errorf("%w: unknown token type %q (simple or jwt)", ErrInvalidAuthOpts, parts[0])
	}
	return parts[0], opts, nil
}

// jwtTokens signs and verifies JSON web tokens carrying the user name and
// the auth revision, with etcd's claims ("username", "revision", "exp").
// Every member verifies them with the public key, so they need no log
// entry; a member with only the public key can verify but not sign.
type jwtTokens struct {
	alg    string
	hash   crypto.Hash
	ttl    time.Duration
	now    func() time.Time
	signer crypto.Signer // nil: verify only (or HMAC)
	pub    crypto.PublicKey
	secret []byte // HMAC
}

// jwtAlgs maps etcd's sign-method names to their hash.
var jwtAlgs = map[string]crypto.Hash{
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
	"HS256": crypto.SHA256, "HS384": crypto.SHA384, "HS512": crypto.SHA512,
	"EdDSA": 0,
}

// errVerifyOnly is returned by Authenticate on a member with only a public
// key.
var errVerifyOnly = errors.New("auth: token signing attempted with verify-only key")

func newJWTTokens(opts map[string]string, now func() time.Time) (*jwtTokens, error) {
	alg := opts["sign-method"]
	h, ok := jwtAlgs[alg]
	if !ok {
		return nil, fmt.Errorf("%w: unknown sign-method %q", ErrInvalidAuthOpts, alg)
	}
	j := &jwtTokens{alg: alg, hash: h, ttl: DefaultJWTTTL, now: now}
	if v := opts["ttl"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%w: ttl %q", ErrInvalidAuthOpts, v)
		}
		j.ttl = d
	}
	if strings.HasPrefix(alg, "HS") {
		b, err := os.ReadFile(opts["priv-key"])
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%w: HMAC secret (priv-key): %v", ErrInvalidAuthOpts, err)
		}
		j.secret = b
		return j, nil
	}
	if p := opts["priv-key"]; p != "" {
		key, err := readPEMKey(p, true)
		if err != nil {
			return nil, err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: %s is not a signing key", ErrInvalidAuthOpts, p)
		}
		j.signer, j.pub = signer, signer.Public()
	}
	if p := opts["pub-key"]; p != "" {
		key, err := readPEMKey(p, false)
		if err != nil {
			return nil, err
		}
		if j.pub != nil && !publicEqual(j.pub, key) {
			return nil, fmt.Errorf("%w: public and private keys don't match", ErrInvalidAuthOpts)
		}
		j.pub = key
	}
	if j.pub == nil {
		return nil, fmt.Errorf("%w: jwt needs pub-key or priv-key", ErrInvalidAuthOpts)
	}
	if !keyFits(alg, j.pub) {
		return nil, fmt.Errorf("%w: the key does not fit sign-method %s", ErrInvalidAuthOpts, alg)
	}
	return j, nil
}

func publicEqual(a, b crypto.PublicKey) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ae.Equal(b)
}

func keyFits(alg string, pub crypto.PublicKey) bool {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return alg[:2] == "RS" || alg[:2] == "PS"
	case *ecdsa.PublicKey:
		bits := map[string]int{"ES256": 256, "ES384": 384, "ES512": 521}[alg]
		return bits != 0 && p.Curve.Params().BitSize == bits
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// readPEMKey reads a PEM private key (PKCS#8, PKCS#1 or SEC 1) or public
// key (PKIX, PKCS#1, or a certificate's).
func readPEMKey(path string, private bool) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidAuthOpts, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: %s holds no PEM block", ErrInvalidAuthOpts, path)
	}
	if private {
		if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
		return nil, fmt.Errorf("%w: %s is not a private key", ErrInvalidAuthOpts, path)
	}
	if k, err := x509.ParsePKIXPublicKey(blk.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PublicKey(blk.Bytes); err == nil {
		return k, nil
	}
	if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("%w: %s is not a public key", ErrInvalidAuthOpts, path)
}

type jwtClaims struct {
	Username string `json:"username"`
	Revision uint64 `json:"revision"`
	Exp      int64  `json:"exp"`
}

var b64 = base64.RawURLEncoding

// sign returns a token for name at revision rev.
func (j *jwtTokens) sign(name string, rev uint64) (string, error) {
	if j.signer == nil && j.secret == nil {
		return "", errVerifyOnly
	}
	hdr, _ := json.Marshal(map[string]string{"alg": j.alg, "typ": "JWT"})
	cl, _ := json.Marshal(jwtClaims{Username: name, Revision: rev, Exp: j.now().Add(j.ttl).Unix()})
	signing := b64.EncodeToString(hdr) + "." + b64.EncodeToString(cl)
	sig, err := j.signature([]byte(signing))
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

func (j *jwtTokens) digest(msg []byte) []byte {
	h := j.hash.New()
	h.Write(msg)
	return h.Sum(nil)
}

func (j *jwtTokens) signature(msg []byte) ([]byte, error) {
	switch {
	case j.secret != nil:
		m := hmac.New(j.hash.New, j.secret)
		m.Write(msg)
		return m.Sum(nil), nil
	case j.alg == "EdDSA":
		return j.signer.Sign(rand.Reader, msg, crypto.Hash(0))
	case j.alg[:2] == "PS":
		return j.signer.Sign(rand.Reader, j.digest(msg), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: j.hash})
	case j.alg[:2] == "ES":
		k := j.signer.(*ecdsa.PrivateKey)
		r, s, err := ecdsa.Sign(rand.Reader, k, j.digest(msg))
		if err != nil {
			return nil, err
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		sig := make([]byte, 2*n)
		r.FillBytes(sig[:n])
		s.FillBytes(sig[n:])
		return sig, nil
	}
	return j.signer.Sign(rand.Reader, j.digest(msg), j.hash)
}

// verify checks a token's signature, algorithm and expiry and returns its
// user and revision. Only the configured algorithm is accepted, whatever
// the token's header says it is.
func (j *jwtTokens) verify(token string) (string, uint64, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", 0, false
	}
	hb, err1 := b64.DecodeString(parts[0])
	cb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", 0, false
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &hdr) != nil || hdr.Alg != j.alg {
		return "", 0, false
	}
	if !j.verifySignature([]byte(parts[0]+"."+parts[1]), sig) {
		return "", 0, false
	}
	var cl jwtClaims
	if json.Unmarshal(cb, &cl) != nil || cl.Username == "" || cl.Revision == 0 {
		return "", 0, false
	}
	if j.now().Unix() >= cl.Exp {
		return "", 0, false
	}
	return cl.Username, cl.Revision, true
}

func (j *jwtTokens) verifySignature(msg, sig []byte) bool {
	if j.secret != nil {
		want, _ := j.signature(msg)
		return hmac.Equal(sig, want)
	}
	switch pub := j.pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(pub, msg, sig)
	case *rsa.PublicKey:
		if j.alg[:2] == "PS" {
			return rsa.VerifyPSS(pub, j.hash, j.digest(msg), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, j.hash, j.digest(msg), sig) == nil
	case *ecdsa.PublicKey:
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		return ecdsa.Verify(pub, j.digest(msg), r, s)
	}
	return false
}
