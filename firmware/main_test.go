package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// buildTillbox builds the real binary once per test run.
func buildTillbox(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tillbox")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=test-1", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestLedgerToolsOnTheRealBinary(t *testing.T) {
	bin := buildTillbox(t)
	data := t.TempDir()
	l, err := ledger.Open(ledgerFile(data), &ledger.Options{Store: "s042", Till: "t03"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := l.Append(journal.Entry{Kind: journal.KindSale, Currency: "EUR", Totals: &journal.Totals{Gross: 100}}); err != nil {
			t.Fatal(err)
		}
	}
	l.Confirm(1)
	l.Close()

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	out, err := run("version")
	if err != nil || strings.TrimSpace(out) != "tillbox test-1" {
		t.Fatalf("version: %q %v", out, err)
	}
	out, err = run("ledger", "verify", "--data", data)
	if err != nil || !strings.Contains(out, "OK: 3 entries") {
		t.Fatalf("verify: %q %v", out, err)
	}
	out, err = run("ledger", "stats", "--data", data)
	if err != nil || !strings.Contains(out, "unsynced     2") || !strings.Contains(out, "s042/t03") {
		t.Fatalf("stats: %q %v", out, err)
	}
	usb := filepath.Join(t.TempDir(), "export.jsonl")
	out, err = run("ledger", "export", "--data", data, "-o", usb)
	if err != nil || !strings.Contains(out, "exported 2") {
		t.Fatalf("export: %q %v", out, err)
	}
	f, _ := os.Open(usb)
	es, err := journal.ReadExport(f)
	f.Close()
	if err != nil || len(es) != 2 || es[0].Seq != 2 {
		t.Fatalf("export file: %d entries, %v", len(es), err)
	}
	// A damaged ledger: the tool says why and exits non-zero; the file is untouched.
	os.WriteFile(ledgerFile(data), []byte("garbage garbage garbage"), 0o600)
	out, err = run("ledger", "verify", "--data", data)
	if err == nil || !strings.Contains(out, "damaged") {
		t.Fatalf("verify of a damaged file: %q %v", out, err)
	}
	if b, _ := os.ReadFile(ledgerFile(data)); string(b) != "garbage garbage garbage" {
		t.Fatal("the tool changed a damaged file")
	}
	out, err = run("frobnicate")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(out, "usage") {
		t.Fatalf("unknown command: %q %v", out, err)
	}
}

func TestSelftestOnTheSimBoard(t *testing.T) {
	bin := buildTillbox(t)
	out, err := exec.Command(bin, "selftest").CombinedOutput()
	if err != nil {
		t.Fatalf("selftest: %v\n%s", err, out)
	}
	for _, want := range []string{"printer  ok", "display  ok", "drawer   ok"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("selftest output lacks %q:\n%s", want, out)
		}
	}
	// A board with no drawer wired: the step fails and says why, and so does the command.
	cfg := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(cfg, []byte(`{"devices":{"drawer":null}}`), 0o600)
	out, err = exec.Command(bin, "selftest", "--config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "drawer   FAIL  no drawer on this board") {
		t.Fatalf("selftest without a drawer: %v\n%s", err, out)
	}
}

// startScripted starts `tillbox run --script` with the script's text and the other
// arguments; the channel gets Wait's result. The process is killed when the test ends.
func startScripted(t *testing.T, bin, script string, args ...string) (*exec.Cmd, chan error) {
	t.Helper()
	sp := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(sp, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"run", "--script", sp}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, done
}
