package ledger

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"tillbox/ledger/journal"
	"time"
)

// TestMain lets the test binary play a child process (a till that gets killed, a process
// holding the lock, a till on a full disk) when the parent asks for it.
func TestMain(m *testing.M) {
	switch os.Getenv("LEDGER_TEST_CHILD") {
	case "crash":
		crashChild(os.Getenv("LEDGER_TEST_PATH"))
	case "hold":
		holdChild(os.Getenv("LEDGER_TEST_PATH"))
	case "diskfull":
		diskFullChild(os.Getenv("LEDGER_TEST_PATH"))
	case "retain":
		retainChild(os.Getenv("LEDGER_TEST_PATH"))
	default:
		os.Exit(m.Run())
	}
}

// childCmd runs this test binary as a child in the given mode. Under qemu-user (ARM tests)
// TILLBOX_TEST_EXEC names the emulator the child must run under.
func childCmd(t testing.TB, mode, path string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if emu := os.Getenv("TILLBOX_TEST_EXEC"); emu != "" {
		cmd = exec.Command(emu, exe)
	} else {
		cmd = exec.Command(exe)
	}
	cmd.Env = append(os.Environ(), "LEDGER_TEST_CHILD="+mode, "LEDGER_TEST_PATH="+path)
	cmd.Stderr = os.Stderr
	return cmd
}

var testClock = func() func() time.Time {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	return func() time.Time { return t0 }
}()

func testOpts() *Options {
	return &Options{Store: "s042", Till: "t03", LockTimeout: 200 * time.Millisecond}
}

// newLedger opens a fresh ledger in a temporary directory and closes it at cleanup.
func newLedger(t testing.TB) *Ledger {
	t.Helper()
	l, err := Open(filepath.Join(t.TempDir(), "till.ledger"), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { verifyAndClose(t, l) })
	return l
}

// verifyAndClose checks the whole file once the test is done with it, as bbolt's test
// helpers check theirs, then closes it. A ledger the test closed itself (to damage the
// file, say) is left to the test.
func verifyAndClose(t testing.TB, l *Ledger) {
	t.Helper()
	if !t.Failed() && !l.closed.Load() {
		if _, err := l.Verify(); err != nil {
			t.Errorf("the ledger the test leaves behind fails its verify: %v", err)
		}
	}
	l.Close()
}

// sale builds a realistic sale entry of the given total, paid in cash.
func sale(at time.Time, gross int64) journal.Entry {
	return journal.Entry{
		Kind: journal.KindSale, At: at, Cashier: "anna", Currency: "PLN",
		Lines: []journal.Line{
			{Item: "1001", Name: "Chleb żytni", Barcode: "5901234123457", Qty: 1000, Price: gross - 250, Amount: gross - 250, Tax: "B"},
			{Item: "2002", Name: "Woda 0,5l", Qty: 1000, Price: 250, Amount: 250, Tax: "A"},
		},
		Totals:  &journal.Totals{Gross: gross, Taxes: []journal.TaxTotal{{Code: "A", Rate: 2300, Net: 203, Tax: 47, Gross: 250}, {Code: "B", Rate: 500, Net: (gross - 250) * 100 / 105, Tax: (gross - 250) - (gross-250)*100/105, Gross: gross - 250}}},
		Tenders: []journal.Tender{{Kind: "cash", Amount: gross + 50}},
	}
}

func mustAppend(t testing.TB, l *Ledger, e journal.Entry, sides ...Side) Result {
	t.Helper()
	r, err := l.Append(e, sides...)
	if err != nil {
		t.Fatalf("append %s: %v", e.Kind, err)
	}
	return r
}

func printDoc(t testing.TB, text string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got nil", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

var shopItems = []journal.Line{
	{Item: "1001", Name: "Chleb żytni 500g", Barcode: "5901234123457", Price: 549, Tax: "B"},
	{Item: "2002", Name: "Woda mineralna 0,5l", Barcode: "5900552012345", Price: 250, Tax: "A"},
	{Item: "3115", Name: "Mleko 3,2% 1l", Barcode: "5900820000011", Price: 389, Tax: "B"},
	{Item: "4420", Name: "Masło extra 200g", Barcode: "5900512300014", Price: 799, Tax: "B"},
	{Item: "5071", Name: "Jabłka luz", Price: 459, Tax: "B"},
	{Item: "6230", Name: "Kawa mielona 250g", Barcode: "5900649061234", Price: 1699, Tax: "A"},
	{Item: "7004", Name: "Ser żółty plastry 150g", Barcode: "5901939006012", Price: 679, Tax: "B"},
}

// realisticSale is sale number n of a small shop: 3 to 5 lines, two tax rates, cash or card.
func realisticSale(n int) journal.Entry {
	lines := make([]journal.Line, 0, 5)
	var gross int64
	rates := map[string]int64{"A": 2300, "B": 500}
	byCode := map[string]int64{}
	for i := 0; i < 3+n%3; i++ {
		l := shopItems[(n+i*3)%len(shopItems)]
		l.Qty = int64(1000 * (1 + (n+i)%3))
		if l.Barcode == "" {
			l.Qty = int64(350 + (n*37+i)%900) // weighed
		}
		l.Amount = l.Qty * l.Price / 1000
		gross += l.Amount
		byCode[l.Tax] += l.Amount
		lines = append(lines, l)
	}
	var taxes []journal.TaxTotal
	for _, code := range []string{"A", "B"} {
		g := byCode[code]
		if g == 0 {
			continue
		}
		net := g * 10000 / (10000 + rates[code])
		taxes = append(taxes, journal.TaxTotal{Code: code, Rate: rates[code], Net: net, Tax: g - net, Gross: g})
	}
	e := journal.Entry{Kind: journal.KindSale, Cashier: "anna", Currency: "PLN", Lines: lines,
		Totals: &journal.Totals{Gross: gross, Taxes: taxes}}
	if n%2 == 0 {
		paid := (gross/1000 + 1) * 1000
		e.Totals.Change = paid - gross
		e.Tenders = []journal.Tender{{Kind: "cash", Amount: paid}}
	} else {
		e.Tenders = []journal.Tender{{Kind: "card", Amount: gross, Ref: fmt.Sprintf("AUTH%08d", n*7919%100000000)}}
	}
	return e
}

// farFuture is after every entry a test writes: Prune(farFuture) removes all acknowledged.
var farFuture = time.Now().Add(100 * 24 * time.Hour)
