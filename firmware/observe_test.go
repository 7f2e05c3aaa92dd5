package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tillbox/firmware/app"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// TestACommitIsQueuedForPrintThenTheDrawerOpensThenTheDisplayShowsTheChange reads the
// events of a cash sale with change: the commit's line carries its receipt, total and
// lines, and what follows it comes in the order the run loop documents.
func TestACommitIsQueuedForPrintThenTheDrawerOpensThenTheDisplayShowsTheChange(t *testing.T) {
	bin := buildTillbox(t)
	ev := runScript(t, bin, t.TempDir(), offlineConfig, `
signon 1 1234
scan 5901234123457
key 3 QTY
scan 4006381333931
key SUBTOTAL
type 2000
key CASH
drawer close
drain
`)
	at := -1
	for i, e := range ev {
		if e["t"] == "commit" && e["kind"] == "sale" {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatal("no sale committed")
	}
	c := ev[at]
	receipt, _ := c["receipt"].(string)
	lines, _ := c["lines"].([]any)
	// Brot 3,49 + 3 x Wasser 1,29 = 7,36
	if !strings.HasPrefix(receipt, "S001-T01-") || c["total"] != float64(736) || c["currency"] != "EUR" || len(lines) != 2 {
		t.Fatalf("commit event %v", c)
	}
	if l, _ := lines[1].(map[string]any); l["item"] != "2" || l["qty"] != float64(3000) || l["amount"] != float64(387) {
		t.Fatalf("second line %v", lines[1])
	}
	step := func(name string, match func(map[string]any) bool) int {
		t.Helper()
		for i := at + 1; i < len(ev); i++ {
			if match(ev[i]) {
				return i
			}
		}
		t.Fatalf("no %s after the commit: %v", name, ev[at:])
		return 0
	}
	queued := step("print-queued", func(e map[string]any) bool { return e["t"] == "print-queued" && e["receipt"] == receipt })
	kicked := step("drawer kick", func(e map[string]any) bool { return e["t"] == "drawer" && e["kick"] == "sale "+receipt })
	shown := step("change on the customer display", func(e map[string]any) bool {
		left, _ := e["left"].([]any)
		return e["t"] == "customer" && len(left) > 0 && left[0] == "CHANGE"
	})
	step("printed", func(e map[string]any) bool { return e["t"] == "printed" && e["receipt"] == receipt })
	if !(queued < kicked && kicked < shown) {
		t.Fatalf("after the commit: print queued at %d, drawer kicked at %d, change shown at %d", queued, kicked, shown)
	}
}

// TestTheScriptAcknowledgesEachCommandAndItsWaitsHaveALimit: every command gets its line;
// a wait that runs out names its limit, stops the script, and the run fails.
func TestTheScriptAcknowledgesEachCommandAndItsWaitsHaveALimit(t *testing.T) {
	bin := buildTillbox(t)
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(cfg, []byte(offlineConfig), 0o600)
	sp := filepath.Join(t.TempDir(), "script")
	os.WriteFile(sp, []byte("signon 1 1234\nscan 5901234123457\nkey SUBTOTAL CASH\nwait printed 5s\n# paper runs out\npaper out\nscan 5901234123457\nkey SUBTOTAL CASH\nwait printed 300ms\nscan 4006381333931\n"), 0o600)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "run", "--data", data, "--config", cfg, "--script", sp, "--log", filepath.Join(data, "log"))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		t.Fatalf("a script whose wait ran out succeeded:\n%s", stdout.String())
	}
	want := []string{
		"ok 1 signon 1 1234",
		"ok 2 scan 5901234123457",
		"ok 3 key SUBTOTAL CASH",
		"ok 4 wait printed 5s",
		"ok 6 paper out",
		"ok 7 scan 5901234123457",
		"ok 8 key SUBTOTAL CASH",
		"error 9 wait printed 300ms: print queue not drained within 300ms: 1 jobs left",
	}
	got := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("acknowledgements:\n%s\nwant:\n%s", stdout.String(), strings.Join(want, "\n"))
	}
	if !strings.Contains(stderr.String(), "script line 9") {
		t.Fatalf("stderr %q does not name the line", stderr.String())
	}
	// A bad limit is refused before anything waits.
	os.WriteFile(sp, []byte("wait synced forever\n"), 0o600)
	out, err := exec.Command(bin, "run", "--data", data, "--config", cfg, "--script", sp, "--log", filepath.Join(data, "log")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `error 1 wait synced forever: limit "forever"`) {
		t.Fatalf("bad limit: %v\n%s", err, out)
	}
}

// TestTheRunningTillAnswersLedgerStatsAndWritesItsRollAsItPrints: while the till holds the
// ledger, `ledger stats|verify --json` are answered by it; the sim printer's roll is on
// disk before the till stops, so a SIGKILL loses none of it.
func TestTheRunningTillAnswersLedgerStatsAndWritesItsRollAsItPrints(t *testing.T) {
	bin := buildTillbox(t)
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(cfg, []byte(offlineConfig), 0o600)
	cmd, done := startScripted(t, bin, "signon 1 1234\nscan 5901234123457\nkey SUBTOTAL CASH\ndrawer close\nwait printed 10s\nwait 1m\n",
		"--data", data, "--config", cfg, "--log", filepath.Join(data, "log"))

	stats := func() (statsJSON, string, error) {
		out, err := exec.Command(bin, "ledger", "stats", "--json", "--data", data).CombinedOutput()
		var s statsJSON
		if err == nil {
			err = json.Unmarshal(out, &s)
		}
		return s, string(out), err
	}
	var s statsJSON
	deadline := time.Now().Add(15 * time.Second)
	for {
		var out string
		var err error
		s, out, err = stats()
		if err == nil && s.PendingJobs == 0 && s.LastSeq > 0 && roll(data) != "" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the till stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer with the sale printed: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.AnsweredBy, "running till") || s.Store != "s001" || s.Till != "t01" || s.Backlog != s.LastSeq {
		t.Fatalf("stats from the running till %+v", s)
	}
	out, err := exec.Command(bin, "ledger", "verify", "--json", "--data", data).CombinedOutput()
	var v verifyJSON
	if err != nil || json.Unmarshal(out, &v) != nil || !v.OK || v.LastSeq != s.LastSeq || !strings.Contains(v.AnsweredBy, "running till") {
		t.Fatalf("verify through the running till: %v\n%s", err, out)
	}
	// The technician's receipt list comes from the running till too.
	out, err = exec.Command(bin, "receipts", "--json", "--data", data).CombinedOutput()
	var r struct{ Receipt, Kind, Sync string }
	if err != nil || json.Unmarshal(out, &r) != nil || r.Receipt != "S001-T01-000001" || r.Kind != "sale" || r.Sync != "unsynced" {
		t.Fatalf("receipts through the running till: %v\n%s", err, out)
	}
	// Export needs the file itself: it still refuses, naming the lock.
	out, err = exec.Command(bin, "ledger", "export", "--data", data).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use") {
		t.Fatalf("export while the till runs: %v\n%s", err, out)
	}

	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	e := lastSale(t, data)
	if r := roll(data); !strings.Contains(r, e.Receipt) || !strings.Contains(r, "TILLBOX DEMO STORE") {
		t.Fatalf("the roll after a SIGKILL lacks receipt %s:\n%s", e.Receipt, r)
	}
	after, out2, err := stats()
	if err != nil || after.AnsweredBy != "file" || after.LastSeq != s.LastSeq || after.OldestUnsynced == nil {
		t.Fatalf("stats from the file after the till stopped: %+v %v\n%s", after, err, out2)
	}
}

func roll(data string) string {
	b, _ := os.ReadFile(filepath.Join(data, app.SimRollFile))
	return string(b)
}

func lastSale(t *testing.T, data string) journal.Entry {
	t.Helper()
	l, err := ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var sale journal.Entry
	l.After(0, 0, func(e *journal.Entry, _ []byte) bool {
		if e.Kind == journal.KindSale {
			sale = *e
		}
		return true
	})
	if sale.Seq == 0 {
		t.Fatal("no sale journaled")
	}
	return sale
}

// TestKilledAfterTheCommitTheReceiptPrintsOnceAfterRestart kills the till by its fault
// point, right after a sale's commit and before its receipt is printed. The printer is a
// fake on a pty in this process, so its paper outlives the till. After the restart the
// receipt comes out exactly once, as an original: it never came out before.
func TestKilledAfterTheCommitTheReceiptPrintsOnceAfterRestart(t *testing.T) {
	bin := buildTillbox(t)
	data := t.TempDir()
	paper, port, plug := printerOnAPty(t)
	cfg := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"data":%q,"uplink":{"broker":"","embedded":false},"devices":{"printer":{"kind":"serial","path":%q,"baud":115200}}}`, data, port)), 0o600)
	sp := filepath.Join(t.TempDir(), "script")
	os.WriteFile(sp, []byte("signon 1 1234\nscan 5901234123457\nkey SUBTOTAL CASH\ndrain\n"), 0o600)

	plug()
	cmd := exec.Command(bin, "run", "--config", cfg, "--script", sp, "--log", filepath.Join(data, "log"))
	cmd.Env = append(os.Environ(), "TILLBOX_FAULT_KILL_AFTER_COMMIT=1")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the fault point did not kill the till: %v", err)
	}
	sale := lastSale(t, data)
	l, err := ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := l.Jobs()
	l.Close()
	if err != nil || len(jobs) != 1 || jobs[0].Seq != sale.Seq || jobs[0].Attempts != 0 {
		t.Fatalf("print queue after the kill: %+v %v", jobs, err)
	}
	if copies, reprints := receiptCopies(paper.Printed()); copies[sale.Receipt]+reprints[sale.Receipt] != 0 {
		t.Fatalf("receipt %s came out before the kill", sale.Receipt)
	}

	plug()
	out, err := exec.Command(bin, "run", "--config", cfg, "--script", "/dev/null", "--log", filepath.Join(data, "log")).CombinedOutput()
	if err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	copies, reprints := receiptCopies(paper.Printed())
	if copies[sale.Receipt] != 1 || reprints[sale.Receipt] != 0 {
		t.Fatalf("receipt %s: %d originals, %d reprints; want one original", sale.Receipt, copies[sale.Receipt], reprints[sale.Receipt])
	}
}
