package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tillbox/uplink/identity"
	"tillbox/uplink/rig"
)

// TestTheRunningTillRenewsItsCertificate: a till provisioned with a certificate that
// expires within identity.RenewBefore, running against a real tillhq serve --ca, renews it
// once its uplink is up: the new certificate is installed in its key directory, is valid
// for the CA's full lifetime, is the CA's current one for the till, and the outcome is in
// the events stream and the log. A till whose certificate is not due asks nothing.
func TestTheRunningTillRenewsItsCertificate(t *testing.T) {
	bin := buildTillbox(t)
	hqBin := rig.Build(t, "tillbox/uplink/hq/cmd/tillhq", t.TempDir())
	dir := t.TempDir()
	caDir, keys, data := filepath.Join(dir, "ca"), filepath.Join(dir, "keys"), filepath.Join(dir, "data")
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(hqBin, "ca", "init", "--ca", caDir)
	run(bin, "provision", "--data", data)
	kd := identity.KeyDir(data)
	ca, err := identity.OpenCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	// Issued 360 days ago: five days left, inside RenewBefore.
	cert, err := ca.SignCSR([]byte(readFile(t, filepath.Join(kd, identity.CSRFile))), time.Now().Add(-360*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "tls.crt")
	os.WriteFile(certFile, cert, 0o644)
	run(bin, "provision", "--data", data, "--cert", certFile, "--ca", filepath.Join(caDir, identity.CACertFile), "--hq-key", ca.SigningPublicKey())
	run(hqBin, "register", "--keys", keys, "s001", "t01", strings.TrimSpace(readFile(t, filepath.Join(kd, identity.DevicePubFile))))
	oldCert := parseCert(t, readFile(t, filepath.Join(kd, identity.CertFile)))

	addr := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	rig.StartProc(t, "tillhq", dir, exec.Command(hqBin, "serve", "-v", "--listen", addr, "--store", filepath.Join(dir, "hq.db"),
		"--keys", keys, "--sign-key", filepath.Join(caDir, identity.SigningKeyFile), "--ca", caDir))
	if err := rig.WaitListening(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "till.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"data":%q,"uplink":{"broker":"tcp://%s","embedded":false}}`, data, addr)), 0o600)
	events, logFile := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "till.log")
	cmd, done := startScripted(t, bin, "wait 60s\n", "--config", cfg, "--events", events, "--log", logFile)
	select {
	case err := <-done:
		t.Fatalf("the till stopped at once: %v\n%s", err, rig.Tail(logFile, 20))
	case <-time.After(time.Second):
	}

	var line string
	for deadline := time.Now().Add(30 * time.Second); line == ""; {
		b, _ := os.ReadFile(events)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, `"t":"certificate"`) {
				line = l
			}
		}
		if line == "" && time.Now().After(deadline) {
			t.Fatalf("no certificate event:\n%s\nlog:\n%s", b, rig.Tail(logFile, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(line, `"renewed":true`) {
		t.Fatalf("renewal: %s\nlog:\n%s", line, rig.Tail(logFile, 20))
	}
	newCert := parseCert(t, readFile(t, filepath.Join(kd, identity.CertFile)))
	serial := newCert.SerialNumber.Text(16)
	if newCert.SerialNumber.Cmp(oldCert.SerialNumber) == 0 || time.Until(newCert.NotAfter) < 300*24*time.Hour ||
		newCert.Subject.CommonName != "s001/t01" {
		t.Fatalf("installed certificate %s for %s until %s", serial, newCert.Subject.CommonName, newCert.NotAfter)
	}
	if !strings.Contains(line, serial) || !strings.Contains(readFile(t, logFile), "certificate renewed") {
		t.Errorf("the event %s or the log does not report serial %s", line, serial)
	}
	if cur, ok, err := ca.Current("s001/t01", time.Now()); err != nil || !ok || cur.Serial != serial {
		t.Errorf("the CA's current certificate for s001/t01: %+v %v %v, want %s", cur, ok, err, serial)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("the till's exit: %v", err)
	}
	// Renewed: the next start finds nothing due and leaves the files alone.
	startScripted(t, bin, "synced\nwait 3s\n", "--config", cfg, "--events", events, "--log", logFile)
	waitFor := time.Now().Add(30 * time.Second)
	for countIn(logFile, "renewal=\"not due\"") == 0 {
		if time.Now().After(waitFor) {
			t.Fatalf("the second run never checked its certificate:\n%s", rig.Tail(logFile, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if again := parseCert(t, readFile(t, filepath.Join(kd, identity.CertFile))); again.SerialNumber.Cmp(newCert.SerialNumber) != 0 {
		t.Errorf("a certificate not due was renewed: %s", again.SerialNumber.Text(16))
	}
}

func parseCert(t *testing.T, p string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(p))
	if blk == nil {
		t.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
