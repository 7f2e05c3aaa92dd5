package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/firmware/app"
	"tillbox/firmware/reports"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// offlineConfig is a till with no uplink: everything it writes is offline.
const offlineConfig = `{"uplink":{"broker":"","embedded":false}}`

// runScript runs the real tillbox binary on the sim board with a script and returns the
// events it wrote. config is the till's configuration file's content ("" for the defaults).
func runScript(t *testing.T, bin, data, config, script string) []map[string]any {
	t.Helper()
	sp := filepath.Join(t.TempDir(), "script.txt")
	if err := os.WriteFile(sp, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(t.TempDir(), "events.jsonl")
	args := []string{"run", "--data", data, "--script", sp, "--events", ev, "--log", filepath.Join(data, "test.log")}
	if config != "" {
		cp := filepath.Join(t.TempDir(), "till.json")
		os.WriteFile(cp, []byte(config), 0o600)
		args = append(args, "--config", cp)
	}
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(data, "test.log"))
		t.Fatalf("tillbox run: %v\n%s\nlog:\n%s", err, out, log)
	}
	f, err := os.Open(ev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		events = append(events, m)
	}
	return events
}

const saleDay = `
signon 1 1234
# cash with change: Brot 3,49 + 3 x Wasser 1,29 + Brot 3,49 = 10,85
scan 5901234123457
key 3 QTY
scan 4006381333931
type 1
key PLU SUBTOTAL
type 2000
key CASH
drawer close
# card: Kaffee 7,99
scan 8711000530085
key SUBTOTAL CARD ENTER
# split: Kaffee + Brot = 11,48, 5,00 by card, the rest from a 10,00 note
scan 8711000530085
scan 5901234123457
key SUBTOTAL
type 500
key CARD ENTER
type 1000
key CASH
drawer close
# park a sale, serve the next customer, resume the parked one
scan 5901234123457
key PARK
scan 4006381333931
key SUBTOTAL CASH
drawer close
key PARK SUBTOTAL CASH
drawer close
# garbage from the scanner is refused and changes nothing
garbage 12345678
# no sale: a supervisor approves, reason 1
key NO_SALE 9 ENTER 9 9 9 9 ENTER 1 ENTER
drawer close
drain
`

func TestADayOnTheSimBoard(t *testing.T) {
	bin := buildTillbox(t)
	data := t.TempDir()
	ev1 := runScript(t, bin, data, offlineConfig, saleDay)

	l, err := ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var sales []journal.Entry
	l.After(0, 0, func(e *journal.Entry, _ []byte) bool {
		if e.Kind == journal.KindSale {
			sales = append(sales, *e)
		}
		return true
	})
	l.Close()
	if len(sales) != 5 {
		t.Fatalf("%d sales journaled, want 5", len(sales))
	}
	first := sales[0]
	if first.Totals.Gross != 1085 || first.Totals.Change != 915 || !first.Offline {
		t.Fatalf("first sale %+v", first.Totals)
	}
	if got := sales[2].Tenders; len(got) != 2 || got[0].Kind != "card" || got[1].Kind != "cash" {
		t.Fatalf("split tender %+v", got)
	}
	if countEvents(ev1, "scan-rejected") != 1 {
		t.Fatalf("garbage scan: %d rejections", countEvents(ev1, "scan-rejected"))
	}

	// Next morning: restart, refund one water of the first (offline) receipt, X and Z.
	seq := strings.TrimPrefix(first.Receipt, "S001-T01-")
	ev2 := runScript(t, bin, data, offlineConfig, fmt.Sprintf(`
signon 1 1234
key RETURN
type %s
key ENTER 9 ENTER 9 9 9 9 ENTER
scan 4006381333931
key SUBTOTAL CASH
drawer close
key MENU 1 ENTER
key SIGN_ON_OFF
signon 9 9999
key MENU 2 ENTER
drain
`, strings.TrimLeft(seq, "0")))

	l, err = ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Verify(); err != nil {
		t.Fatalf("verify after the day: %v", err)
	}
	kinds := map[journal.Kind]int{}
	var refund, z journal.Entry
	var drawerNotes []string
	l.After(0, 0, func(e *journal.Entry, _ []byte) bool {
		kinds[e.Kind]++
		switch e.Kind {
		case journal.KindRefund:
			refund = *e
		case journal.KindZReport:
			z = *e
		case journal.KindDrawer:
			drawerNotes = append(drawerNotes, e.Reason)
		}
		return true
	})
	want := map[journal.Kind]int{journal.KindSale: 5, journal.KindRefund: 1, journal.KindNoSale: 1,
		journal.KindXReport: 1, journal.KindZReport: 1, journal.KindPowerUp: 2}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s entries, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	if refund.Ref != first.Receipt || refund.Totals.Gross != -129 || len(refund.Lines) != 1 {
		t.Fatalf("refund %+v", refund)
	}
	f, err := reports.Decode(z)
	if err != nil {
		t.Fatal(err)
	}
	// Cash: 20,00-9,15 + 10,00-3,52 + 1,29 + 3,49 - 1,29 refund = 20,82; offline: 5 sales, the
	// no-sale, the refund and the X report (no uplink on this run).
	if f.Sales.N != 5 || f.Refunds.N != 1 || f.NoSales != 1 || f.ZNumber != 1 || f.CashInDrawer != 2082 || f.Offline != 8 {
		t.Fatalf("Z figures %+v", f)
	}
	// Every drawer opening is journaled with its reason.
	opened := 0
	for _, n := range drawerNotes {
		if strings.HasPrefix(n, "opened") {
			opened++
			if !strings.Contains(n, "S001-T01-") {
				t.Errorf("drawer opening without its reason: %q", n)
			}
		}
	}
	if opened != 6 { // 4 cash sales, the no-sale, the refund
		t.Fatalf("%d drawer openings journaled, want 6: %q", opened, drawerNotes)
	}

	roll, err := os.ReadFile(filepath.Join(data, app.SimRollFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"RECEIPT", "REFUND", "NO SALE", "X REPORT", "Z REPORT", "OFFLINE - will be sent",
		"CHANGE", "9,15", "refund of " + first.Receipt, "Mineralwasser", "GRAND TOTAL"} {
		if !strings.Contains(string(roll), s) {
			t.Errorf("receipt roll lacks %q", s)
		}
	}
	if n := strings.Count(string(roll), "RECEIPT"); n != 5 {
		t.Errorf("%d receipts printed, want 5", n)
	}
	if strings.Contains(string(roll), "REPRINT") {
		t.Error("a receipt was reprinted on a clean run")
	}
	// The customer saw the change.
	sawChange := false
	for _, e := range append(ev1, ev2...) {
		if e["t"] == "customer" && strings.Contains(fmt.Sprint(e["left"]), "CHANGE") {
			sawChange = true
		}
	}
	if !sawChange {
		t.Error("the customer display never showed the change")
	}
}

func countEvents(evs []map[string]any, kind string) int {
	n := 0
	for _, e := range evs {
		if e["t"] == kind {
			n++
		}
	}
	return n
}
