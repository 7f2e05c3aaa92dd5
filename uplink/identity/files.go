package identity

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Sentinel errors.
var (
	// ErrExists: an identity or a CA is already there; it is kept, never overwritten.
	ErrExists = errors.New("already provisioned")
	// ErrNotProvisioned: the directory holds no device key.
	ErrNotProvisioned = errors.New("not provisioned")
	// ErrRefused: the CA refuses to sign or install this certificate (bad name, bad
	// signature, wrong key).
	ErrRefused = errors.New("refused")
)

// KeyDir is the key directory inside a till's data directory.
func KeyDir(dataDir string) string { return filepath.Join(dataDir, "keys") }

// File names in a till's key directory.
const (
	DeviceKeyFile = "device.key" // ed25519, PKCS#8 PEM, 0600
	DevicePubFile = "device.pub" // "ed25519:..." as registered at HQ
	TLSKeyFile    = "tls.key"    // ECDSA P-256, PKCS#8 PEM, 0600
	CSRFile       = "tls.csr"    // the request the CA signs
	CertFile      = "tls.crt"    // the signed client certificate
	CAFile        = "ca.crt"     // the fleet CA: the broker's certificate must chain to it
	HQKeyFile     = "hq.pub"     // HQ's signing key: catalogs and commands verify against it
)

// writeFile writes data to path through a temporary file that is fsync'd and renamed, so
// that a power cut leaves either no file or the whole file.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// writeNew is writeFile that refuses to replace an existing file.
func writeNew(path string, data []byte, mode os.FileMode) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), ErrExists)
	}
	return writeFile(path, data, mode)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// readPEM reads the first PEM block of type typ from path. Errors name the file, never
// its content.
func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no %s PEM block", filepath.Base(path), typ)
		}
		if blk.Type == typ {
			return blk.Bytes, nil
		}
	}
}

// readPrivateKey reads a PKCS#8 private key. The parser's error is not wrapped: it could
// describe the key's bytes.
func readPrivateKey(path string) (any, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PKCS#8 private key", filepath.Base(path))
	}
	return k, nil
}

func readCert(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return c, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return x509.ParseCertificate(blk.Bytes)
}
