package till

import (
	"strings"
	"testing"
	"time"

	"tillbox/ledger/journal"
)

func details(t *testing.T, e journal.Entry) Details {
	t.Helper()
	d, err := DecodeDetails(e)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLineDiscountWithinTheLimitNeedsNoSupervisor(t *testing.T) {
	h := newHarness(t).signedOn("1", "1234")
	// 10% of Chleb 4,50 = 0,45: at the limit, the cashier gives it.
	h.do("1 PLU MENU 2 ENTER 1 ENTER 10 ENTER 1 ENTER")
	if !strings.Contains(h.out.Operator[0], "discount -0,45 (damaged goods)") {
		t.Fatalf("operator: %q", h.out.Operator)
	}
	h.do("2 PLU SUBTOTAL CASH")
	e := h.lastDoc()
	d := details(t, e)
	if e.Lines[0].Amount != 405 || e.Totals.Gross != 655 || d.LineInfo[0].Discount != 45 || d.LineInfo[0].Percent != 1000 ||
		d.LineInfo[0].Reason != "damaged goods" || d.LineInfo[0].ApprovedBy != "" {
		t.Fatalf("entry %+v details %+v", e.Lines, d)
	}
	// The tax is on what was paid: B 5% of 4,05 = 0,19.
	if e.Totals.Taxes[1].Gross != 405 || e.Totals.Taxes[1].Tax != 19 {
		t.Fatalf("taxes %+v", e.Totals.Taxes)
	}
}

func TestDiscountAboveTheLimitNeedsASupervisor(t *testing.T) {
	h := newHarness(t).signedOn("1", "1234")
	h.do("1 PLU MENU 2 ENTER 2 ENTER 100 ENTER 2 ENTER")
	if !strings.Contains(h.out.Operator[0], "SUPERVISOR for DISCOUNT 1,00") {
		t.Fatalf("a 1,00 discount on 4,50: %q", h.out.Operator)
	}
	// A wrong supervisor PIN is refused and journaled; the line keeps its price.
	h.do("9 ENTER 1111 !ENTER")
	if h.last().Kind != journal.KindPINFailure || h.e.Sale().Lines[0].Amount != 450 {
		t.Fatalf("wrong supervisor PIN: %+v %+v", h.last(), h.e.Sale().Lines)
	}
	h.do("MENU 2 ENTER 2 ENTER 100 ENTER 2 ENTER 9 ENTER 9999 ENTER SUBTOTAL CASH")
	d := details(t, h.lastDoc())
	if h.lastDoc().Totals.Gross != 350 || d.LineInfo[0].ApprovedBy != "9" || d.LineInfo[0].Reason != "loyal customer" {
		t.Fatalf("approved discount: %+v %+v", h.lastDoc().Totals, d)
	}
}

func TestSaleDiscountIsSpreadOverTheLinesForTheTaxes(t *testing.T) {
	h := newHarness(t).signedOn("9", "9999")
	// 4,50 (B) + 2,50 (A) = 7,00; 1,00 off: 0,64 on B and 0,36 on A.
	h.do("1 PLU 2 PLU MENU 3 ENTER 2 ENTER 100 ENTER 3 ENTER")
	if h.e.total() != 600 {
		t.Fatalf("total %d", h.e.total())
	}
	h.do("SUBTOTAL CASH")
	e := h.lastDoc()
	d := details(t, e)
	if e.Totals.Gross != 600 || e.Lines[0].Amount+e.Lines[1].Amount != 600 || d.Discount == nil || d.Discount.Amount != 100 ||
		d.LineInfo[0].SaleDiscount+d.LineInfo[1].SaleDiscount != 100 {
		t.Fatalf("lines %+v details %+v", e.Lines, d)
	}
	var g int64
	for _, tx := range e.Totals.Taxes {
		g += tx.Gross
	}
	if g != 600 || e.Lines[0].Amount != 386 || e.Lines[1].Amount != 214 {
		t.Fatalf("taxes %+v lines %+v", e.Totals.Taxes, e.Lines)
	}
	// Refusals: a second sale discount, a percent of 100, a discount on a refund.
	h.do("1 PLU MENU 3 ENTER 1 ENTER 5 ENTER 1 ENTER MENU 3 !ENTER")
	h.do("MENU 2 ENTER 1 ENTER 100 !ENTER CLEAR CLEAR")
}

func TestOverrideOpenPriceManualWeightAndAge(t *testing.T) {
	h := newHarness(t)
	h.e.cat.Items["6"] = Item{Code: "6", Name: "Wódka", Price: 3999, Tax: "A", Age: 18}
	h.signedOn("1", "1234")
	h.do("1 PLU MENU 4 ENTER 399 ENTER 9 ENTER 9999 ENTER") // override 4,50 -> 3,99
	h.do("4 PLU 1200 ENTER")                                // open price
	h.do("3 PLU 1.250 ENTER")                               // manual weight: 5,99/kg x 1,25 = 7,49
	h.do("1.5 QTY 3 PLU")                                   // a weight typed with QTY is manual too
	if !strings.Contains(h.out.Operator[0], "1,500") || !strings.Contains(h.out.Operator[0], "(manual)") {
		t.Fatalf("manual weight shown as %q", h.out.Operator)
	}
	h.do("6 PLU")
	if !strings.Contains(h.out.Operator[0], "AGE 18+") {
		t.Fatalf("age prompt %q", h.out.Operator)
	}
	h.do("!CLEAR")
	if len(h.e.Sale().Lines) != 4 || !strings.Contains(h.out.Refused, "age not confirmed") {
		t.Fatalf("age declined: %d lines, %q", len(h.e.Sale().Lines), h.out.Refused)
	}
	h.do("6 PLU ENTER SUBTOTAL CASH")
	e := h.lastDoc()
	d := details(t, e)
	if e.Lines[0].Price != 399 || d.LineInfo[0].OverrideFrom != 450 || d.LineInfo[0].ApprovedBy != "9" ||
		e.Lines[1].Amount != 1200 || !d.LineInfo[1].OpenPrice ||
		e.Lines[2].Qty != 1250 || e.Lines[2].Amount != 749 || !d.LineInfo[2].ManualWeight || !d.LineInfo[3].ManualWeight ||
		d.LineInfo[4].Age != 18 {
		t.Fatalf("lines %+v details %+v", e.Lines, d.LineInfo)
	}
}

func TestCashRoundingCardCancelAndVoidWithReversal(t *testing.T) {
	h := newHarness(t)
	h.e.cfg.CashRounding = 5
	h.signedOn("1", "1234")
	// 4,50 + 2,50 + 5,99/kg x 0,333 kg (1,99) = 8,99: cash 9,00, rounding +0,01.
	h.do("1 PLU 2 PLU 0.333 QTY 3 PLU SUBTOTAL")
	if !strings.Contains(h.out.Operator[0], "cash 9,00: amount") {
		t.Fatalf("tender prompt %q", h.out.Operator)
	}
	h.do("2000 CASH")
	e := h.lastDoc()
	if e.Totals.Gross != 899 || e.Totals.Change != 1100 || details(t, e).Rounding != 1 {
		t.Fatalf("rounded sale %+v %s", e.Totals, e.Data)
	}
	// A card payment cancelled before completion: the amount is due again, the reversal kept.
	h.do("1 PLU SUBTOTAL 200 CARD ENTER MENU 7 ENTER")
	if h.e.due() != 450 || len(h.e.Sale().Reversed) != 1 {
		t.Fatalf("after the cancel: due %d, reversed %+v", h.e.due(), h.e.Sale().Reversed)
	}
	h.do("CARD ENTER")
	d := details(t, h.lastDoc())
	if len(d.Reversed) != 1 || d.Reversed[0].Amount != 200 || len(h.lastDoc().Tenders) != 1 {
		t.Fatalf("sale after a cancelled card: %+v", h.lastDoc())
	}
	// A sale that cannot be paid is voided with its card payment reversed.
	h.do("2 PLU SUBTOTAL 100 CARD ENTER MENU 1 ENTER")
	v := h.lastDoc()
	if v.Kind != journal.KindVoid || len(details(t, v).Reversed) != 1 || len(v.Tenders) != 0 {
		t.Fatalf("void %+v %s", v, v.Data)
	}
}

func TestReceiptNumbersHistoryAndCopies(t *testing.T) {
	h := newHarness(t).signedOn("1", "1234")
	h.do("1 PLU SUBTOTAL CASH SIGN_ON/OFF")
	h.signedOn("1", "1234")
	h.do("2 PLU SUBTOTAL CASH")
	if h.j.entries[1].Receipt != "S042-T03-000001" || h.lastDoc().Receipt != "S042-T03-000002" {
		t.Fatalf("receipt numbers skip: %q %q", h.j.entries[1].Receipt, h.lastDoc().Receipt)
	}
	h.j.watermark = h.j.entries[1].Seq
	h.do("MENU 7 ENTER")
	if !strings.HasPrefix(h.out.Operator[0], "S042-T03-000002 sale 2,50") || !strings.Contains(h.out.Operator[1], SyncUnsynced) {
		t.Fatalf("newest receipt: %q", h.out.Operator)
	}
	h.do("ENTER")
	if !strings.HasPrefix(h.out.Operator[0], "S042-T03-000001 sale 4,50") || !strings.Contains(h.out.Operator[1], SyncStored) {
		t.Fatalf("older receipt: %q", h.out.Operator)
	}
	// By short number, full number and scan; a copy twice, numbered.
	for _, find := range []string{"2 ENTER", "ENTER", "scan:S042-T03-000002"} {
		h.do(find)
		h.do("SUBTOTAL")
		h.do("MENU 7 ENTER")
	}
	var copies []string
	for _, e := range h.j.entries {
		if e.Kind == journal.KindReprint {
			copies = append(copies, e.Ref+" "+string(e.Data))
		}
	}
	want := []string{`S042-T03-000002 {"copy":1}`, `S042-T03-000001 {"copy":1}`, `S042-T03-000002 {"copy":2}`}
	if strings.Join(copies, ";") != strings.Join(want, ";") {
		t.Fatalf("copies %q, want %q", copies, want)
	}
	if h.docs() != 2 {
		t.Fatalf("a copy took a receipt number: %d documents", h.docs())
	}
	h.do("77 !ENTER")
	// The history opens a receipt for a refund.
	h.do("1 ENTER RETURN")
	if !strings.Contains(h.out.Operator[0], "SUPERVISOR for REFUND") {
		t.Fatalf("refund from the history: %q", h.out.Operator)
	}
	h.do("CLEAR MENU 8 ENTER")
	if h.last().Kind != journal.KindReprint || h.last().Ref != "S042-T03-000002" {
		t.Fatalf("copy of the last receipt: %+v", h.last())
	}
}

func TestShiftsAndZRefusedWhileParked(t *testing.T) {
	h := newHarness(t).signedOn("9", "9999")
	h.do("MENU 12 !ENTER")
	h.do("MENU 11 ENTER 10000 ENTER")
	open := h.lastDoc()
	if open.Kind != journal.KindShiftOpen || open.Tenders[0].Amount != 10000 || h.e.Shift() == nil || h.e.Shift().Seq != open.Seq {
		t.Fatalf("shift open %+v shift %+v", open, h.e.Shift())
	}
	if h.j.records[BucketTill][KeyShift] == nil {
		t.Fatal("the open shift is not kept")
	}
	h.do("MENU 11 !ENTER")
	h.do("1 PLU PARK MENU 2 !ENTER")
	if !strings.Contains(h.out.Refused, "Z refused: 1 parked") {
		t.Fatalf("Z with a parked sale: %q", h.out.Refused)
	}
	h.do("MENU 12 !ENTER")
	h.do("PARK SUBTOTAL CASH MENU 12 ENTER 14000 ENTER")
	c := h.lastDoc()
	if c.Kind != journal.KindShiftClose || !c.Kind.Document() || !strings.Contains(string(c.Data), `"counted":14000`) ||
		!strings.Contains(string(c.Data), `"from_seq":`) || h.e.Shift() != nil || h.j.records[BucketTill][KeyShift] != nil {
		t.Fatalf("shift close %+v %s", c, c.Data)
	}
	h.do("MENU 2 ENTER")
	if h.lastDoc().Kind != journal.KindZReport {
		t.Fatal("Z after the parked sale was finished")
	}
	h.do("MENU 13 ENTER")
	if x := h.lastDoc(); x.Kind != journal.KindXReport || !strings.Contains(string(x.Data), `"for_cashier":"9"`) {
		t.Fatalf("X of the cashier %+v", x)
	}
}

func TestPriceCheckAndFindByName(t *testing.T) {
	h := newHarness(t).signedOn("1", "1234")
	h.j.stock["1"] = 12000
	h.do("MENU 9 ENTER 1 ENTER")
	if h.out.Operator[1] != "Chleb żytni 4,50, stock 12" {
		t.Fatalf("price check: %q", h.out.Operator)
	}
	h.do("scan:4006381333931")
	if !strings.HasPrefix(h.out.Operator[1], "Woda 0,5l 2,50") || h.e.Sale() != nil || len(h.j.entries) != 1 {
		t.Fatalf("price check sold something: %q %+v", h.out.Operator, h.e.Sale())
	}
	h.do("777 !ENTER CLEAR CLEAR")
	// "Woda" is 9632 on the letter keys; it is found and sold.
	h.do("MENU 10 ENTER 9632")
	if h.out.Operator[1] != "[wxyz][mno][def][abc]" {
		t.Fatalf("typed name shown as %q", h.out.Operator[1])
	}
	h.do("ENTER 1 ENTER")
	if s := h.e.Sale(); s == nil || len(s.Lines) != 1 || s.Lines[0].Item != "2" {
		t.Fatalf("found item not sold: %+v", s)
	}
	h.do("MENU 6 ENTER 4444 !ENTER CLEAR CLEAR")
	if got := h.e.Catalog().FindByName("5225"); len(got) != 1 || got[0].Name != "Jabłka" {
		t.Fatalf("ł is on the 5 key: %+v", got)
	}
}

func TestPINFailuresAreJournaledAndLockoutsKept(t *testing.T) {
	h := newHarness(t)
	h.do("SIGN_ON/OFF 1 ENTER 0000 !ENTER")
	f := h.last()
	if f.Kind != journal.KindPINFailure || !strings.Contains(f.Reason, "cashier 1") || strings.Contains(f.Reason, "0000") {
		t.Fatalf("failure journaled as %+v", f)
	}
	h.do("SIGN_ON/OFF 1 ENTER 0000 !ENTER SIGN_ON/OFF 1 ENTER 0000 !ENTER")
	// A restarted engine reads the lockout back.
	e2 := New(h.e.cfg, testCatalog(), h.j)
	if err := e2.RestoreLockouts(h.j.records[BucketLockout]); err != nil {
		t.Fatal(err)
	}
	h.e = e2
	h.do("SIGN_ON/OFF 1 ENTER 1234 !ENTER")
	if !strings.Contains(h.out.Refused, "locked until") {
		t.Fatalf("lockout forgotten on restart: %q", h.out.Refused)
	}
	h.now = h.now.Add(6 * time.Minute)
	h.signedOn("1", "1234")
	if _, kept := h.j.records[BucketLockout]["1"]; kept {
		t.Fatal("the failure record outlived a good sign-on")
	}
}

func TestEveryPromptFitsOrPages(t *testing.T) {
	h := newHarness(t).signedOn("1", "1234")
	h.do("MENU")
	var seen []string
	for i := 0; i < 10 && !strings.Contains(strings.Join(seen, " "), "14 USB export"); i++ {
		if n := len([]rune(h.out.Operator[0])); n > 40 {
			t.Fatalf("prompt of %d characters: %q", n, h.out.Operator[0])
		}
		seen = append(seen, h.out.Operator[0])
		h.do("MENU")
	}
	all := strings.Join(seen, " ")
	for _, want := range []string{"1 X report", "7 receipts", "12 shift close", "14 USB export"} {
		if !strings.Contains(all, want) {
			t.Fatalf("menu pages %q lack %q", seen, want)
		}
	}
	for _, w := range []int{12, 20, 40} {
		for _, p := range Pages(idleMenu, w) {
			if len([]rune(p)) > w {
				t.Fatalf("page %q wider than %d", p, w)
			}
		}
	}
	// The menu opened again starts at its first page.
	h.do("MENU 99 !ENTER MENU")
	if !strings.HasPrefix(h.out.Operator[0], "MENU: 1 X report") {
		t.Fatalf("menu opened again at %q", h.out.Operator[0])
	}
	h.do("CLEAR")
	h.e.cfg.PromptWidth = 20
	h.do("!SUBTOTAL")
	if len([]rune(h.out.Operator[0])) > 20 || !strings.Contains(h.out.Operator[0]+" "+h.out.Operator[1], "no sale open") {
		t.Fatalf("refusal %q", h.out.Operator)
	}
}

func TestTradingRefusalsChangeNothing(t *testing.T) {
	cases := []struct {
		name, setup, step, reason string
	}{
		{"second sale discount", "1 PLU MENU 3 ENTER 1 ENTER 5 ENTER 1 ENTER", "MENU 3 ENTER", "has a discount already"},
		{"second line discount", "1 PLU MENU 2 ENTER 1 ENTER 5 ENTER 1 ENTER", "MENU 2 ENTER", "has a discount already"},
		{"discount above the line", "1 PLU MENU 2 ENTER 2 ENTER", "500 ENTER", "above the 4,50"},
		{"percent of 100", "1 PLU MENU 2 ENTER 1 ENTER", "100 ENTER", "type a percent"},
		{"discount after a payment", "1 PLU 2 PLU SUBTOTAL 100 CARD ENTER", "MENU 2 ENTER", "a payment was taken"},
		{"override after a discount", "1 PLU MENU 2 ENTER 1 ENTER 5 ENTER 1 ENTER", "MENU 4 ENTER", "has a discount"},
		{"override to zero", "1 PLU MENU 4 ENTER", "0 ENTER", "price: type the amount"},
		{"cancel card with none", "1 PLU", "MENU 7 ENTER", "no card payment to cancel"},
		{"void after cash", "1 PLU SUBTOTAL 100 CARD ENTER", "MENU 9 ENTER", "no function 9 during a sale"},
		{"shift close with none open", "", "MENU 12 ENTER", "no shift is open"},
		{"copy with no receipts", "", "MENU 8 ENTER", "no receipt printed yet"},
		{"history with no receipts", "", "MENU 7 ENTER", "no receipts yet"},
		{"price check of an unknown item", "MENU 9 ENTER", "777 ENTER", "unknown item 777"},
		{"find a name on 0 and 1", "MENU 10 ENTER", "10 ENTER", "type the name with the keys 2-9"},
		{"find a name nothing has", "MENU 10 ENTER", "9999 ENTER", "no item named"},
		{"manual weight that is not a number", "1 PLU 3 PLU", "1.2.3 ENTER", "weight: type kilograms"},
		{"a choice out of range", "MENU 3 ENTER 500 ENTER", "7 ENTER", "choose 1-2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t).signedOn("1", "1234")
			h.do(tc.setup)
			before := mustJSON(h.e.Sale())
			entries := len(h.j.entries)
			steps := strings.Fields(tc.step)
			for _, s := range steps[:len(steps)-1] {
				h.do(s)
			}
			h.do("!" + steps[len(steps)-1])
			if !strings.Contains(h.out.Refused, tc.reason) {
				t.Fatalf("refused %q, want %q", h.out.Refused, tc.reason)
			}
			if got := mustJSON(h.e.Sale()); got != before {
				t.Fatalf("sale changed:\n%s\n%s", before, got)
			}
			if len(h.j.entries) != entries {
				t.Fatal("a refusal journaled something")
			}
		})
	}
	// A refund cannot be parked nor given a discount.
	h := newHarness(t).signedOn("9", "9999")
	h.do("1 PLU SUBTOTAL CASH RETURN 1 ENTER scan:5901234123457 !PARK")
	if !strings.Contains(h.out.Refused, "a refund cannot be parked") {
		t.Fatalf("park a refund: %q", h.out.Refused)
	}
	h.do("MENU 2 !ENTER")
	if !strings.Contains(h.out.Refused, "discounts are for sales") {
		t.Fatalf("discount on a refund: %q", h.out.Refused)
	}
}
