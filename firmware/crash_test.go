package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tillbox/board/pty"
	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// tillCrashCycles is short in `make test` and long under `make soak`.
func tillCrashCycles() int {
	if os.Getenv("TILLBOX_SOAK") != "" {
		return 500
	}
	return 12
}

// TestKillDuringSalesLosesNothingAndPrintsNothingTwice kills the real tillbox with SIGKILL at
// random points of a stream of sales and restarts it. The printer is a fake on a pty in this
// process, so the paper outlives the till, as it would. Each sale buys quantities of bread and
// water that no other sale buys, so a sale rung up twice would show. Afterwards: the ledger
// verifies; every sale the till reported committed is there; no sale is there twice; every
// sale's receipt came out, and no receipt came out twice without a reprint mark.
func TestKillDuringSalesLosesNothingAndPrintsNothingTwice(t *testing.T) {
	bin := buildTillbox(t)
	data := t.TempDir()
	paper, port, plugPrinter := printerOnAPty(t)
	cfg := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"data":%q,"devices":{"printer":{"kind":"serial","path":%q,"baud":115200}}}`, data, port)), 0o600)

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d", seed)
	committed := map[uint64]bool{}
	cycles := tillCrashCycles()
	for cycle := 0; cycle < cycles; cycle++ {
		var s strings.Builder
		s.WriteString("signon 1 1234\n")
		for i := 1; i <= 40; i++ {
			id := cycle*40 + i // a and b below are unique to this sale
			a, b := 1+id%997, 1+id/997
			fmt.Fprintf(&s, "type %d\nkey QTY\nscan 5901234123457\ntype %d\nkey QTY\nscan 4006381333931\nkey SUBTOTAL CASH\ndrawer close\n", a, b)
		}
		plugPrinter()
		sp := filepath.Join(t.TempDir(), "script")
		os.WriteFile(sp, []byte(s.String()), 0o600)
		ev := filepath.Join(t.TempDir(), "events")
		cmd := exec.Command(bin, "run", "--config", cfg, "--script", sp, "--events", ev, "--log", filepath.Join(data, "log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rng.IntN(900)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		b, _ := os.ReadFile(ev)
		for _, line := range strings.Split(string(b), "\n") {
			var seq uint64
			if strings.Contains(line, `"t":"commit"`) && strings.Contains(line, `"kind":"sale"`) {
				i := strings.Index(line, `"seq":`)
				fmt.Sscanf(line[i+6:], "%d", &seq)
				committed[seq] = true
			}
		}
	}
	// A last clean run prints whatever is still queued.
	plugPrinter()
	out, err := exec.Command(bin, "run", "--config", cfg, "--script", "/dev/null", "--log", filepath.Join(data, "log")).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(data, "log"))
		if len(log) > 4000 {
			log = log[len(log)-4000:]
		}
		t.Fatalf("final run: %v\n%s\nlog:\n%s\nprinter fake:\n%s", err, out, log, tail(paper.Text(), 1500))
	}

	l, err := ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Verify(); err != nil {
		t.Fatalf("verify after %d kills: %v", cycles, err)
	}
	for seq := range committed {
		if e, err := l.Get(seq); err != nil || e.Kind != journal.KindSale {
			t.Fatalf("sale seq %d reported committed is missing: %v", seq, err)
		}
	}
	byQty := map[[2]int64]string{}
	var sales []journal.Entry
	l.After(0, 0, func(e *journal.Entry, _ []byte) bool {
		if e.Kind == journal.KindSale {
			sales = append(sales, *e)
		}
		return true
	})
	for _, e := range sales {
		var q [2]int64
		for _, ln := range e.Lines {
			switch ln.Item {
			case "1":
				q[0] += ln.Qty
			case "2":
				q[1] += ln.Qty
			}
		}
		if prev, dup := byQty[q]; dup {
			t.Fatalf("the sale of %v is journaled twice: %s and %s", q, prev, e.Receipt)
		}
		byQty[q] = e.Receipt
	}
	if len(sales) < len(committed) || len(committed) == 0 {
		t.Fatalf("%d sales journaled, %d reported: the test sold nothing or lost sales", len(sales), len(committed))
	}

	copies, reprints := receiptCopies(paper.Printed())
	for _, e := range sales {
		if copies[e.Receipt]+reprints[e.Receipt] == 0 {
			t.Errorf("receipt %s never printed", e.Receipt)
		}
		if copies[e.Receipt] > 1 {
			t.Errorf("receipt %s printed %d times without a reprint mark", e.Receipt, copies[e.Receipt])
		}
	}
	t.Logf("%d kills, %d sales, %d reported committed, %d reprints", cycles, len(sales), len(committed), len(reprints))
}

// printerOnAPty is a fake serial printer in the test's process whose paper outlives the
// till's restarts. Its end of the serial line is a pty, which goes away when the till's end
// closes, so each plug gives a new pty behind the same path (port), as a USB serial adapter
// gets the same udev name. Call plug before each start of the till.
func printerOnAPty(t *testing.T) (paper *printertest.Printer, port string, plug func()) {
	t.Helper()
	paper = printertest.New(&printertest.Options{Baud: 115200})
	port = filepath.Join(t.TempDir(), "ttyPRINTER")
	plug = func() {
		t.Helper()
		p, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		os.Remove(port)
		if err := os.Symlink(p.SlavePath, port); err != nil {
			t.Fatal(err)
		}
		go paper.Serve(p.Master)
	}
	return paper, port, plug
}

// receiptCopies counts, per receipt number, the copies that came out with and without the
// reprint mark. A copy runs from a header to its cut (or to where the paper stops).
func receiptCopies(items []printertest.Item) (plain, reprint map[string]int) {
	plain, reprint = map[string]int{}, map[string]int{}
	marked := false
	for _, it := range items {
		switch {
		case it.Kind == "text" && it.Text == printer.ReprintMark:
			marked = true
		case it.Kind == "barcode" && strings.HasPrefix(it.Text, "S001-T01-"):
			if marked {
				reprint[it.Text]++
			} else {
				plain[it.Text]++
			}
		case it.Kind == "cut":
			marked = false
		}
	}
	return plain, reprint
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
