package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// Certificate renewal over MQTT. A till whose certificate nears its end makes a new TLS
// key (kept beside the old one until the new certificate is installed) and publishes a
// RenewRequest, signed with its device key, on its renew topic; HQ's CA checks the
// signature against the till's registered device key, issues a certificate for the new
// key and publishes a RenewReply, signed with HQ's signing key, retained on the till's
// cert topic; the till checks it and swaps its key and certificate.
const (
	RenewTopicKind = wire.Kind("renew") // till to HQ: {prefix}/{store}/{till}/renew
	CertTopicKind  = wire.Kind("cert")  // HQ to till, retained: {prefix}/{store}/{till}/cert

	NextKeyFile  = "tls.key.next" // the key a renewal certifies, 0600
	NextCertFile = "tls.crt.next" // its certificate, until it is swapped in
)

// Renewal bounds.
const (
	// RenewRequestMaxAge: HQ refuses a request made longer ago than this (or this far
	// in the future), so that a recorded request cannot be replayed later.
	RenewRequestMaxAge = 24 * time.Hour
	// RenewMinInterval: HQ refuses to renew a certificate issued less than this ago.
	RenewMinInterval = 10 * time.Minute
	// RenewBefore is how long before expiry a till should renew.
	RenewBefore = 30 * 24 * time.Hour
)

// ErrRenewal: a renewal request or reply that is not valid for this till or this CA.
// ErrRenewalRefused: HQ answered the till's own request with a refusal (it wraps
// ErrRenewal).
var (
	ErrRenewal        = errors.New("renewal refused")
	ErrRenewalRefused = fmt.Errorf("%w by HQ", ErrRenewal)
)

// RenewRequest is what a till publishes on its renew topic.
type RenewRequest struct {
	V     int       `json:"v"`
	Store string    `json:"store"`
	Till  string    `json:"till"`
	At    time.Time `json:"at"`
	CSR   string    `json:"csr"` // PEM, for the new key
	Sig   string    `json:"sig"` // the device key's, over renewRequestMessage
}

// RenewReply is what HQ publishes, retained, on the till's cert topic.
type RenewReply struct {
	V        int       `json:"v"`
	Store    string    `json:"store"`
	Till     string    `json:"till"`
	At       time.Time `json:"at"`
	Request  time.Time `json:"request"`         // the At of the request it answers
	Cert     string    `json:"cert,omitempty"`  // PEM
	Error    string    `json:"error,omitempty"` // why HQ refused, when it did
	Sig      string    `json:"sig"`             // HQ's signing key's, over renewReplyMessage
	Serial   string    `json:"serial,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
}

func sigMessage(parts ...string) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString(p)
		b.WriteByte(0)
	}
	return b.Bytes()
}

func (r RenewRequest) message() []byte {
	return sigMessage("tillbox renew request v1", r.Store, r.Till, r.At.UTC().Format(time.RFC3339Nano), r.CSR)
}

func (r RenewReply) message() []byte {
	return sigMessage("tillbox renew reply v1", r.Store, r.Till, r.At.UTC().Format(time.RFC3339Nano),
		r.Request.UTC().Format(time.RFC3339Nano), r.Cert, r.Error)
}

const maxRenewBytes = 16 << 10

func decodeRenew(p []byte, v any) error {
	if len(p) > maxRenewBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrRenewal, len(p), maxRenewBytes)
	}
	d := json.NewDecoder(bytes.NewReader(p))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrRenewal, err)
	}
	return nil
}

// --- the till's side ---

// Name is the till's "store/till", from its certificate.
func (id *Identity) certificate() (*x509.Certificate, error) {
	return readCert(filepath.Join(id.Dir, CertFile))
}

// CertNotAfter is when the till's certificate expires.
func (id *Identity) CertNotAfter() (time.Time, error) {
	c, err := id.certificate()
	if err != nil {
		return time.Time{}, fmt.Errorf("identity: certificate: %w", err)
	}
	return c.NotAfter, nil
}

// RenewDue reports whether the till's certificate expires within before of now.
func (id *Identity) RenewDue(now time.Time, before time.Duration) bool {
	end, err := id.CertNotAfter()
	return err == nil && !now.Add(before).Before(end)
}

// RenewalRequest makes the request a till publishes on its renew topic: a new TLS key in
// NextKeyFile (or the one a previous attempt left there) and a request for it, signed
// with the device key.
func (id *Identity) RenewalRequest(now time.Time) ([]byte, error) {
	cur, err := id.certificate()
	if err != nil {
		return nil, fmt.Errorf("identity: renew: %w", err)
	}
	store, till, ok := strings.Cut(cur.Subject.CommonName, "/")
	if !ok || !journal.ValidID(store) || !journal.ValidID(till) {
		return nil, fmt.Errorf("identity: renew: %w: certificate name %q is not store/till", ErrRenewal, clip(cur.Subject.CommonName))
	}
	key, err := id.nextKey()
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cur.Subject.CommonName, Organization: []string{"tillbox"}}}, key)
	if err != nil {
		return nil, fmt.Errorf("identity: renew: %w", err)
	}
	r := RenewRequest{V: 1, Store: store, Till: till, At: now.UTC(), CSR: string(pemBlock("CERTIFICATE REQUEST", der))}
	r.Sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(id.device, r.message()))
	return json.Marshal(r)
}

func (id *Identity) nextKey() (*ecdsa.PrivateKey, error) {
	path := filepath.Join(id.Dir, NextKeyFile)
	if k, err := readPrivateKey(path); err == nil {
		if ec, ok := k.(*ecdsa.PrivateKey); ok {
			return ec, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("identity: renew: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: renew: %w", err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := writeFile(path, pemBlock("PRIVATE KEY", der), 0o600); err != nil {
		return nil, fmt.Errorf("identity: renew: %w", err)
	}
	return key, nil
}

// InstallRenewal takes HQ's reply from the cert topic to request (what RenewalRequest
// returned). It returns the new certificate once it is installed: signed by HQ
// (id.HQKey), naming this till, for the key of NextKeyFile and chaining to the fleet CA.
// A reply for another key or another request (a retained answer to an earlier renewal)
// is ErrRenewal and changes nothing; HQ's refusal of request is ErrRenewalRefused with
// HQ's reason. The key and the certificate are swapped so that a power cut at any
// point leaves the old pair or the new one (Load finishes an interrupted swap).
func (id *Identity) InstallRenewal(payload, request []byte) (*x509.Certificate, error) {
	var r RenewReply
	if err := decodeRenew(payload, &r); err != nil {
		return nil, fmt.Errorf("identity: install renewal: %w", err)
	}
	var req RenewRequest
	if err := decodeRenew(request, &req); err != nil {
		return nil, fmt.Errorf("identity: install renewal: request: %w", err)
	}
	if id.HQKey == nil {
		return nil, fmt.Errorf("identity: install renewal: %w: the till has no HQ key to check the reply with", ErrRenewal)
	}
	sig, err := base64.RawURLEncoding.DecodeString(r.Sig)
	if err != nil || !ed25519.Verify(id.HQKey, r.message(), sig) {
		return nil, fmt.Errorf("identity: install renewal: %w: not signed by HQ", ErrRenewal)
	}
	cur, err := id.certificate()
	if err != nil {
		return nil, fmt.Errorf("identity: install renewal: %w", err)
	}
	if Name(r.Store, r.Till) != cur.Subject.CommonName {
		return nil, fmt.Errorf("identity: install renewal: %w: for %s/%s", ErrRenewal, clip(r.Store), clip(r.Till))
	}
	if r.Error != "" {
		if !r.Request.Equal(req.At) {
			return nil, fmt.Errorf("identity: install renewal: %w: a refusal of an earlier request", ErrRenewal)
		}
		return nil, fmt.Errorf("identity: install renewal: %w: %s", ErrRenewalRefused, clip(r.Error))
	}
	k, err := readPrivateKey(filepath.Join(id.Dir, NextKeyFile))
	if err != nil {
		return nil, fmt.Errorf("identity: install renewal: %w: no renewal pending", ErrRenewal)
	}
	next, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity: install renewal: %s: not an ECDSA key", NextKeyFile)
	}
	cert, err := parseCertPEM([]byte(r.Cert))
	if err != nil {
		return nil, fmt.Errorf("identity: install renewal: %w: %w", ErrRenewal, err)
	}
	if !next.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("identity: install renewal: %w: the certificate is for another key", ErrRenewal)
	}
	ca, err := readCert(filepath.Join(id.Dir, CAFile))
	if err != nil {
		return nil, fmt.Errorf("identity: install renewal: %w", err)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil || cert.Subject.CommonName != cur.Subject.CommonName {
		return nil, fmt.Errorf("identity: install renewal: %w: not the fleet CA's certificate for this till", ErrRenewal)
	}
	if err := writeFile(filepath.Join(id.Dir, NextCertFile), []byte(r.Cert), 0o644); err != nil {
		return nil, fmt.Errorf("identity: install renewal: %w", err)
	}
	if err := finishRenewal(id.Dir); err != nil {
		return nil, err
	}
	return cert, nil
}

// finishRenewal swaps a renewed pair in: NextKeyFile over TLSKeyFile, then NextCertFile
// over CertFile, each by a rename. Run again after a power cut, it completes what was
// begun: a NextCertFile whose key is already TLSKeyFile is only renamed.
func finishRenewal(dir string) error {
	certPath, nextCert := filepath.Join(dir, CertFile), filepath.Join(dir, NextCertFile)
	keyPath, nextKey := filepath.Join(dir, TLSKeyFile), filepath.Join(dir, NextKeyFile)
	b, err := os.ReadFile(nextCert)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("identity: renewal: %w", err)
	}
	cert, err := parseCertPEM(b)
	if err != nil {
		return fmt.Errorf("identity: renewal: %s: %w", NextCertFile, err)
	}
	matches := func(path string) bool {
		k, err := readPrivateKey(path)
		if err != nil {
			return false
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		return ok && ec.PublicKey.Equal(cert.PublicKey)
	}
	switch {
	case matches(nextKey):
		if err := renameSync(nextKey, keyPath); err != nil {
			return fmt.Errorf("identity: renewal: %w", err)
		}
	case !matches(keyPath):
		// A certificate for neither key: what a reply for a discarded key leaves.
		os.Remove(nextCert)
		return fmt.Errorf("identity: renewal: %w: %s matches no key", ErrRenewal, NextCertFile)
	}
	if err := renameSync(nextCert, certPath); err != nil {
		return fmt.Errorf("identity: renewal: %w", err)
	}
	return nil
}

func renameSync(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(to)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// reloadingTLS is cfg with a client certificate read again from its files whenever they
// change, so that a renewed certificate is used from the next connection on.
func reloadingTLS(cfg *tls.Config, certFile, keyFile string) *tls.Config {
	var mu sync.Mutex
	var stamp string
	pair := cfg.Certificates[0]
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		fc, err1 := os.Stat(certFile)
		fk, err2 := os.Stat(keyFile)
		if err1 == nil && err2 == nil {
			if s := fc.ModTime().String() + fk.ModTime().String(); s != stamp {
				if p, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
					pair, stamp = p, s
				}
			}
		}
		return &pair, nil
	}
	return cfg
}

// --- HQ's side ---

// AnswerRenewal answers a till's renewal request that arrived on the renew topic of
// store/till: it checks the request names that till, is recent and is signed by its
// device key (deviceKey, from HQ's registry), renews its certificate (CA.Renew) and
// returns the reply to publish, retained, on the till's cert topic. A request it refuses
// is answered too, with the reason, and the error says why; a request it cannot
// attribute to the till gets no reply (nil) at all.
func (c *CA) AnswerRenewal(payload []byte, store, till string, deviceKey ed25519.PublicKey, sign ed25519.PrivateKey, now time.Time) ([]byte, *x509.Certificate, error) {
	var r RenewRequest
	if err := decodeRenew(payload, &r); err != nil {
		return nil, nil, fmt.Errorf("identity: renewal of %s/%s: %w", store, till, err)
	}
	if r.Store != store || r.Till != till {
		return nil, nil, fmt.Errorf("identity: renewal on %s/%s: %w: the request names %s/%s", store, till, ErrRenewal, clip(r.Store), clip(r.Till))
	}
	if deviceKey == nil {
		return nil, nil, fmt.Errorf("identity: renewal of %s/%s: %w: no device key registered", store, till, ErrRenewal)
	}
	sig, err := base64.RawURLEncoding.DecodeString(r.Sig)
	if err != nil || !ed25519.Verify(deviceKey, r.message(), sig) {
		return nil, nil, fmt.Errorf("identity: renewal of %s/%s: %w: not signed by the till's device key", store, till, ErrRenewal)
	}
	reply := RenewReply{V: 1, Store: store, Till: till, At: now.UTC(), Request: r.At}
	var cert *x509.Certificate
	err = func() error {
		if d := now.Sub(r.At); d > RenewRequestMaxAge || d < -RenewRequestMaxAge {
			return fmt.Errorf("%w: the request is from %s", ErrRenewal, r.At.UTC().Format(time.RFC3339))
		}
		name := Name(store, till)
		cur, ok, err := c.Current(name, now)
		if err != nil {
			return err
		}
		min := c.RenewAfter
		if min == 0 {
			min = RenewMinInterval
		}
		if ok && now.Sub(cur.NotBefore.Add(time.Hour)) < min {
			return fmt.Errorf("%w: certificate %s was issued less than %s ago", ErrRenewal, cur.Serial, min)
		}
		pemCert, err := c.Renew([]byte(r.CSR), now)
		if err != nil {
			return err
		}
		if cert, err = parseCertPEM(pemCert); err != nil {
			return err
		}
		reply.Cert, reply.Serial, reply.NotAfter = string(pemCert), cert.SerialNumber.Text(16), cert.NotAfter.UTC()
		return nil
	}()
	if err != nil {
		reply.Error = err.Error()
	}
	reply.Sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(sign, reply.message()))
	b, merr := json.Marshal(reply)
	if merr != nil {
		return nil, nil, fmt.Errorf("identity: renewal of %s/%s: %w", store, till, merr)
	}
	if err != nil {
		return b, nil, fmt.Errorf("identity: renewal of %s/%s: %w", store, till, err)
	}
	return b, cert, nil
}
