package snapshot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// Sealer seals SHA256SUMS into SHA256SUMS.sealed when an archive is written,
// and opens it when the archive is read; the reader then requires the opened
// bytes to equal SHA256SUMS exactly. Because SHA256SUMS holds the sha-256 of
// meta.json and state.bin, a seal that opens vouches for the whole archive.
//
// Open must fail (preferably with an error wrapping ErrSeal) if sealed was
// not produced by Seal with the same key. Both may be called concurrently.
// Implementations backed by a KMS may block; they must honour ctx.
type Sealer interface {
	Seal(ctx context.Context, plain []byte) ([]byte, error)
	Open(ctx context.Context, sealed []byte) ([]byte, error)
}

// KeySize is the size of the keys HMACSealer and AESGCMSealer use.
const KeySize = 32

// GenerateKey returns the content of a new key file: KeySize random bytes,
// hex encoded, and a newline.
func GenerateKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return []byte(hex.EncodeToString(key) + "\n"), nil
}

// WriteKeyFile writes a new key to path, which must not exist, readable by
// its owner only.
func WriteKeyFile(path string) error {
	content, err := GenerateKey()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ParseKey decodes a key file's content: exactly 2*KeySize hex digits,
// surrounding whitespace ignored.
func ParseKey(content []byte) ([]byte, error) {
	s := strings.TrimSpace(string(content))
	if len(s) != 2*KeySize {
		return nil, fmt.Errorf("%w: a key file holds %d hex digits, this one has %d characters", ErrKey, 2*KeySize, len(s))
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not hex: %v", ErrKey, err)
	}
	return key, nil
}

// ReadKeyFile reads and decodes a key file.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// keyID names a key without revealing it, so that a wrong key is reported
// as such: the first 8 bytes of HMAC-SHA-256(key, "concord snapshot key id").
func keyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("concord snapshot key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// A sealed file starts with one header line naming the format, the
// algorithm and the key id; the header is authenticated with the rest.
const sealMagic = "concord-seal"

func sealHeader(alg, id string) []byte {
	return []byte(fmt.Sprintf("%s v1 %s %s\n", sealMagic, alg, id))
}

// splitSealed checks a sealed file's header against the expected algorithm
// and key id, and returns the header and the body after it.
func splitSealed(sealed []byte, alg, id string) (header, body []byte, err error) {
	line, body, ok := bytes.Cut(sealed, []byte("\n"))
	if !ok {
		return nil, nil, fmt.Errorf("%w: not a sealed file (no header line)", ErrSeal)
	}
	f := strings.Fields(string(line))
	if len(f) != 4 || f[0] != sealMagic {
		return nil, nil, fmt.Errorf("%w: not a sealed file (bad header)", ErrSeal)
	}
	if f[1] != "v1" {
		return nil, nil, fmt.Errorf("%w: %w: seal format %s", ErrSeal, ErrVersion, f[1])
	}
	if f[2] != alg {
		return nil, nil, fmt.Errorf("%w: sealed with %s, but the sealer given is %s", ErrSeal, f[2], alg)
	}
	if f[3] != id {
		return nil, nil, fmt.Errorf("%w: sealed with key %s, but the key given is %s (wrong key file?)", ErrSeal, f[3], id)
	}
	return sealed[:len(line)+1], body, nil
}
