package identity_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

var now = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// secrets returns every private key of the till's and the CA's directories in the forms
// they could leak in: PEM text, base64 of the DER, and the raw ed25519 key in base64.
func secrets(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, dir := range dirs {
		for _, f := range []string{identity.DeviceKeyFile, identity.TLSKeyFile, identity.CAKeyFile, identity.SigningKeyFile} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				continue
			}
			blk, _ := pem.Decode(b)
			out = append(out, strings.TrimSpace(string(b)), base64.StdEncoding.EncodeToString(blk.Bytes)[:40])
			if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
				if ed, ok := k.(ed25519.PrivateKey); ok {
					out = append(out, base64.RawURLEncoding.EncodeToString(ed.Seed())[:20], base64.StdEncoding.EncodeToString(ed)[:20],
						fmt.Sprint([]byte(ed)[:8])[1:20])
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no private keys found: the test would prove nothing")
	}
	return out
}

func assertNoSecret(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Fatalf("%s shows a private key (%q...):\n%s", what, s[:10], text)
		}
	}
}

func TestProvisionSignInstallLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	caDir := filepath.Join(t.TempDir(), "ca")
	p, err := identity.Provision(dir, "s042", "t03", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ParsePublicKey(p.PublicKey); err != nil {
		t.Fatalf("printed public key: %v", err)
	}
	for f, mode := range map[string]os.FileMode{identity.DeviceKeyFile: 0o600, identity.TLSKeyFile: 0o600, identity.CSRFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v, mode %v, want %v", f, err, fi.Mode().Perm(), mode)
		}
	}
	if _, err := identity.Provision(dir, "s042", "t03", nil); !errors.Is(err, identity.ErrExists) {
		t.Fatalf("second provision: %v", err)
	}
	if _, err := identity.Provision(t.TempDir(), "S042", "t03", nil); !errors.Is(err, identity.ErrRefused) {
		t.Fatalf("bad store id: %v", err)
	}

	ca, err := identity.InitCA(caDir, "fleet CA", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := identity.InitCA(caDir, "again", now); !errors.Is(err, identity.ErrExists) {
		t.Fatalf("second ca init: %v", err)
	}
	ca, err = identity.OpenCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := os.ReadFile(p.CSR)
	cert, err := ca.SignCSR(csr, now)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := pem.Decode(cert)
	x, _ := x509.ParseCertificate(c.Bytes)
	if x.Subject.CommonName != "s042/t03" || len(x.ExtKeyUsage) != 1 || x.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Fatalf("certificate: CN %q usage %v", x.Subject.CommonName, x.ExtKeyUsage)
	}
	// Another till's certificate does not install here.
	other := filepath.Join(t.TempDir(), "keys")
	op, _ := identity.Provision(other, "s042", "t04", nil)
	ocsr, _ := os.ReadFile(op.CSR)
	ocert, _ := ca.SignCSR(ocsr, now)
	if err := identity.Install(dir, ocert, ca.CertPEM(), ""); !errors.Is(err, identity.ErrRefused) {
		t.Fatalf("installing another till's certificate: %v", err)
	}
	if err := identity.Install(dir, cert, ca.CertPEM(), ca.SigningPublicKey()); err != nil {
		t.Fatal(err)
	}
	id, err := identity.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id.TLS == nil || id.HQKey == nil || id.PublicKey != p.PublicKey {
		t.Fatalf("loaded identity incomplete: %v", id)
	}
	sig, _ := id.Sign([]byte("m"))
	if !ed25519.Verify(id.Public, []byte("m"), sig) {
		t.Fatal("device signature does not verify")
	}

	// Whatever a log or a status could print of the identity and the CA holds no secret.
	keys := secrets(t, dir, caDir)
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	log.Info("loaded", "identity", id, "value", *id, "ca", ca)
	log.Info("ca", "value", *ca)
	for _, form := range []string{"%v", "%+v", "%#v", "%s"} {
		assertNoSecret(t, "fmt "+form, fmt.Sprintf(form, id)+fmt.Sprintf(form, *id)+fmt.Sprintf(form, ca)+fmt.Sprintf(form, *ca), keys)
	}
	assertNoSecret(t, "slog", logBuf.String(), keys)
	if !strings.Contains(fmt.Sprint(id), p.PublicKey) {
		t.Fatalf("identity does not show its public key: %v", id)
	}
	// Damaged key files are reported by name, without their content.
	os.WriteFile(filepath.Join(dir, identity.DeviceKeyFile), bytes.Replace([]byte(keys[0]), []byte("PRIVATE KEY-----\n"), []byte("PRIVATE KEY-----\nAAAA"), 1), 0o600)
	_, err = identity.Load(dir)
	if err == nil || !strings.Contains(err.Error(), identity.DeviceKeyFile) {
		t.Fatalf("damaged device key: %v", err)
	}
	assertNoSecret(t, "load error", err.Error(), keys)
	if _, err := identity.Load(t.TempDir()); !errors.Is(err, identity.ErrNotProvisioned) {
		t.Fatalf("empty dir: %v", err)
	}
}

func TestCARefusesNamesThatAreNotTills(t *testing.T) {
	ca, err := identity.InitCA(t.TempDir(), "fleet CA", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, cn := range []string{"hq", "s042/t03/x", "s042/+", "#", "s042/", "/t03", "S042/t03"} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
		if _, err := ca.SignCSR(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), now); !errors.Is(err, identity.ErrRefused) {
			t.Errorf("CN %q: %v", cn, err)
		}
	}
	for _, name := range []string{"s042/t03", "+", ""} {
		if _, _, err := ca.IssueAccount(name, now); !errors.Is(err, identity.ErrRefused) {
			t.Errorf("account %q: %v", name, err)
		}
	}
	cert, _, err := ca.IssueAccount("tillhq", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(cert, now); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(ca.Dir, identity.CRLFile))
	blk, _ := pem.Decode(b)
	crl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil || crl.CheckSignatureFrom(ca.Cert) != nil || len(crl.RevokedCertificateEntries) != 1 {
		t.Fatalf("CRL after revoke: %v, %+v", err, crl)
	}
	foreign, _ := identity.InitCA(t.TempDir(), "other CA", now)
	fcert, _, _ := foreign.IssueAccount("tillhq", now)
	if err := ca.Revoke(fcert, now); !errors.Is(err, identity.ErrRefused) {
		t.Fatalf("revoking another CA's certificate: %v", err)
	}
}
