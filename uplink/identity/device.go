package identity

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// Name is the common name of a till's certificate and so its username at the broker.
func Name(store, till string) string { return store + "/" + till }

// Provisioned is what Provision wrote: public, safe to print.
type Provisioned struct {
	Dir       string
	PublicKey string // the device key, "ed25519:...": register it at HQ
	CSR       string // path of the certificate request for the fleet CA
}

// Provision creates a till's identity in dir (created 0700 when missing): device key,
// TLS key and certificate request for store/till. random is the entropy source (nil:
// crypto/rand). It refuses with ErrExists when dir already holds a device or TLS key.
func Provision(dir, store, till string, random io.Reader) (Provisioned, error) {
	if !journal.ValidID(store) || !journal.ValidID(till) {
		return Provisioned{}, fmt.Errorf("identity: provision: %w: store/till %q/%q: want 1-32 of [a-z0-9-]", ErrRefused, store, till)
	}
	if random == nil {
		random = rand.Reader
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Provisioned{}, fmt.Errorf("identity: provision: %w", err)
	}
	for _, f := range []string{DeviceKeyFile, TLSKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return Provisioned{}, fmt.Errorf("identity: provision %s: %s: %w (remove the key directory to make a new identity)", dir, f, ErrExists)
		}
	}
	pub, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return Provisioned{}, fmt.Errorf("identity: provision: device key: %w", err)
	}
	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return Provisioned{}, fmt.Errorf("identity: provision: TLS key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(random, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: Name(store, till), Organization: []string{"tillbox"}},
	}, tlsKey)
	if err != nil {
		return Provisioned{}, fmt.Errorf("identity: provision: certificate request: %w", err)
	}
	devDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Provisioned{}, fmt.Errorf("identity: provision: device key: %w", err)
	}
	tlsDER, err := x509.MarshalPKCS8PrivateKey(tlsKey)
	if err != nil {
		return Provisioned{}, fmt.Errorf("identity: provision: TLS key: %w", err)
	}
	p := Provisioned{Dir: dir, PublicKey: wire.FormatPublicKey(pub), CSR: filepath.Join(dir, CSRFile)}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{DeviceKeyFile, pemBlock("PRIVATE KEY", devDER), 0o600},
		{TLSKeyFile, pemBlock("PRIVATE KEY", tlsDER), 0o600},
		{DevicePubFile, []byte(p.PublicKey + "\n"), 0o644},
		{CSRFile, pemBlock("CERTIFICATE REQUEST", csr), 0o644},
	}
	for _, f := range files {
		if err := writeNew(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return Provisioned{}, fmt.Errorf("identity: provision: %w", err)
		}
	}
	return p, nil
}

// Install puts the CA's answer into a provisioned till's dir: the signed certificate (it
// must be for this till's TLS key and chain to ca), the fleet CA, and HQ's signing key.
// Any of them may be nil or empty to leave that file as it is.
func Install(dir string, cert, ca []byte, hqKey string) error {
	if len(cert) > 0 {
		if len(ca) == 0 {
			if b, err := os.ReadFile(filepath.Join(dir, CAFile)); err == nil {
				ca = b
			}
		}
		c, err := parseCertPEM(cert)
		if err != nil {
			return fmt.Errorf("identity: install certificate: %w: %w", ErrRefused, err)
		}
		k, err := readPrivateKey(filepath.Join(dir, TLSKeyFile))
		if err != nil {
			return fmt.Errorf("identity: install certificate: %w", err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok || !ek.PublicKey.Equal(c.PublicKey) {
			return fmt.Errorf("identity: install certificate: %w: it is not for this till's TLS key", ErrRefused)
		}
		caCert, err := parseCertPEM(ca)
		if err != nil {
			return fmt.Errorf("identity: install certificate: %w: CA: %w", ErrRefused, err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(caCert)
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return fmt.Errorf("identity: install certificate: %w: %w", ErrRefused, err)
		}
	}
	if len(ca) > 0 {
		if _, err := parseCertPEM(ca); err != nil {
			return fmt.Errorf("identity: install CA: %w: %w", ErrRefused, err)
		}
		if err := writeFile(filepath.Join(dir, CAFile), ca, 0o644); err != nil {
			return fmt.Errorf("identity: install CA: %w", err)
		}
	}
	if len(cert) > 0 {
		if err := writeFile(filepath.Join(dir, CertFile), cert, 0o644); err != nil {
			return fmt.Errorf("identity: install certificate: %w", err)
		}
	}
	if hqKey != "" {
		if _, err := wire.ParsePublicKey(hqKey); err != nil {
			return fmt.Errorf("identity: install HQ key: %w", err)
		}
		if err := writeFile(filepath.Join(dir, HQKeyFile), []byte(strings.TrimSpace(hqKey)+"\n"), 0o644); err != nil {
			return fmt.Errorf("identity: install HQ key: %w", err)
		}
	}
	return nil
}

// Identity is a provisioned till's keys, loaded. Its String and its fields never show a
// private key.
type Identity struct {
	Dir       string
	Public    ed25519.PublicKey
	PublicKey string // Public in text form
	// TLS is the client configuration for the broker (own certificate, fleet CA as the
	// only root), or nil while the certificate is not installed.
	TLS *tls.Config
	// HQKey verifies catalogs and commands, or nil when it was not installed.
	HQKey ed25519.PublicKey

	device ed25519.PrivateKey
}

// String names the identity by its public key only. Value receivers, so that fmt and
// slog print this for an Identity and a *Identity alike and never reach the private key.
func (id Identity) String() string { return "device " + id.PublicKey + " in " + id.Dir }

// GoString is String, for %#v.
func (id Identity) GoString() string { return id.String() }

// Sign signs msg with the device key (ledger.Options.Sign).
func (id *Identity) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(id.device, msg), nil }

// Load reads the identity in dir. A dir without a device key gives ErrNotProvisioned.
func Load(dir string) (*Identity, error) {
	k, err := readPrivateKey(filepath.Join(dir, DeviceKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("identity: load %s: %w", dir, ErrNotProvisioned)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: load: %w", err)
	}
	dev, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity: load: %s: not an ed25519 key", DeviceKeyFile)
	}
	pub := dev.Public().(ed25519.PublicKey)
	id := &Identity{Dir: dir, Public: pub, PublicKey: wire.FormatPublicKey(pub), device: dev}
	if err := finishRenewal(dir); err != nil && !errors.Is(err, ErrRenewal) {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, CertFile)); err == nil {
		certFile, keyFile := filepath.Join(dir, CertFile), filepath.Join(dir, TLSKeyFile)
		id.TLS, err = ClientTLS(certFile, keyFile, filepath.Join(dir, CAFile))
		if err != nil {
			return nil, err
		}
		// A renewal (InstallRenewal) swaps the files: the next connection uses the new pair.
		id.TLS = reloadingTLS(id.TLS, certFile, keyFile)
	}
	if b, err := os.ReadFile(filepath.Join(dir, HQKeyFile)); err == nil {
		if id.HQKey, err = wire.ParsePublicKey(string(b)); err != nil {
			return nil, fmt.Errorf("identity: load: %s: %w", HQKeyFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("identity: load: %w", err)
	}
	return id, nil
}

// ClientTLS is a TLS client configuration with the certificate and key in certFile and
// keyFile, trusting only the CA in caFile: the broker must show a certificate of the
// fleet's own CA. Both tills and tillhq connect with it.
func ClientTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		// LoadX509KeyPair's errors describe files, not key bytes; still, name the files only.
		return nil, fmt.Errorf("identity: TLS: %s and %s do not make a certificate and key pair", filepath.Base(certFile), filepath.Base(keyFile))
	}
	ca, err := readCert(caFile)
	if err != nil {
		return nil, fmt.Errorf("identity: TLS: CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
