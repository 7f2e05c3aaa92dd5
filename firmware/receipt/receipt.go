package receipt

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"tillbox/drivers/printer"
	"tillbox/firmware/reports"
	"tillbox/ledger/journal"
)

// Layout is the fixed text and number format of a store's receipts.
type Layout struct {
	Header   []string
	Footer   []string
	Decimal  string            // "," or "."
	Location *time.Location    // local time printed on receipts; nil: UTC
	Cashiers map[string]string // cashier id -> name as printed
}

var titles = map[journal.Kind]string{
	journal.KindSale: "RECEIPT", journal.KindRefund: "REFUND", journal.KindVoid: "VOIDED SALE",
	journal.KindNoSale: "NO SALE", journal.KindCashIn: "CASH IN", journal.KindCashOut: "CASH OUT",
	journal.KindXReport: "X REPORT", journal.KindZReport: "Z REPORT - DAY CLOSED",
	journal.KindStockTransfer: "STOCK TRANSFER", journal.KindInternalRelease: "INTERNAL RELEASE",
	journal.KindShiftOpen: "SHIFT OPEN", journal.KindShiftClose: "SHIFT CLOSE",
}

// OfflineNote is printed on documents written while the uplink was down.
const OfflineNote = "OFFLINE - will be sent to head office"

// Render lays e out for printing.
func (l *Layout) Render(e journal.Entry) *printer.Doc {
	d := &printer.Doc{}
	for i, h := range l.Header {
		it := printer.Text(h).Center()
		if i == 0 {
			it = it.Bold()
		}
		d.Add(it)
	}
	title := titles[e.Kind]
	if title == "" {
		title = strings.ToUpper(string(e.Kind))
	}
	d.Add(printer.Feed(1), printer.Text(title).Bold().Tall().Center())
	d.Add(printer.Columns(e.Receipt, l.when(e.At)))
	cashier := e.Cashier
	if n := l.Cashiers[e.Cashier]; n != "" {
		cashier = n
	}
	d.Add(printer.Columns("till "+strings.ToUpper(e.Till), "cashier "+cashier))
	if e.Offline {
		d.Add(printer.Text(OfflineNote).Bold().Center())
	}
	if e.Ref != "" {
		what := "refund of"
		if e.Kind == journal.KindStockTransfer || e.Kind == journal.KindInternalRelease {
			what = "order"
		}
		d.Add(printer.Text(what + " " + e.Ref))
	}
	if e.Reason != "" && e.Kind.Document() {
		d.Add(printer.Text("reason: " + e.Reason))
	}
	d.Add(printer.Text(strings.Repeat("-", 20)).Center())
	switch e.Kind {
	case journal.KindXReport, journal.KindZReport:
		l.report(d, e)
	case journal.KindStockTransfer, journal.KindInternalRelease:
		l.stockDocument(d, e)
	default:
		l.lines(d, e)
		l.totals(d, e)
	}
	if e.Receipt != "" {
		d.Add(printer.Feed(1), printer.Code128(e.Receipt).Center())
	}
	if len(l.Footer) > 0 {
		d.Add(printer.Feed(1))
		for _, f := range l.Footer {
			d.Add(printer.Text(f).Center())
		}
	}
	d.Add(printer.Feed(2), printer.Cut(true))
	return d
}

func (l *Layout) when(t time.Time) string {
	loc := l.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

// Money formats minor units with two decimals.
func (l *Layout) Money(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	sep := l.Decimal
	if sep == "" {
		sep = "."
	}
	return fmt.Sprintf("%s%d%s%02d", sign, v/100, sep, v%100)
}

func qty(q int64) string {
	if q%1000 == 0 {
		return fmt.Sprintf("%d", q/1000)
	}
	if q < 0 {
		return fmt.Sprintf("-%d.%03d", -q/1000, -q%1000)
	}
	return fmt.Sprintf("%d.%03d", q/1000, q%1000)
}

func (l *Layout) lines(d *printer.Doc, e journal.Entry) {
	for _, ln := range e.Lines {
		d.Add(printer.Columns(ln.Name, l.Money(ln.Amount)+" "+ln.Tax))
		if ln.Qty != 1000 {
			d.Add(printer.Text("  " + qty(ln.Qty) + " x " + l.Money(ln.Price)).Small())
		}
	}
	var extra struct {
		Voided     []journal.Line `json:"voided"`
		ApprovedBy string         `json:"approved_by"`
	}
	if len(e.Data) > 0 {
		json.Unmarshal(e.Data, &extra)
	}
	for _, ln := range extra.Voided {
		d.Add(printer.Columns("VOID "+ln.Name, l.Money(-ln.Amount)).Small())
	}
	if extra.ApprovedBy != "" {
		d.Add(printer.Text("approved by supervisor " + extra.ApprovedBy).Small())
	}
}

func (l *Layout) totals(d *printer.Doc, e journal.Entry) {
	if e.Totals != nil && (len(e.Lines) > 0 || e.Totals.Gross != 0) {
		d.Add(printer.Text(strings.Repeat("-", 20)).Center())
		d.Add(printer.Columns("TOTAL "+e.Currency, l.Money(e.Totals.Gross)).Bold().DoubleSize())
		for _, t := range e.Totals.Taxes {
			d.Add(printer.Columns(fmt.Sprintf("VAT %s %d%%", t.Code, t.Rate/100), l.Money(t.Tax)).Small())
		}
	}
	for _, t := range e.Tenders {
		name := strings.ToUpper(t.Kind)
		d.Add(printer.Columns(name, l.Money(t.Amount)))
	}
	if e.Totals != nil && e.Totals.Change != 0 {
		d.Add(printer.Columns("CHANGE", l.Money(e.Totals.Change)).Bold())
	}
}

func (l *Layout) stockDocument(d *printer.Doc, e journal.Entry) {
	for _, ln := range e.Lines {
		d.Add(printer.Columns(ln.Item+" "+ln.Name, qty(ln.Qty)))
	}
	var rv struct {
		To     string   `json:"to"`
		Review bool     `json:"review"`
		Over   []string `json:"over"`
	}
	json.Unmarshal(e.Data, &rv)
	if rv.To != "" {
		d.Add(printer.Text("to " + rv.To))
	}
	if rv.Review {
		d.Add(printer.Text("FOR REVIEW AT HEAD OFFICE").Bold())
		if len(rv.Over) > 0 {
			d.Add(printer.Text("beyond the order: " + strings.Join(rv.Over, ", ")))
		}
	}
}

func (l *Layout) report(d *printer.Doc, e journal.Entry) {
	f, err := reports.Decode(e)
	if err != nil {
		d.Add(printer.Text("report figures unreadable: " + err.Error()))
		return
	}
	if e.Kind == journal.KindZReport {
		d.Add(printer.Text(fmt.Sprintf("Z no. %d", f.ZNumber)).Bold())
	}
	d.Add(printer.Text(fmt.Sprintf("seq %d - %d", f.Period.FromSeq, f.Period.ToSeq)).Small())
	d.Add(printer.Columns(fmt.Sprintf("sales (%d)", f.Sales.N), l.Money(f.Sales.Gross)))
	d.Add(printer.Columns(fmt.Sprintf("refunds (%d)", f.Refunds.N), l.Money(f.Refunds.Gross)))
	d.Add(printer.Columns(fmt.Sprintf("voided sales (%d)", f.Voids.N), l.Money(f.Voids.Gross)))
	d.Add(printer.Columns("no sales", fmt.Sprint(f.NoSales)))
	for _, k := range []string{"cash", "card"} {
		if v, ok := f.Tenders[k]; ok {
			d.Add(printer.Columns(strings.ToUpper(k), l.Money(v)))
		}
	}
	for _, t := range f.Taxes {
		d.Add(printer.Columns(fmt.Sprintf("VAT %s %d%% on %s", t.Code, t.Rate/100, l.Money(t.Gross)), l.Money(t.Tax)).Small())
	}
	d.Add(printer.Columns("cash in", l.Money(f.CashIn)), printer.Columns("cash out", l.Money(f.CashOut)))
	d.Add(printer.Columns("CASH IN DRAWER", l.Money(f.CashInDrawer)).Bold())
	if f.Offline > 0 {
		d.Add(printer.Columns("written offline", fmt.Sprint(f.Offline)))
	}
	d.Add(printer.Columns("GRAND TOTAL", l.Money(f.GrandTotal)).Bold())
}
