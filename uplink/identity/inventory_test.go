package identity_test

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/uplink/identity"
)

func certOf(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("no PEM in %q", b)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func revokedSerials(t *testing.T, ca *identity.CA) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ca.Dir, identity.CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	crl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range crl.RevokedCertificateEntries {
		out[e.SerialNumber.Text(16)] = true
	}
	return out
}

// TestCAInventory: the CA lists what it issued, refuses a second identity for a till
// unless replacing it (which revokes the first), revokes by till, and issues for a year
// unless told otherwise.
func TestCAInventory(t *testing.T) {
	ca, err := identity.InitCA(filepath.Join(t.TempDir(), "ca"), "test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	csrOf := func(till string) []byte {
		p, err := identity.Provision(filepath.Join(t.TempDir(), "keys"), "s042", till, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p.CSR)
		return b
	}
	first, err := ca.SignCSR(csrOf("t01"), now)
	if err != nil {
		t.Fatal(err)
	}
	c1 := certOf(t, first)
	if got := c1.NotAfter.Sub(now); got != identity.CertValidity || identity.CertValidity != 365*24*time.Hour {
		t.Errorf("lifetime %v, want a year", got)
	}
	// A second box claiming t01 is refused, and nothing is issued.
	if _, err := ca.SignCSR(csrOf("t01"), now.Add(time.Hour)); !errors.Is(err, identity.ErrExists) || !strings.Contains(err.Error(), c1.SerialNumber.Text(16)) {
		t.Fatalf("second identity: %v, want ErrExists naming the serial", err)
	}
	ca.Validity = 90 * 24 * time.Hour
	second, err := ca.SignReplacing(csrOf("t01"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c2 := certOf(t, second)
	if got := c2.NotAfter.Sub(now.Add(time.Hour)); got != 90*24*time.Hour {
		t.Errorf("lifetime %v, want the CA's Validity", got)
	}
	if crl := revokedSerials(t, ca); !crl[c1.SerialNumber.Text(16)] || crl[c2.SerialNumber.Text(16)] {
		t.Errorf("after replacing: CRL %v, want the first certificate only", crl)
	}
	if _, err := ca.SignCSR(csrOf("t02"), now); err != nil {
		t.Fatal(err)
	}
	gone, err := ca.RevokeName("s042/t01", now.Add(2*time.Hour))
	if err != nil || len(gone) != 1 || gone[0].Serial != c2.SerialNumber.Text(16) {
		t.Fatalf("revoke by name: %+v, %v", gone, err)
	}
	if _, err := ca.RevokeName("s042/t01", now.Add(2*time.Hour)); !errors.Is(err, identity.ErrRefused) {
		t.Errorf("revoking a till with nothing in force: %v", err)
	}
	if _, err := ca.RevokeName("s042/t09", now); !errors.Is(err, identity.ErrRefused) {
		t.Errorf("revoking an unknown till: %v", err)
	}
	// Once revoked, the till may be signed again without --replace.
	if _, err := ca.SignCSR(csrOf("t01"), now.Add(3*time.Hour)); err != nil {
		t.Errorf("signing a till whose certificates are all revoked: %v", err)
	}
	list, err := ca.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, i := range list {
		s := i.Name + ":" + i.Kind
		if i.Revoked != nil {
			s += ":revoked"
		}
		states = append(states, s)
	}
	if got := strings.Join(states, " "); got != "s042/t01:till:revoked s042/t01:till:revoked s042/t01:till s042/t02:till" {
		t.Errorf("inventory: %s", got)
	}
	if crl := revokedSerials(t, ca); len(crl) != 2 {
		t.Errorf("CRL holds %d, want 2", len(crl))
	}
	inv, err := identity.OpenInventory(ca.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Serial("s042", "t02") == "" || inv.Serial("s042", "t01") != list[2].Serial || inv.Serial("s042", "t09") != "" {
		t.Errorf("inventory serials: t01 %q t02 %q", inv.Serial("s042", "t01"), inv.Serial("s042", "t02"))
	}
	// Revoking by file marks the inventory too.
	b, _ := os.ReadFile(filepath.Join(ca.Dir, identity.InventoryFile))
	var raw []map[string]any
	if json.Unmarshal(b, &raw) != nil || len(raw) != 4 {
		t.Fatalf("%s: %s", identity.InventoryFile, b)
	}
}

// provisioned is a till identity signed by ca, as provisioning leaves it.
func provisioned(t *testing.T, ca *identity.CA, till string, at time.Time) *identity.Identity {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	p, err := identity.Provision(dir, "s042", till, nil)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := os.ReadFile(p.CSR)
	cert, err := ca.SignCSR(csr, at)
	if err != nil {
		t.Fatal(err)
	}
	if err := identity.Install(dir, cert, ca.CertPEM(), ca.SigningPublicKey()); err != nil {
		t.Fatal(err)
	}
	id, err := identity.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRenewalOffline runs the renewal's three steps without a broker: the till's
// request, HQ's answer, the till's swap; and every way one of them must refuse.
func TestRenewalOffline(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second) // Install checks validity by the real clock
	ca, err := identity.InitCA(filepath.Join(t.TempDir(), "ca"), "test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	ca.Validity = 60 * 24 * time.Hour
	id := provisioned(t, ca, "t01", now)
	other := provisioned(t, ca, "t02", now)
	later := now.Add(45 * 24 * time.Hour)
	if id.RenewDue(now, identity.RenewBefore) || !id.RenewDue(later, identity.RenewBefore) {
		t.Fatal("RenewDue: want false at issue, true 15 days before the end")
	}
	oldCert, _ := os.ReadFile(filepath.Join(id.Dir, identity.CertFile))
	req, err := id.RenewalRequest(later)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := id.RenewalRequest(later)
	var r1, r2 struct{ CSR string }
	json.Unmarshal(req, &r1)
	json.Unmarshal(again, &r2)
	if pubOfCSR(t, r1.CSR) != pubOfCSR(t, r2.CSR) {
		t.Error("a second request made a second key: a lost answer would leave a key without a certificate")
	}
	// HQ refuses what the till's device key did not sign, or for another till's topic.
	if _, _, err := ca.AnswerRenewal(req, "s042", "t01", other.Public, ca.SigningKey(), later); !errors.Is(err, identity.ErrRenewal) {
		t.Errorf("another device key: %v", err)
	}
	if reply, _, err := ca.AnswerRenewal(req, "s042", "t02", other.Public, ca.SigningKey(), later); !errors.Is(err, identity.ErrRenewal) || reply != nil {
		t.Errorf("on another till's topic: %v", err)
	}
	forged := strings.Replace(string(req), `"till":"t01"`, `"till":"t02"`, 1)
	if _, _, err := ca.AnswerRenewal([]byte(forged), "s042", "t02", other.Public, ca.SigningKey(), later); !errors.Is(err, identity.ErrRenewal) {
		t.Errorf("a request altered to name t02: %v", err)
	}
	// A replayed old request is answered with a refusal the till can read.
	reply, _, err := ca.AnswerRenewal(req, "s042", "t01", id.Public, ca.SigningKey(), later.Add(48*time.Hour))
	if !errors.Is(err, identity.ErrRenewal) || reply == nil {
		t.Fatalf("old request: %v", err)
	}
	if _, err := id.InstallRenewal(reply, req); !errors.Is(err, identity.ErrRenewalRefused) {
		t.Errorf("the refusal at the till: %v", err)
	}
	reply, cert, err := ca.AnswerRenewal(req, "s042", "t01", id.Public, ca.SigningKey(), later)
	if err != nil {
		t.Fatal(err)
	}
	if got := cert.NotAfter.Sub(later); got != 60*24*time.Hour {
		t.Errorf("renewed for %v", got)
	}
	// The till refuses the reply when it is not HQ's, or for another till.
	if _, err := other.InstallRenewal(reply, req); !errors.Is(err, identity.ErrRenewal) {
		t.Errorf("t02 took t01's certificate: %v", err)
	}
	var unsigned map[string]any
	json.Unmarshal(reply, &unsigned)
	unsigned["serial"] = "00"
	unsigned["cert"] = "x"
	bad, _ := json.Marshal(unsigned)
	if _, err := id.InstallRenewal(bad, req); !errors.Is(err, identity.ErrRenewal) {
		t.Errorf("an altered reply: %v", err)
	}
	var m map[string]any
	json.Unmarshal(reply, &m)
	m["cert"] = string(oldCert)
	swapped, _ := json.Marshal(m)
	if _, err := id.InstallRenewal(swapped, req); !errors.Is(err, identity.ErrRenewal) {
		t.Errorf("a reply whose certificate was swapped: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(id.Dir, identity.CertFile)); string(b) != string(oldCert) {
		t.Fatal("a refused reply changed the certificate")
	}
	got, err := id.InstallRenewal(reply, req)
	if err != nil {
		t.Fatal(err)
	}
	if got.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Error("installed another certificate")
	}
	if _, err := os.Stat(filepath.Join(id.Dir, identity.NextKeyFile)); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", identity.NextKeyFile, err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(id.Dir, identity.CertFile), filepath.Join(id.Dir, identity.TLSKeyFile))
	if err != nil {
		t.Fatalf("the new files are no pair: %v", err)
	}
	if pair.Leaf.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Error("tls.crt is not the renewed certificate")
	}
	// id.TLS gives the new pair at the next handshake.
	c, err := id.TLS.GetClientCertificate(&tls.CertificateRequestInfo{})
	if err != nil || certOf(t, pemOf(c.Certificate[0])).SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Errorf("the TLS configuration still offers the old certificate: %v", err)
	}
	// The inventory: the old one renewed (still valid until its end), the new one current;
	// a second renewal within RenewMinInterval is refused.
	cur, ok, _ := ca.Current("s042/t01", later)
	if !ok || cur.Serial != cert.SerialNumber.Text(16) {
		t.Errorf("current certificate %+v", cur)
	}
	req2, _ := id.RenewalRequest(later.Add(time.Minute))
	if _, _, err := ca.AnswerRenewal(req2, "s042", "t01", id.Public, ca.SigningKey(), later.Add(time.Minute)); !errors.Is(err, identity.ErrRenewal) {
		t.Errorf("renewal a minute after the last: %v", err)
	}
}

// TestRenewalSwapSurvivesPowerCut: a swap cut after the key was renamed but before the
// certificate was is finished by Load.
func TestRenewalSwapSurvivesPowerCut(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	ca, _ := identity.InitCA(filepath.Join(t.TempDir(), "ca"), "test CA", now)
	id := provisioned(t, ca, "t01", now)
	req, _ := id.RenewalRequest(now.Add(time.Hour))
	reply, cert, err := ca.AnswerRenewal(req, "s042", "t01", id.Public, ca.SigningKey(), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Cert string }
	json.Unmarshal(reply, &r)
	// What InstallRenewal had done when the power went: the certificate written beside,
	// the key renamed, the certificate not yet.
	os.WriteFile(filepath.Join(id.Dir, identity.NextCertFile), []byte(r.Cert), 0o644)
	if err := os.Rename(filepath.Join(id.Dir, identity.NextKeyFile), filepath.Join(id.Dir, identity.TLSKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(id.Dir, identity.CertFile), filepath.Join(id.Dir, identity.TLSKeyFile)); err == nil {
		t.Fatal("the cut left a matching pair: the test cuts in the wrong place")
	}
	again, err := identity.Load(id.Dir)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(again.Dir, identity.CertFile), filepath.Join(again.Dir, identity.TLSKeyFile))
	if err != nil || pair.Leaf.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Fatalf("after Load: %v", err)
	}
}

func pubOfCSR(t *testing.T, p string) string {
	t.Helper()
	blk, _ := pem.Decode([]byte(p))
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(csr.PublicKey.(*ecdsa.PublicKey))
	return string(der)
}

func pemOf(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) }
