package uplink_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

// TestCertificateRenewalOverMQTT renews a till's certificate through the shipped TLS and
// ACL configuration while its uplink runs: HQ answers the request its device key signed,
// the till swaps its files, the next connection uses the new certificate, and the CA's
// inventory records it. A till whose device key HQ does not know gets nothing, and
// another till cannot ask for t01's certificate.
func TestCertificateRenewalOverMQTT(t *testing.T) {
	r := newFleetRig(t, "t01", "t02")
	stranger := r.provision("t03", false) // certified, device key not registered
	r.writeACL()
	r.mq.Reload()
	r.ca.RenewAfter = -1 // the tills were certified a moment ago
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	issued := make(chan *x509.Certificate, 4)
	ready := make(chan struct{})
	ho := hq.Options{Broker: r.url(), TLS: r.hqTLS, Keys: r.keys, SignKey: r.ca.SigningKey()}
	go hq.ServeRenewals(ctx, ho, r.ca, func(_ hq.TillKey, c *x509.Certificate) { issued <- c }, ready)
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		t.Fatal("renewals never subscribed")
	}

	id := r.tills["t01"]
	before, _ := os.ReadFile(filepath.Join(id.Dir, identity.CertFile))
	old, ok, _ := r.ca.Current("s042/t01", time.Now())
	if !ok {
		t.Fatal("t01 has no current certificate in the inventory")
	}
	oldSerial := serialOf(t, old.Serial)
	// The till's uplink keeps running on the old certificate meanwhile.
	l := signedLedger(t, id, "t01")
	o := r.tillOptions("t01")
	c, _ := runTill(t, l, o)
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	cert, err := uplink.RenewCertificate(rctx, *o, id, "s042", "t01")
	if err != nil {
		t.Fatal(err)
	}
	if cert.SerialNumber.Cmp(oldSerial) == 0 || cert.Subject.CommonName != "s042/t01" {
		t.Fatalf("renewed certificate %s for %s", cert.SerialNumber.Text(16), cert.Subject.CommonName)
	}
	select {
	case got := <-issued:
		if got.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			t.Errorf("HQ issued %s, the till installed %s", got.SerialNumber.Text(16), cert.SerialNumber.Text(16))
		}
	case <-time.After(5 * time.Second):
		t.Error("HQ did not report the certificate it issued")
	}
	after, _ := os.ReadFile(filepath.Join(id.Dir, identity.CertFile))
	if string(after) == string(before) {
		t.Fatal("tls.crt unchanged")
	}
	// The uplink's session was never disturbed; the next connection shows the new
	// certificate.
	if !c.State().Online {
		t.Error("the till's uplink went offline during the renewal")
	}
	var shown *x509.Certificate
	cfg := id.TLS.Clone()
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { return nil }
	get := cfg.GetClientCertificate
	cfg.GetClientCertificate = func(i *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c, err := get(i)
		if err == nil {
			shown, _ = x509.ParseCertificate(c.Certificate[0])
		}
		return c, err
	}
	r.mustDial("s042-t01-check", cfg)
	if shown == nil || shown.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Errorf("the next connection did not show the renewed certificate")
	}
	cur, ok, _ := r.ca.Current("s042/t01", time.Now())
	if !ok || cur.Serial != cert.SerialNumber.Text(16) {
		t.Errorf("the CA's current certificate for t01: %+v", cur)
	}

	// No registered device key: no answer at all.
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	so := fastOptions(r.url())
	so.TLS, so.HQKey = stranger.TLS, stranger.HQKey
	if _, err := uplink.RenewCertificate(sctx, *so, stranger, "s042", "t03"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("renewal for an unregistered till: %v, want no answer", err)
	}
	// t02 asking on t01's topics: the ACL lets it neither publish there nor read t01's cert.
	t2 := r.mustDial("s042-t02-x", r.tills["t02"].TLS)
	seen := t2.collect(wire.Topics{}.Till("s042", "t01", identity.CertTopicKind))
	req, _ := r.tills["t02"].RenewalRequest(time.Now())
	t2.cli.Publish(wire.Topics{}.Till("s042", "t01", identity.RenewTopicKind), 1, false, req).WaitTimeout(5 * time.Second)
	select {
	case got := <-issued:
		t.Errorf("HQ issued %s on t02's request for t01's topic", got.Subject.CommonName)
	case <-time.After(2 * time.Second):
	}
	if n := len(seen()); n != 0 {
		t.Errorf("t02 read %d messages of t01's cert topic", n)
	}
}

func serialOf(t *testing.T, hex string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(hex, 16)
	if !ok {
		t.Fatalf("serial %q", hex)
	}
	return n
}
