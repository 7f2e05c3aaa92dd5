package identity_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"tillbox/uplink/identity"
)

// TestClusterNodeCertificateServesAndDials: a cluster node's certificate verifies against
// the fleet CA both as a server's (clients connect to the node) and as a client's (the node
// dials the other nodes' routes, which verify it), where a broker's verifies as a server's
// only.
func TestClusterNodeCertificateServesAndDials(t *testing.T) {
	now := time.Now()
	ca, err := identity.InitCA(filepath.Join(t.TempDir(), "ca"), "test", now)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())
	verify := func(certPEM []byte, usage x509.ExtKeyUsage) error {
		b, _ := pem.Decode(certPEM)
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: "nats-1.hq.example"})
		return err
	}
	node, _, err := ca.IssueClusterNode([]string{"nats-1.hq.example", "10.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if err := verify(node, u); err != nil {
			t.Errorf("cluster node certificate, usage %v: %v", u, err)
		}
	}
	broker, _, err := ca.IssueServer([]string{"nats-1.hq.example"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(broker, x509.ExtKeyUsageClientAuth); err == nil {
		t.Error("a broker's certificate verified as a client's")
	}
	if _, _, err := ca.IssueClusterNode(nil, now); !errors.Is(err, identity.ErrRefused) {
		t.Errorf("no host: %v, want ErrRefused", err)
	}
}
