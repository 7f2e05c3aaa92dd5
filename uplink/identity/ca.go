package identity

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// Files of the CA directory at HQ. Keys are 0600; the directory is created 0700.
const (
	CAKeyFile      = "ca.key"       // ECDSA P-256: signs certificates and the CRL
	CACertFile     = "ca.crt"       // give it to the broker (cafile) and to every till
	CRLFile        = "crl.pem"      // the broker's crlfile
	RevokedFile    = "revoked.json" // what the CRL is made from
	SigningKeyFile = "hq-sign.key"  // ed25519: signs catalogs and commands
	SigningPubFile = "hq.pub"       // its public half, for tills
)

// Validity of what the CA issues. The CRL must be re-issued (Revoke, or tillhq ca crl)
// before it expires: a broker with an expired CRL refuses every client.
const (
	CAValidity = 20 * 365 * 24 * time.Hour
	// CertValidity is a till's or an account's certificate lifetime unless CA.Validity
	// says otherwise; a till renews its certificate over MQTT before it expires.
	CertValidity = 365 * 24 * time.Hour
	CRLValidity  = 5 * 365 * 24 * time.Hour
)

// CA is the fleet's certificate authority and HQ's signing key, in one directory.
type CA struct {
	Dir  string
	Cert *x509.Certificate
	// Validity is the lifetime of the certificates it issues; 0 is CertValidity. It is
	// never longer than what is left of the CA's own certificate.
	Validity time.Duration
	// RenewAfter: a certificate younger than this is not renewed (AnswerRenewal); 0 is
	// RenewMinInterval, negative lets any be renewed.
	RenewAfter time.Duration

	key  *ecdsa.PrivateKey
	sign ed25519.PrivateKey
}

// String names the CA by its directory and subject only.
func (c CA) String() string { return "CA " + c.Cert.Subject.CommonName + " in " + c.Dir }

// GoString is String, for %#v.
func (c CA) GoString() string { return c.String() }

type revoked struct {
	Serial string    `json:"serial"` // hex
	Name   string    `json:"name"`
	At     time.Time `json:"at"`
}

// InitCA creates a CA in dir named name: its key and self-signed certificate, an empty
// CRL, and HQ's signing key. It refuses with ErrExists when dir already holds a CA key.
func InitCA(dir, name string, now time.Time) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: ca init: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, CAKeyFile)); err == nil {
		return nil, fmt.Errorf("identity: ca init %s: %w", dir, ErrExists)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: ca init: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name, Organization: []string{"tillbox"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(CAValidity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("identity: ca init: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	spub, spriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: ca init: %w", err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	signDER, _ := x509.MarshalPKCS8PrivateKey(spriv)
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{CAKeyFile, pemBlock("PRIVATE KEY", keyDER), 0o600},
		{SigningKeyFile, pemBlock("PRIVATE KEY", signDER), 0o600},
		{SigningPubFile, []byte(wire.FormatPublicKey(spub) + "\n"), 0o644},
		{CACertFile, pemBlock("CERTIFICATE", der), 0o644},
		{RevokedFile, []byte("[]\n"), 0o644},
	} {
		if err := writeNew(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("identity: ca init: %w", err)
		}
	}
	ca := &CA{Dir: dir, Cert: cert, key: key, sign: spriv}
	if err := ca.WriteCRL(now); err != nil {
		return nil, err
	}
	return ca, nil
}

// OpenCA loads the CA in dir.
func OpenCA(dir string) (*CA, error) {
	cert, err := readCert(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("identity: open CA: %w", err)
	}
	k, err := readPrivateKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("identity: open CA: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("identity: open CA: %s does not match %s", CAKeyFile, CACertFile)
	}
	s, err := readPrivateKey(filepath.Join(dir, SigningKeyFile))
	if err != nil {
		return nil, fmt.Errorf("identity: open CA: %w", err)
	}
	sign, ok := s.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity: open CA: %s: not an ed25519 key", SigningKeyFile)
	}
	return &CA{Dir: dir, Cert: cert, key: key, sign: sign}, nil
}

// ReadSigningKey reads HQ's signing key alone (hq-sign.key), for a tillhq that signs
// commands and catalogs without holding the CA key.
func ReadSigningKey(path string) (ed25519.PrivateKey, error) {
	k, err := readPrivateKey(path)
	if err != nil {
		return nil, fmt.Errorf("identity: signing key: %w", err)
	}
	s, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity: signing key: %s: not an ed25519 key", filepath.Base(path))
	}
	return s, nil
}

// SigningKey is HQ's catalog and command signing key.
func (c *CA) SigningKey() ed25519.PrivateKey { return c.sign }

// SigningPublicKey is its public half in text form, for tills.
func (c *CA) SigningPublicKey() string {
	return wire.FormatPublicKey(c.sign.Public().(ed25519.PublicKey))
}

// CertPEM is the CA certificate.
func (c *CA) CertPEM() []byte { return pemBlock("CERTIFICATE", c.Cert.Raw) }

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("identity: no randomness: " + err.Error())
	}
	return n.Add(n, big.NewInt(1))
}

// SignCSR signs a till's certificate request. Its common name must be "store/till" with
// valid ids; the certificate is for client authentication only. A till that already has
// a current certificate (in the inventory, neither revoked nor expired) is refused with
// ErrExists: see SignReplacing.
func (c *CA) SignCSR(csrPEM []byte, now time.Time) ([]byte, error) {
	return c.signTill(csrPEM, now, false)
}

// SignReplacing is SignCSR for a till that is given a new identity (a replaced box, a
// lost key): every certificate the till still holds is revoked first.
func (c *CA) SignReplacing(csrPEM []byte, now time.Time) ([]byte, error) {
	return c.signTill(csrPEM, now, true)
}

func (c *CA) signTill(csrPEM []byte, now time.Time, replace bool) ([]byte, error) {
	csr, cn, err := parseTillCSR(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: sign: %w", err)
	}
	cur, ok, err := c.Current(cn, now)
	if err != nil {
		return nil, err
	}
	if ok && !replace {
		return nil, fmt.Errorf("identity: sign %s: %w: it holds certificate %s until %s (revoke it, or replace it)",
			cn, ErrExists, cur.Serial, cur.NotAfter.Format(time.DateOnly))
	}
	if replace {
		if _, err := c.RevokeName(cn, now); err != nil {
			return nil, err
		}
	}
	return c.issue(cn, csr.PublicKey, now, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil)
}

// Renew signs a till's request for a new certificate while its current one is valid:
// the till must hold a current certificate.
// The old certificate is marked renewed and stays valid until it expires. The caller has
// established that the request comes from the till (its device key signed it).
func (c *CA) Renew(csrPEM []byte, now time.Time) ([]byte, error) {
	csr, cn, err := parseTillCSR(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: renew: %w", err)
	}
	cur, ok, err := c.Current(cn, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("identity: renew %s: %w: it holds no current certificate", cn, ErrRefused)
	}
	cert, err := c.issue(cn, csr.PublicKey, now, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil)
	if err != nil {
		return nil, err
	}
	if _, err := c.mark(func(i Issued) bool { return i.Serial == cur.Serial }, func(i *Issued) { t := now.UTC(); i.Renewed = &t }); err != nil {
		return nil, err
	}
	return cert, nil
}

func parseTillCSR(csrPEM []byte) (*x509.CertificateRequest, string, error) {
	der, err := decodePEM(csrPEM, "CERTIFICATE REQUEST")
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, "", fmt.Errorf("%w: request signature: %w", ErrRefused, err)
	}
	cn := csr.Subject.CommonName
	store, till, ok := strings.Cut(cn, "/")
	if !ok || !journal.ValidID(store) || !journal.ValidID(till) {
		return nil, "", fmt.Errorf("%w: common name %q is not store/till", ErrRefused, clip(cn))
	}
	return csr, cn, nil
}

// IssueAccount makes a key and a client certificate for one of HQ's own accounts (the
// consumer, a fleet viewer). name has no '/', so no till pattern of the ACL matches it.
func (c *CA) IssueAccount(name string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if !journal.ValidID(name) {
		return nil, nil, fmt.Errorf("identity: account: %w: name %q: want 1-32 of [a-z0-9-]", ErrRefused, clip(name))
	}
	return c.issueWithKey(name, now, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil)
}

// IssueServer makes a key and a server certificate for the broker, valid for hosts (DNS
// names or IP addresses).
func (c *CA) IssueServer(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	var dns []string
	var ips []net.IP
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else if h != "" {
			dns = append(dns, h)
		}
	}
	if len(dns)+len(ips) == 0 {
		return nil, nil, fmt.Errorf("identity: server: %w: no host name", ErrRefused)
	}
	return c.issueWithKey(hosts[0], now, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, dns, ips)
}

func (c *CA) issueWithKey(cn string, now time.Time, usage []x509.ExtKeyUsage, dns []string, ips []net.IP) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: issue: %w", err)
	}
	cert, err := c.issue(cn, &key.PublicKey, now, usage, dns, ips)
	if err != nil {
		return nil, nil, err
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	return cert, pemBlock("PRIVATE KEY", der), nil
}

func (c *CA) issue(cn string, pub any, now time.Time, usage []x509.ExtKeyUsage, dns []string, ips []net.IP) ([]byte, error) {
	life := c.Validity
	if life <= 0 {
		life = CertValidity
	}
	notAfter := now.Add(life)
	if notAfter.After(c.Cert.NotAfter) {
		notAfter = c.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"tillbox"}},
		NotBefore: now.Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage, DNSNames: dns, IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("identity: issue %s: %w", clip(cn), err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("identity: issue %s: %w", clip(cn), err)
	}
	kind := "account"
	switch {
	case isTillName(cn):
		kind = "till"
	case len(dns)+len(ips) > 0:
		kind = "server"
	}
	if err := c.record(kind, cert); err != nil {
		return nil, err
	}
	return pemBlock("CERTIFICATE", der), nil
}

// Revoke adds the certificate certPEM (one this CA issued) to the revocation list and
// writes the CRL again. The broker reads the new CRL when it is restarted or reloaded.
func (c *CA) Revoke(certPEM []byte, now time.Time) error {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("identity: revoke: %w: %w", ErrRefused, err)
	}
	if err := cert.CheckSignatureFrom(c.Cert); err != nil {
		return fmt.Errorf("identity: revoke: %w: not issued by this CA", ErrRefused)
	}
	return c.revoke([]revoked{{Serial: cert.SerialNumber.Text(16), Name: cert.Subject.CommonName, At: now.UTC()}}, now)
}

// RevokeName revokes every certificate of name (a till's "store/till") in the inventory
// that has not expired and is not revoked yet, renewed ones included, and returns them.
// It refuses with ErrRefused when there is none.
func (c *CA) RevokeName(name string, now time.Time) ([]Issued, error) {
	hit, err := c.mark(func(i Issued) bool { return i.Name == name && i.Revoked == nil && now.Before(i.NotAfter) },
		func(i *Issued) { t := now.UTC(); i.Revoked = &t })
	if err != nil {
		return nil, err
	}
	if len(hit) == 0 {
		return nil, fmt.Errorf("identity: revoke %s: %w: no certificate of it in the inventory is in force", clip(name), ErrRefused)
	}
	var rs []revoked
	for _, i := range hit {
		rs = append(rs, revoked{Serial: i.Serial, Name: i.Name, At: now.UTC()})
	}
	return hit, c.revoke(rs, now)
}

// revoke adds rs to the revoked list (once each), marks them in the inventory and
// writes the CRL again.
func (c *CA) revoke(rs []revoked, now time.Time) error {
	list, err := c.revoked()
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, r := range list {
		have[r.Serial] = true
	}
	serials := map[string]bool{}
	for _, r := range rs {
		serials[r.Serial] = true
		if !have[r.Serial] {
			list = append(list, r)
			have[r.Serial] = true
		}
	}
	if _, err := c.mark(func(i Issued) bool { return serials[i.Serial] && i.Revoked == nil }, func(i *Issued) { t := now.UTC(); i.Revoked = &t }); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(list, "", "  ")
	if err := writeFile(filepath.Join(c.Dir, RevokedFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("identity: revoke: %w", err)
	}
	return c.WriteCRL(now)
}

func (c *CA) revoked() ([]revoked, error) {
	b, err := os.ReadFile(filepath.Join(c.Dir, RevokedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity: revoked list: %w", err)
	}
	var list []revoked
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("identity: revoked list: %w", err)
	}
	return list, nil
}

// WriteCRL issues the CRL again from the revoked list, valid for CRLValidity.
func (c *CA) WriteCRL(now time.Time) error {
	list, err := c.revoked()
	if err != nil {
		return err
	}
	var entries []x509.RevocationListEntry
	for _, r := range list {
		n, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return fmt.Errorf("identity: revoked list: serial %q", clip(r.Serial))
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: r.At})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(now.UnixNano()), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(CRLValidity),
		RevokedCertificateEntries: entries,
	}, c.Cert, c.key)
	if err != nil {
		return fmt.Errorf("identity: CRL: %w", err)
	}
	if err := writeFile(filepath.Join(c.Dir, CRLFile), pemBlock("X509 CRL", der), 0o644); err != nil {
		return fmt.Errorf("identity: CRL: %w", err)
	}
	return nil
}

func decodePEM(b []byte, typ string) ([]byte, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("no %s PEM block", typ)
		}
		if blk.Type == typ {
			return blk.Bytes, nil
		}
	}
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
