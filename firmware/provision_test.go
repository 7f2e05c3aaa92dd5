package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

// TestProvisionThenSignedSales provisions a till with the real binary, signs its request
// with the fleet CA, installs the answer, then sells: every journal entry carries a
// signature that verifies with the printed public key. Nothing the commands print holds
// a private key.
func TestProvisionThenSignedSales(t *testing.T) {
	bin := buildTillbox(t)
	data := t.TempDir()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	out, err := run("provision", "--data", data)
	if err != nil {
		t.Fatalf("provision: %v\n%s", err, out)
	}
	dir := identity.KeyDir(data)
	pubText := strings.TrimSpace(readFile(t, filepath.Join(dir, identity.DevicePubFile)))
	if !strings.Contains(out, pubText) || !strings.Contains(out, filepath.Join(dir, identity.CSRFile)) {
		t.Fatalf("provision does not print the public key and the request:\n%s", out)
	}
	again, err := run("provision", "--data", data)
	if err == nil || !strings.Contains(again, "already provisioned") {
		t.Fatalf("second provision: %v\n%s", err, again)
	}

	ca, err := identity.InitCA(filepath.Join(t.TempDir(), "ca"), "fleet", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.SignCSR([]byte(readFile(t, filepath.Join(dir, identity.CSRFile))), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "tls.crt")
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(certFile, cert, 0o644)
	os.WriteFile(caFile, ca.CertPEM(), 0o644)
	installed, err := run("provision", "--data", data, "--cert", certFile, "--ca", caFile, "--hq-key", ca.SigningPublicKey())
	if err != nil || !strings.Contains(installed, "TLS identity  s001/t01") {
		t.Fatalf("install: %v\n%s", err, installed)
	}
	for _, f := range []string{identity.DeviceKeyFile, identity.TLSKeyFile} {
		blk, _ := pem.Decode([]byte(readFile(t, filepath.Join(dir, f))))
		secret := base64.StdEncoding.EncodeToString(blk.Bytes)
		for _, text := range []string{out, again, installed} {
			if strings.Contains(text, secret[:24]) || strings.Contains(text, "PRIVATE KEY") {
				t.Fatalf("a command printed the private key of %s:\n%s", f, text)
			}
		}
	}

	// The default configuration's embedded HQ: plain MQTT, no signed catalogs sent; the
	// till still signs everything it journals.
	runScript(t, bin, data, "", "signon 1 1234\nscan 5901234123457\nkey SUBTOTAL CASH\ndrawer close\n")
	pub, err := wire.ParsePublicKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := 0
	err = l.After(0, 0, func(e *journal.Entry, _ []byte) bool {
		n++
		sig, derr := base64.RawURLEncoding.DecodeString(e.Sig)
		if derr != nil || !ed25519.Verify(pub, journal.SigMessage(e.Hash), sig) {
			t.Errorf("seq %d (%s) is not signed by the device key", e.Seq, e.Kind)
		}
		return true
	})
	if err != nil || n < 3 {
		t.Fatalf("%d entries: %v", n, err)
	}
	if log := readFile(t, filepath.Join(data, "test.log")); !strings.Contains(log, pubText) || strings.Contains(log, "PRIVATE KEY") {
		t.Fatalf("the run log should name the device by its public key only:\n%s", log)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
