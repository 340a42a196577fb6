package snapshot

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
)

// AESGCMSealer seals with AES-256-GCM: SHA256SUMS.sealed holds a header line
// and, on the next line, the base64 of a random 12-byte nonce followed by
// the encrypted sums and their tag; the header is the associated data. It
// detects tampering like HMACSealer and keeps the sealed copy of the sums
// confidential. It is the reference for AEAD-style sealers (a KMS or
// Vault's transit engine expose the same Seal/Open shape); see
// docs/snapshots.md for why state.bin itself is not encrypted.
type AESGCMSealer struct {
	aead cipher.AEAD
	id   string
}

const aesAlg = "aes-256-gcm"

// NewAESGCMSealer returns a sealer using key (KeySize bytes).
func NewAESGCMSealer(key []byte) (*AESGCMSealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: AES-256 key is %d bytes, want %d", ErrKey, len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return &AESGCMSealer{aead: aead, id: keyID(key)}, nil
}

// NewAESGCMSealerFromFile reads a key file (see ParseKey) and returns a sealer.
func NewAESGCMSealerFromFile(path string) (*AESGCMSealer, error) {
	key, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	return NewAESGCMSealer(key)
}

// KeyID identifies the sealer's key; it is recorded in sealed files.
func (s *AESGCMSealer) KeyID() string { return s.id }

// Seal implements Sealer.
func (s *AESGCMSealer) Seal(_ context.Context, plain []byte) ([]byte, error) {
	header := sealHeader(aesAlg, s.id)
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ct := s.aead.Seal(nonce, nonce, plain, header)
	out := append(slices.Clone(header), base64.StdEncoding.EncodeToString(ct)...)
	return append(out, '\n'), nil
}

// Open implements Sealer.
func (s *AESGCMSealer) Open(_ context.Context, sealed []byte) ([]byte, error) {
	header, body, err := splitSealed(sealed, aesAlg, s.id)
	if err != nil {
		return nil, err
	}
	line, rest, ok := cutLine(body)
	if !ok || len(rest) != 0 {
		return nil, fmt.Errorf("%w: expected one ciphertext line", ErrSeal)
	}
	ct, err := base64.StdEncoding.DecodeString(string(line))
	if err != nil {
		return nil, fmt.Errorf("%w: bad ciphertext line: %v", ErrSeal, err)
	}
	ns := s.aead.NonceSize()
	if len(ct) < ns+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: ciphertext too short", ErrSeal)
	}
	plain, err := s.aead.Open(nil, ct[:ns], ct[ns:], header)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed: the archive's sums were altered", ErrSeal)
	}
	return plain, nil
}
