package reports

import (
	"encoding/json"
	"testing"

	"tillbox/ledger/journal"
)

func TestComputeFromEntries(t *testing.T) {
	es := []journal.Entry{
		{Seq: 10, Kind: journal.KindSale, Totals: &journal.Totals{Gross: 1650, Change: 350, Taxes: []journal.TaxTotal{{Code: "A", Rate: 2300, Net: 610, Tax: 140, Gross: 750}, {Code: "B", Rate: 500, Net: 857, Tax: 43, Gross: 900}}},
			Tenders: []journal.Tender{{Kind: "cash", Amount: 2000}}},
		{Seq: 11, Kind: journal.KindSale, Offline: true, Totals: &journal.Totals{Gross: 900, Taxes: []journal.TaxTotal{{Code: "B", Rate: 500, Net: 857, Tax: 43, Gross: 900}}},
			Tenders: []journal.Tender{{Kind: "card", Amount: 500}, {Kind: "cash", Amount: 400}}},
		{Seq: 12, Kind: journal.KindRefund, Totals: &journal.Totals{Gross: -450, Taxes: []journal.TaxTotal{{Code: "B", Rate: 500, Net: -429, Tax: -21, Gross: -450}}},
			Tenders: []journal.Tender{{Kind: "cash", Amount: -450}}},
		{Seq: 13, Kind: journal.KindNoSale},
		{Seq: 14, Kind: journal.KindPowerUp},
		{Seq: 15, Kind: journal.KindCashIn, Tenders: []journal.Tender{{Kind: "cash", Amount: 10000}}},
		{Seq: 16, Kind: journal.KindCashOut, Tenders: []journal.Tender{{Kind: "cash", Amount: -2500}}},
		{Seq: 17, Kind: journal.KindVoid, Totals: &journal.Totals{Gross: 700}},
	}
	f := Compute(es, Figures{ZNumber: 4, GrandTotal: 100000})
	want := Figures{
		Period: Period{FromSeq: 10, ToSeq: 17}, Sales: Count{N: 2, Gross: 2550}, Refunds: Count{N: 1, Gross: -450},
		Voids: Count{N: 1, Gross: 700}, NoSales: 1, CashIn: 10000, CashOut: -2500,
		Tenders: map[string]int64{"cash": 1600, "card": 500},
		Taxes:   []journal.TaxTotal{{Code: "A", Rate: 2300, Net: 610, Tax: 140, Gross: 750}, {Code: "B", Rate: 500, Net: 1285, Tax: 65, Gross: 1350}},
		// 2000 - 350 + 400 - 450 + 10000 - 2500
		CashInDrawer: 9100, Offline: 1, ZNumber: 4, GrandTotal: 102100,
	}
	got, _ := json.Marshal(f)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Fatalf("figures\n got %s\nwant %s", got, exp)
	}
	e := journal.Entry{Seq: 18, Kind: journal.KindZReport, Data: got}
	back, err := Decode(e)
	if err != nil || back.GrandTotal != 102100 {
		t.Fatalf("decode: %+v %v", back, err)
	}
	if _, err := Decode(journal.Entry{Kind: journal.KindSale}); err == nil {
		t.Fatal("decoded a sale as a report")
	}
}

func TestReportNumbersZAndAttachKeepsTheEntrysData(t *testing.T) {
	es := []journal.Entry{{Seq: 5, Kind: journal.KindSale, Totals: &journal.Totals{Gross: 300}, Tenders: []journal.Tender{{Kind: "card", Amount: 300}}}}
	last := Figures{ZNumber: 7, GrandTotal: 1000, Period: Period{ToSeq: 4}}
	z := Report(es, last, true)
	x := Report(es, last, false)
	if z.ZNumber != 8 || x.ZNumber != 0 || z.GrandTotal != 1300 || x.Sales.Gross != 300 {
		t.Fatalf("z %+v x %+v", z, x)
	}
	data, err := Attach(json.RawMessage(`{"cashier_note":"end of day","z_number":99}`), z)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil || m["cashier_note"] != "end of day" || m["z_number"] != float64(8) {
		t.Fatalf("attached %s: %v", data, err)
	}
	rec, err := Encode(z)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeLastZ(rec)
	if err != nil || back.ZNumber != 8 || back.GrandTotal != 1300 || back.Period.ToSeq != 5 {
		t.Fatalf("decoded %+v %v", back, err)
	}
}

func TestDamagedFiguresAreErrorsNotZeros(t *testing.T) {
	if f, err := DecodeLastZ(nil); err != nil || f.ZNumber != 0 {
		t.Fatalf("no record: %+v %v", f, err)
	}
	if _, err := DecodeLastZ([]byte(`{"z_number":`)); err == nil {
		t.Fatal("a truncated last-Z record decoded")
	}
	if _, err := Attach(json.RawMessage(`[1,2]`), Figures{}); err == nil {
		t.Fatal("figures attached to data that is not an object")
	}
}

func TestShiftAndCashierFigures(t *testing.T) {
	es := []journal.Entry{
		{Seq: 20, Kind: journal.KindShiftOpen, Cashier: "1", Tenders: []journal.Tender{{Kind: "cash", Amount: 10000}}},
		{Seq: 21, Kind: journal.KindSale, Cashier: "1", Totals: &journal.Totals{Gross: 2787, Change: 2215},
			Tenders: []journal.Tender{{Kind: "cash", Amount: 5000}},
			Data:    json.RawMessage(`{"line_info":[{"discount":35},{"sale_discount":20,"discount":5}],"rounding":-2}`)},
		{Seq: 22, Kind: journal.KindSale, Cashier: "2", Totals: &journal.Totals{Gross: 349},
			Tenders: []journal.Tender{{Kind: "cash", Amount: 350}}, Data: json.RawMessage(`{"rounding":1}`)},
	}
	f := Shift(es, 13100)
	// Expected 100,00 + 27,85 + 3,50 = 131,35; counted 131,00.
	if f.Float != 10000 || f.CashInDrawer != 13135 || *f.Counted != 13100 || f.OverShort != -35 || f.Rounding != -1 || f.Discounts != 60 {
		t.Fatalf("shift %+v", f)
	}
	one := Report(ForCashier(es, "2"), Figures{}, false)
	if one.Sales.N != 1 || one.Sales.Gross != 349 || one.Float != 0 || one.Rounding != 1 {
		t.Fatalf("cashier 2 %+v", one)
	}
	if _, err := Decode(journal.Entry{Kind: journal.KindShiftClose, Data: json.RawMessage(`{"counted":5}`)}); err != nil {
		t.Fatalf("a shift close does not decode: %v", err)
	}
}
