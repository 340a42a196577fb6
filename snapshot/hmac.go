package snapshot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
)

// HMACSealer seals with HMAC-SHA-256: SHA256SUMS.sealed holds a header line,
// the base64 MAC of header and sums on the next line, then the sums in the
// clear. Anyone can read the sums; only a holder of the key can produce a
// seal that opens, so any change to the archive is detected.
type HMACSealer struct {
	key []byte
	id  string
}

const hmacAlg = "hmac-sha256"

// NewHMACSealer returns a sealer using key (KeySize bytes).
func NewHMACSealer(key []byte) (*HMACSealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: HMAC key is %d bytes, want %d", ErrKey, len(key), KeySize)
	}
	return &HMACSealer{key: slices.Clone(key), id: keyID(key)}, nil
}

// NewHMACSealerFromFile reads a key file (see ParseKey) and returns a sealer.
func NewHMACSealerFromFile(path string) (*HMACSealer, error) {
	key, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	return NewHMACSealer(key)
}

// KeyID identifies the sealer's key; it is recorded in sealed files.
func (s *HMACSealer) KeyID() string { return s.id }

func (s *HMACSealer) mac(header, plain []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(header)
	m.Write(plain)
	return m.Sum(nil)
}

// Seal implements Sealer.
func (s *HMACSealer) Seal(_ context.Context, plain []byte) ([]byte, error) {
	header := sealHeader(hmacAlg, s.id)
	out := append(slices.Clone(header), base64.StdEncoding.EncodeToString(s.mac(header, plain))...)
	out = append(out, '\n')
	return append(out, plain...), nil
}

// Open implements Sealer.
func (s *HMACSealer) Open(_ context.Context, sealed []byte) ([]byte, error) {
	header, body, err := splitSealed(sealed, hmacAlg, s.id)
	if err != nil {
		return nil, err
	}
	macLine, plain, ok := cutLine(body)
	if !ok {
		return nil, fmt.Errorf("%w: no MAC line", ErrSeal)
	}
	mac, err := base64.StdEncoding.DecodeString(string(macLine))
	if err != nil {
		return nil, fmt.Errorf("%w: bad MAC line: %v", ErrSeal, err)
	}
	if !hmac.Equal(mac, s.mac(header, plain)) {
		return nil, fmt.Errorf("%w: MAC mismatch: the archive's sums were altered", ErrSeal)
	}
	return plain, nil
}

func cutLine(b []byte) (line, rest []byte, ok bool) {
	for i, c := range b {
		if c == '\n' {
			return b[:i], b[i+1:], true
		}
	}
	return nil, nil, false
}
