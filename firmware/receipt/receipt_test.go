package receipt

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
	"tillbox/ledger/journal"
)

// printed renders d for the default printer profile and decodes the bytes as the printer
// would, so the test reads the receipt a customer gets.
func printed(t *testing.T, d *printer.Doc) string {
	t.Helper()
	r, err := printer.Render(d, &printer.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	items, unknown := printertest.Decode(r.Bytes())
	if len(unknown) > 0 {
		t.Fatalf("printer did not understand %q", unknown)
	}
	return printertest.Text(items)
}

func TestSaleReceipt(t *testing.T) {
	l := &Layout{Header: []string{"SKLEP ŻABKA", "ul. Długa 1"}, Footer: []string{"Dziękujemy!"}, Decimal: ",",
		Cashiers: map[string]string{"1": "Anna"}}
	e := journal.Entry{Kind: journal.KindSale, Store: "s042", Till: "t03", Seq: 12, Receipt: "S042-T03-000012",
		At: time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC), Cashier: "1", Offline: true, Currency: "PLN",
		Lines: []journal.Line{{Item: "1", Name: "Chleb żytni", Qty: 1000, Price: 450, Amount: 450, Tax: "B"},
			{Item: "2", Name: "Woda", Qty: 3000, Price: 250, Amount: 750, Tax: "A"}},
		Totals:  &journal.Totals{Gross: 1200, Change: 800, Taxes: []journal.TaxTotal{{Code: "A", Rate: 2300, Tax: 140, Gross: 750}}},
		Tenders: []journal.Tender{{Kind: "cash", Amount: 2000}}}
	got := printed(t, l.Render(e))
	for _, want := range []string{"SKLEP ŻABKA", "RECEIPT", "S042-T03-000012", "2026-11-25 09:30", "cashier Anna",
		OfflineNote, "Chleb żytni", "4,50 B", "3 x 2,50", "12,00", "VAT A 23%", "CASH", "20,00", "CHANGE", "8,00",
		"[CODE128 S042-T03-000012]", "Dziękujemy!", "[cut partial]"} {
		if !strings.Contains(got, want) {
			t.Errorf("receipt lacks %q:\n%s", want, got)
		}
	}
	again := printed(t, l.Render(e).Reprint(""))
	if !strings.HasPrefix(again, printer.ReprintMark) {
		t.Fatalf("reprint does not start with the mark:\n%s", again)
	}
	e.Offline = false
	if strings.Contains(printed(t, l.Render(e)), OfflineNote) {
		t.Fatal("an online receipt says it is offline")
	}
}

func TestRefundAndStockDocument(t *testing.T) {
	l := &Layout{Decimal: "."}
	r := journal.Entry{Kind: journal.KindRefund, Receipt: "S1-T1-000020", Ref: "S1-T1-000012", Currency: "EUR",
		Lines:   []journal.Line{{Item: "2", Name: "Water", Qty: -1000, Price: 129, Amount: -129}},
		Totals:  &journal.Totals{Gross: -129},
		Tenders: []journal.Tender{{Kind: "cash", Amount: -129}}, Data: []byte(`{"approved_by":"9"}`)}
	got := printed(t, l.Render(r))
	for _, want := range []string{"REFUND", "refund of S1-T1-000012", "-1.29", "approved by supervisor 9"} {
		if !strings.Contains(got, want) {
			t.Errorf("refund slip lacks %q:\n%s", want, got)
		}
	}
	d := journal.Entry{Kind: journal.KindStockTransfer, Receipt: "S1-T1-000021", Ref: "77",
		Lines: []journal.Line{{Item: "1", Name: "Bread", Qty: 5000}}, Data: []byte(`{"to":"w2","review":true,"over":["1"]}`)}
	got = printed(t, l.Render(d))
	for _, want := range []string{"STOCK TRANSFER", "order 77", "1 Bread", "to w2", "FOR REVIEW AT HEAD OFFICE", "beyond the order: 1"} {
		if !strings.Contains(got, want) {
			t.Errorf("transfer lacks %q:\n%s", want, got)
		}
	}
}

func TestSaleDetailsAndLocalTime(t *testing.T) {
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Fatal(err)
	}
	l := &Layout{Decimal: ",", Location: zurich}
	e := journal.Entry{Kind: journal.KindSale, Receipt: "S1-T1-000003", Currency: "CHF",
		At: time.Date(2026, 7, 1, 8, 5, 0, 0, time.UTC),
		Lines: []journal.Line{{Item: "1", Name: "Brot", Qty: 1000, Price: 349, Amount: 314, Tax: "B"},
			{Item: "3", Name: "Äpfel", Qty: 1250, Price: 299, Amount: 354, Tax: "B"}},
		Totals:  &journal.Totals{Gross: 668},
		Tenders: []journal.Tender{{Kind: "cash", Amount: 670}},
		Data: []byte(`{"line_info":[{"discount":35,"percent":1000,"reason":"damaged goods"},` +
			`{"manual_weight":true,"sale_discount":20,"override_from":350,"approved_by":"9"}],` +
			`"discount":{"amount":20,"reason":"staff","approved_by":"9"},"reversed":[{"kind":"card","amount":100}],"rounding":2}`)}
	got := printed(t, l.Render(e))
	for _, want := range []string{"2026-07-01 10:05", "3,49 B", "discount 10% (damaged goods)", "-0,35",
		"1,250 kg, weight typed (manual) x 2,99", "3,74 B", "price override from 3,50, approved 9",
		"SALE DISCOUNT (staff), approved 9", "-0,20", "CASH ROUNDING", "0,02", "TO PAY IN CASH", "6,70", "CARD CANCELLED (reversed)"} {
		if !strings.Contains(got, want) {
			t.Errorf("receipt lacks %q:\n%s", want, got)
		}
	}
	c := printed(t, l.Render(e).Reprint(CopyMark(2)))
	if !strings.HasPrefix(strings.TrimSpace(c), "COPY 2 - NOT AN ORIGINAL") {
		t.Fatalf("copy:\n%s", c)
	}
}
