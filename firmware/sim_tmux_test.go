package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// TestSimulatorInTmux tries the simulator as a new user would: `tillbox run` in a terminal
// (tmux), keys typed with send-keys, the screen read with capture-pane.
func TestSimulatorInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed (scripts/deps.sh installs it)")
	}
	bin := buildTillbox(t)
	data := t.TempDir()
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "till", "-x", "130", "-y", "45", bin+" run --data "+data)
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-t", "till", "-p") }
	waitFor := func(what string) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			s := screen()
			if strings.Contains(s, what) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %q; it shows:\n%s", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	keys := func(k ...string) { tmux(append([]string{"send-keys", "-t", "till"}, k...)...) }

	waitFor("SIGN ON: cashier no.")
	waitFor("b scan a barcode")
	keys("o", "1", "Enter", "1", "2", "3", "4", "Enter")
	waitFor("signed on: Anna")
	keys("b")
	waitFor("scan> _")
	keys("5901234123457", "Enter")
	waitFor("Brot (Roggen) 1 x 3,49")
	keys("2", "p") // PLU 2: the water
	waitFor("Mineralwasser 0,5l 1 x 1,29")
	keys("s")
	waitFor("due 4,78")
	keys("1", "0", "0", "0", "c")
	s := waitFor("CHANGE 5,22")
	if !strings.Contains(s, "TOTAL EUR") || !strings.Contains(s, "drawer-open") {
		t.Fatalf("after the sale the screen shows no receipt or no open drawer:\n%s", s)
	}
	keys("D")
	waitFor("drawer: ok")

	// Every function can be found from the screen alone: MENU shows the menu in pages of
	// the operator display, each entry whole, and MENU again turns the page.
	menu := func(entries ...string) {
		t.Helper()
		keys("m")
		first := waitFor("(1/")
		pages := first[strings.Index(first, "(1/")+3:]
		n, err := strconv.Atoi(pages[:strings.IndexByte(pages, ',')])
		if err != nil {
			t.Fatalf("no page count on the operator display:\n%s", first)
		}
		seen := first
		for i := 2; i <= n; i++ {
			keys("m")
			seen += waitFor(fmt.Sprintf("(%d/%d", i, n))
		}
		for _, e := range entries {
			if !strings.Contains(seen, e) {
				t.Errorf("the menu's %d pages never show %q", n, e)
			}
		}
		keys("Escape")
	}
	menu("1 X report", "2 Z report", "3 cash in", "4 cash out", "5 transfer", "6 release", "7 receipts",
		"8 copy of the last receipt", "9 price check", "10 find item", "11 shift open", "12 shift close",
		"13 X of this cashier", "14 USB export", "15 technician page")
	keys("b")
	waitFor("scan> _")
	keys("5901234123457", "Enter")
	waitFor("Brot (Roggen) 1 x 3,49")
	menu("1 void sale", "2 line discount", "3 sale discount", "4 price override", "5 price check",
		"6 find item", "7 cancel card payment")
	keys("C-c")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-S", sock, "has-session", "-t", "till").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("tillbox did not quit on Ctrl-C:\n%s", screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	l, err := ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, err := l.ByReceipt("S001-T01-000001")
	if err != nil || e.Kind != journal.KindSale || e.Totals.Gross != 478 || e.Totals.Change != 522 {
		t.Fatalf("the sale typed in the simulator: %+v, %v", e, err)
	}
}
