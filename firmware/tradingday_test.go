package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"tillbox/firmware/app"
	"tillbox/firmware/reports"
	"tillbox/firmware/till"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// tradingDay1 is a shift with every function of the till's day: a float, a line discount
// within the cashier's limit, a manual weight, an open price, the age prompt and cash
// rounding; an override and a sale discount a supervisor approves, a card payment
// cancelled; a sale that cannot be paid voided; Z refused while a sale is parked; a cash in
// with its reason; an X of the cashier; the receipt history by short number and by a scan
// of the barcode, copies; a USB export while running; three wrong PINs; a shift close that
// counts short.
const tradingDay1 = `
signon 1 1234
key MENU 1 1 ENTER
type 10000
key ENTER
drawer close
# Brot 3,49 less 10% (0,35, the cashier's own limit), Äpfel 1,250 kg typed, Torte at 5,00,
# Żubrówka after the age check: 3,14 + 3,74 + 5,00 + 15,99 = 27,87, in cash 27,85.
scan 5901234123457
key MENU 2 ENTER 1 ENTER
type 10
key ENTER 1 ENTER
key 3 PLU
type 1.250
key ENTER 8 PLU
type 500
key ENTER
scan 5900685000133
key ENTER SUBTOTAL
type 5000
key CASH
drawer close
# Kaffee overridden to 6,99 and Wasser 1,29, 2,00 off the sale (24%: a supervisor); 3,00 by
# card cancelled, then the card pays all 6,28.
scan 8711000530085
key MENU 4 ENTER
type 699
key ENTER 9 ENTER 9 9 9 9 ENTER
scan 4006381333931
key MENU 3 ENTER 2 ENTER
type 200
key ENTER 2 ENTER 9 ENTER 9 9 9 9 ENTER SUBTOTAL
type 300
key CARD ENTER MENU 7 ENTER CARD ENTER
# One sale parked; the next cannot be paid: its card part is reversed as it is voided.
scan 5901234123457
key PARK
scan 4006381333931
key SUBTOTAL
type 100
key CARD ENTER MENU 1 ENTER
# Z is refused while the sale is parked; it is resumed and paid: 3,49, in cash 3,50.
key MENU 2 ENTER
key PARK SUBTOTAL CASH
drawer close
key MENU 3 ENTER
type 2000
key ENTER 1 ENTER
drawer close
key MENU 1 3 ENTER
# The history: the newest, one older, receipt 2 by its short number, a copy; receipt 2 by
# its barcode, a second copy; a copy of the last receipt.
key MENU 7 ENTER ENTER
type 2
key ENTER SUBTOTAL
key MENU 7 ENTER
scan S001-T01-000002
key SUBTOTAL MENU 8 ENTER
key MENU 1 4 ENTER
# Counted 151,00 of 151,35 expected: 0,35 short.
key MENU 1 2 ENTER
type 15100
key ENTER SIGN_ON_OFF
signon 2 0000
signon 2 0000
signon 2 0000
drain
`

// tradingDay2 is the next morning: cashier 2 is still locked out; a float; the first sale
// refunded from the history (cash, rounded) and the card sale refunded to the card; a price
// check; an item found by name and sold; a transfer parked and finished; the shift closed
// even; the day's Z.
const tradingDay2 = `
signon 2 0000
signon 1 1234
key MENU 1 1 ENTER
type 15100
key ENTER
drawer close
key MENU 7 ENTER
type 2
key ENTER RETURN 9 ENTER 9 9 9 9 ENTER
scan 5901234123457
key SUBTOTAL CASH
drawer close
key MENU 7 ENTER
type 3
key ENTER RETURN 9 ENTER 9 9 9 9 ENTER ENTER CARD ENTER
key MENU 9 ENTER
scan 8711000530085
key CLEAR MENU 1 0 ENTER
type 2768
key ENTER 1 ENTER SUBTOTAL CASH
drawer close
# A transfer to the central warehouse, parked while a customer is served, then finished.
key MENU 5 ENTER ENTER 1 ENTER 1 ENTER
scan 8711000530085
key PARK
scan 4006381333931
key SUBTOTAL CASH
drawer close
key PARK ENTER
key MENU 1 2 ENTER
type 15265
key ENTER MENU 2 ENTER 9 ENTER 9 9 9 9 ENTER
drain
`

func TestATwoDayTradingScript(t *testing.T) {
	bin := buildTillbox(t)
	data := t.TempDir()
	usb := t.TempDir()
	cfg := fmt.Sprintf(`{"uplink":{"broker":"","embedded":false},"timezone":"Europe/Berlin","cash_rounding":5,"usb_export":%q}`, usb)
	ev1 := runScript(t, bin, data, cfg, tradingDay1)
	ev2 := runScript(t, bin, data, cfg, tradingDay2)
	events := append(ev1, ev2...)

	l, err := ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Verify(); err != nil {
		t.Fatal(err)
	}
	var all []journal.Entry
	l.After(0, 0, func(e *journal.Entry, _ []byte) bool { all = append(all, *e); return true })
	kinds := map[journal.Kind][]journal.Entry{}
	doc := 0
	for _, e := range all {
		kinds[e.Kind] = append(kinds[e.Kind], e)
		if e.Kind.Document() {
			doc++
			if want := journal.ReceiptNumber("S001-T01", uint64(doc)); e.Receipt != want {
				t.Fatalf("seq %d %s has receipt %q, want %q: receipt numbers have a gap", e.Seq, e.Kind, e.Receipt, want)
			}
		} else if e.Receipt != "" {
			t.Fatalf("technical entry %s took receipt %s", e.Kind, e.Receipt)
		}
	}
	for k, n := range map[journal.Kind]int{journal.KindShiftOpen: 2, journal.KindShiftClose: 2, journal.KindSale: 5, journal.KindStockTransfer: 1,
		journal.KindVoid: 1, journal.KindRefund: 2, journal.KindCashIn: 1, journal.KindXReport: 1, journal.KindZReport: 1,
		journal.KindReprint: 3, journal.KindPINFailure: 4, journal.KindExport: 1} {
		if len(kinds[k]) != n {
			for _, e := range kinds[k] {
				t.Logf("%s seq %d: %s %s", k, e.Seq, e.Reason, e.Data)
			}
			t.Errorf("%d %s entries, want %d", len(kinds[k]), k, n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	sale1, sale2 := kinds[journal.KindSale][0], kinds[journal.KindSale][1]
	d1 := mustDetails(t, sale1)
	if sale1.Receipt != "S001-T01-000002" || sale1.Totals.Gross != 2787 || sale1.Totals.Change != 2215 || d1.Rounding != -2 ||
		d1.LineInfo[0].Discount != 35 || d1.LineInfo[0].Reason != "damaged goods" || d1.LineInfo[0].ApprovedBy != "" ||
		!d1.LineInfo[1].ManualWeight || sale1.Lines[1].Qty != 1250 || !d1.LineInfo[2].OpenPrice || d1.LineInfo[3].Age != 18 {
		t.Fatalf("first sale %+v %s", sale1.Totals, sale1.Data)
	}
	var taxGross int64
	for _, tx := range sale1.Totals.Taxes {
		taxGross += tx.Gross
	}
	if taxGross != sale1.Totals.Gross {
		t.Fatalf("the tax breakdown %+v is not on the discounted amounts (%d)", sale1.Totals.Taxes, sale1.Totals.Gross)
	}
	d2 := mustDetails(t, sale2)
	if sale2.Totals.Gross != 628 || d2.LineInfo[0].OverrideFrom != 799 || d2.LineInfo[0].ApprovedBy != "9" ||
		d2.Discount == nil || d2.Discount.ApprovedBy != "9" || len(d2.Reversed) != 1 || d2.Reversed[0].Amount != 300 ||
		len(sale2.Tenders) != 1 || sale2.Tenders[0].Amount != 628 {
		t.Fatalf("second sale %+v %s", sale2, sale2.Data)
	}
	if v := mustDetails(t, kinds[journal.KindVoid][0]); len(v.Reversed) != 1 || v.Reversed[0].Amount != 100 {
		t.Fatalf("void %s", kinds[journal.KindVoid][0].Data)
	}
	if r := kinds[journal.KindRefund]; r[0].Ref != sale1.Receipt || r[0].Totals.Gross != -314 || r[0].Tenders[0].Amount != -315 ||
		r[1].Ref != sale2.Receipt || r[1].Tenders[0].Kind != "card" || r[1].Totals.Gross != -628 {
		t.Fatalf("refunds %+v", r)
	}
	close1, err := reports.Decode(kinds[journal.KindShiftClose][0])
	if err != nil {
		t.Fatal(err)
	}
	close2, _ := reports.Decode(kinds[journal.KindShiftClose][1])
	// Float 100,00 + 27,85 + 3,50 + 20,00 in cash; counted 151,00. Day 2: 151,00 - 3,15 +
	// 3,50 + 1,30 (Wasser 1,29 rounded).
	if close1.CashInDrawer != 15135 || *close1.Counted != 15100 || close1.OverShort != -35 || close1.Rounding != -1 ||
		close2.CashInDrawer != 15265 || close2.OverShort != 0 {
		t.Fatalf("shift figures %+v / %+v", close1, close2)
	}
	if kinds[journal.KindCashIn][0].Reason != "float top-up" || !strings.Contains(string(kinds[journal.KindXReport][0].Data), `"cashier":"1"`) {
		t.Fatalf("cash in %+v, X of the cashier %s", kinds[journal.KindCashIn][0], kinds[journal.KindXReport][0].Data)
	}
	tr := kinds[journal.KindStockTransfer][0]
	if tr.Reason != "restock" || !strings.Contains(string(tr.Data), `"from":"s001","to":"central warehouse"`) || len(tr.Lines) != 1 {
		t.Fatalf("transfer %+v %s", tr, tr.Data)
	}
	var copies []string
	for _, c := range kinds[journal.KindReprint] {
		copies = append(copies, c.Ref+string(c.Data))
	}
	if got := strings.Join(copies, " "); got != `S001-T01-000002{"copy":1} S001-T01-000002{"copy":2} S001-T01-000007{"copy":1}` {
		t.Fatalf("copies %s", got)
	}

	// The USB export holds every entry written up to it (nothing was acknowledged).
	files, _ := filepath.Glob(filepath.Join(usb, "S001-T01-through-*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("export files %v", files)
	}
	exp, _ := os.ReadFile(files[0])
	exported, err := journal.ReadExport(strings.NewReader(string(exp)))
	if err != nil || len(exported) == 0 || exported[len(exported)-1].Seq+1 != kinds[journal.KindExport][0].Seq {
		t.Fatalf("export of %d entries, journaled at seq %d: %v", len(exported), kinds[journal.KindExport][0].Seq, err)
	}

	// The receipts as the printer fake decoded them.
	roll, err := os.ReadFile(filepath.Join(data, app.SimRollFile))
	if os.Getenv("TILLBOX_SHOW_ROLL") != "" {
		t.Logf("%s", roll)
	}
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, s := range []string{"SHIFT OPEN", "FLOAT", "discount 10% (damaged goods)", "-0,35", "1,250 kg, weight typed (manual)",
		"price entered at the till", "age 18+ confirmed", "CASH ROUNDING", "TO PAY IN CASH", "27,85",
		"price override from 7,99, approved 9", "SALE DISCOUNT (loyal customer), approved 9", "CARD CANCELLED (reversed)",
		"VOIDED SALE", "CASH IN", "reason: float top-up", "for cashier Anna (1)", "COPY 1 - NOT AN ORIGINAL",
		"COPY 2 - NOT AN ORIGINAL", "CASH COUNTED", "SHORT", "SHIFT CLOSE", "REFUND", "Z REPORT",
		"STOCK TRANSFER", "from s001", "to central warehouse", "issued without stock control",
		sale1.At.In(berlin).Format("2006-01-02 15:04")} {
		if !strings.Contains(string(roll), s) {
			t.Errorf("receipt roll lacks %q", s)
		}
	}
	if strings.Contains(string(roll), "REPRINT") || strings.Count(string(roll), "RECEIPT") != 5+2 {
		t.Errorf("%d RECEIPT titles (5 sales and the 2 copies of one), REPRINT marks: %v", strings.Count(string(roll), "RECEIPT"), strings.Contains(string(roll), "REPRINT"))
	}

	// Both displays: what the cashier and the customer were shown.
	var op, cust []string
	for _, e := range events {
		switch e["t"] {
		case "operator":
			ls := e["lines"].([]any)
			l0 := ls[0].(string)
			if utf8.RuneCountInString(l0) > 40 {
				t.Errorf("operator line of %d characters: %q", utf8.RuneCountInString(l0), l0)
			}
			op = append(op, l0+" | "+ls[1].(string))
		case "customer":
			cust = append(cust, fmt.Sprint(e["left"], e["right"]))
		}
	}
	for _, s := range []string{"AGE 18+", "WEIGHT of Äpfel", "PRICE of Torte", "SUPERVISOR for DISCOUNT 2,00", "SUPERVISOR for OVERRIDE",
		"card 3,00 cancelled", "! Z refused: 1 parked", "due 3,49, cash 3,50", "USB export: ", "locked until", "PAY OUT 3,15",
		"REFUNDED TO CARD 6,28", "Kaffee 500g 7,99, stock", "[abc][pqrs][mno][tuv]", "S001-T01-000002 sale 27,87", "unsynced",
		"COPY 2 of S001-T01-000002"} {
		if !strings.Contains(strings.Join(op, "\n"), s) {
			t.Errorf("the operator display never showed %q", s)
		}
	}
	for _, s := range []string{"DISCOUNT", "CARD CANCELLED", "CHANGE", "REFUND"} {
		if !strings.Contains(strings.Join(cust, "\n"), s) {
			t.Errorf("the customer display never showed %q", s)
		}
	}

	// A technician lists the receipts.
	var out strings.Builder
	if err := receiptsCmd([]string{"--data", data, "--n", "3"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], journal.ReceiptNumber("S001-T01", uint64(doc))) || !strings.Contains(lines[0], till.SyncUnsynced) {
		t.Fatalf("tillbox receipts:\n%s", out.String())
	}
	out.Reset()
	if err := receiptsCmd([]string{"--data", data, "--json", "S001-T01-000002"}, &out); err != nil {
		t.Fatal(err)
	}
	var r app.Receipt
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil || r.Copies != 2 || *r.Total != 2787 {
		t.Fatalf("tillbox receipts S001-T01-000002: %s %v", out.String(), err)
	}
}

func mustDetails(t *testing.T, e journal.Entry) till.Details {
	t.Helper()
	d, err := till.DecodeDetails(e)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
