package bundle

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

const (
	pubPrefix  = "ed25519:"
	privPrefix = "ed25519-private:"
	fileSigCtx = "tillbox-file/1\n"
	sigPrefix  = "tillbox-sig/1"
)

// KeyID is a short, stable name for a public key: the first 8 bytes of its SHA-256, hex.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// MarshalPublic is the public key file's line for pub.
func MarshalPublic(pub ed25519.PublicKey) []byte {
	return []byte("# tillbox update key " + KeyID(pub) + "\n" + pubPrefix + base64.StdEncoding.EncodeToString(pub) + "\n")
}

// MarshalPrivate is the private key file's content for key.
func MarshalPrivate(key ed25519.PrivateKey) []byte {
	return []byte(privPrefix + base64.StdEncoding.EncodeToString(key.Seed()) + "\n")
}

// ParsePublic reads every key in a public key file.
func ParsePublic(b []byte) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		enc, ok := strings.CutPrefix(line, pubPrefix)
		raw, err := base64.StdEncoding.DecodeString(enc)
		if !ok || err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("bundle: public key line %d: %w", n, ErrKey)
		}
		keys = append(keys, ed25519.PublicKey(raw))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("bundle: public keys: %w: none", ErrKey)
	}
	return keys, nil
}

// ParsePrivate reads a private key file.
func ParsePrivate(b []byte) (ed25519.PrivateKey, error) {
	enc, ok := strings.CutPrefix(strings.TrimSpace(string(b)), privPrefix)
	seed, err := base64.StdEncoding.DecodeString(enc)
	if !ok || err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("bundle: private key: %w", ErrKey)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ReadPublic reads a public key file.
func ReadPublic(path string) ([]ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: public keys: %w", err)
	}
	return ParsePublic(b)
}

// ReadPrivate reads a private key file.
func ReadPrivate(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: private key: %w", err)
	}
	return ParsePrivate(b)
}

// SignFile returns the detached signature of what r holds: one line naming the key and
// signing the content's SHA-256.
func SignFile(r io.Reader, key ed25519.PrivateKey) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("bundle: sign file: %w", err)
	}
	sig := ed25519.Sign(key, append([]byte(fileSigCtx), h.Sum(nil)...))
	pub := key.Public().(ed25519.PublicKey)
	return []byte(fmt.Sprintf("%s %s %s\n", sigPrefix, KeyID(pub), base64.StdEncoding.EncodeToString(sig))), nil
}

// VerifyFile checks a detached signature of what r holds against the trusted keys.
func VerifyFile(r io.Reader, sig []byte, trusted []ed25519.PublicKey) error {
	f := strings.Fields(string(sig))
	if len(f) != 3 || f[0] != sigPrefix {
		return fmt.Errorf("bundle: verify file: %w: not a %s line", ErrFormat, sigPrefix)
	}
	raw, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil {
		return fmt.Errorf("bundle: verify file: %w: %v", ErrFormat, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("bundle: verify file: %w", err)
	}
	msg := append([]byte(fileSigCtx), h.Sum(nil)...)
	for _, k := range trusted {
		if ed25519.Verify(k, msg, raw) {
			return nil
		}
	}
	return fmt.Errorf("bundle: verify file: %w", ErrSignature)
}
