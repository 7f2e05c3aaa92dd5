package receipt

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"tillbox/drivers/printer"
	"tillbox/firmware/reports"
	"tillbox/firmware/till"
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

// CopyMark is the mark line of the nth copy of a receipt: a copy is never a second original.
func CopyMark(n int) string { return fmt.Sprintf("COPY %d - NOT AN ORIGINAL", n) }

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
	case journal.KindXReport, journal.KindZReport, journal.KindShiftClose:
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

// qty formats thousandths with the decimal separator money has.
func (l *Layout) qty(q int64) string {
	if q%1000 == 0 {
		return fmt.Sprintf("%d", q/1000)
	}
	sep := l.Decimal
	if sep == "" {
		sep = "."
	}
	if q < 0 {
		return fmt.Sprintf("-%d%s%03d", -q/1000, sep, -q%1000)
	}
	return fmt.Sprintf("%d%s%03d", q/1000, sep, q%1000)
}

// lines prints each line with what its details say of it: the discount taken off (and
// why, and who approved), a price override, an open price, a manual weight, an age check.
func (l *Layout) lines(d *printer.Doc, e journal.Entry) {
	det, _ := till.DecodeDetails(e)
	for i, ln := range e.Lines {
		var info till.LineInfo
		if i < len(det.LineInfo) {
			info = det.LineInfo[i]
		}
		before := ln.Amount + info.Discount + info.SaleDiscount
		d.Add(printer.Columns(ln.Name, l.Money(before)+" "+ln.Tax))
		if ln.Qty != 1000 || info.ManualWeight {
			note := ""
			if info.ManualWeight {
				note = " kg, weight typed (manual)"
			}
			d.Add(printer.Text("  " + l.qty(ln.Qty) + note + " x " + l.Money(ln.Price)).Small())
		}
		if info.OverrideFrom != 0 {
			d.Add(printer.Text("  price override from " + l.Money(info.OverrideFrom) + approved(info.ApprovedBy)).Small())
		}
		if info.OpenPrice {
			d.Add(printer.Text("  price entered at the till").Small())
		}
		if info.Discount != 0 {
			what := "discount"
			if info.Percent > 0 {
				what = fmt.Sprintf("discount %s%%", pct(info.Percent, l.Decimal))
			}
			d.Add(printer.Columns("  "+what+" ("+info.Reason+")"+approved(info.ApprovedBy), "-"+l.Money(info.Discount)).Small())
		}
		if info.Age > 0 {
			d.Add(printer.Text(fmt.Sprintf("  age %d+ confirmed by the cashier", info.Age)).Small())
		}
	}
	for _, ln := range det.Voided {
		d.Add(printer.Columns("VOID "+ln.Name, l.Money(-ln.Amount)).Small())
	}
	if sd := det.Discount; sd != nil {
		var off int64
		for _, li := range det.LineInfo {
			off += li.SaleDiscount
		}
		what := "SALE DISCOUNT"
		if sd.Percent > 0 {
			what += " " + pct(sd.Percent, l.Decimal) + "%"
		}
		d.Add(printer.Columns(what+" ("+sd.Reason+")"+approved(sd.ApprovedBy), "-"+l.Money(off)))
	}
	if det.ApprovedBy != "" {
		d.Add(printer.Text("approved by supervisor " + det.ApprovedBy).Small())
	}
}

func approved(by string) string {
	if by == "" {
		return ""
	}
	return ", approved " + by
}

// pct formats basis points as a percent: 1000 is "10", 1250 is "12,5".
func pct(bp int64, sep string) string {
	if bp%100 == 0 {
		return fmt.Sprint(bp / 100)
	}
	if sep == "" {
		sep = "."
	}
	return strings.TrimRight(fmt.Sprintf("%d%s%02d", bp/100, sep, bp%100), "0")
}

func (l *Layout) totals(d *printer.Doc, e journal.Entry) {
	if e.Totals != nil && (len(e.Lines) > 0 || e.Totals.Gross != 0) {
		d.Add(printer.Text(strings.Repeat("-", 20)).Center())
		d.Add(printer.Columns("TOTAL "+e.Currency, l.Money(e.Totals.Gross)).Bold().DoubleSize())
		for _, t := range e.Totals.Taxes {
			d.Add(printer.Columns(fmt.Sprintf("VAT %s %d%%", t.Code, t.Rate/100), l.Money(t.Tax)).Small())
		}
	}
	det, _ := till.DecodeDetails(e)
	if det.Rounding != 0 && e.Totals != nil {
		d.Add(printer.Columns("CASH ROUNDING", l.Money(det.Rounding)).Small())
		d.Add(printer.Columns("TO PAY IN CASH", l.Money(e.Totals.Gross+det.Rounding)).Bold())
	}
	for _, t := range det.Reversed {
		d.Add(printer.Columns(strings.ToUpper(t.Kind)+" CANCELLED (reversed)", l.Money(t.Amount)).Small())
	}
	for _, t := range e.Tenders {
		name := strings.ToUpper(t.Kind)
		if e.Kind == journal.KindShiftOpen {
			name = "FLOAT"
		}
		d.Add(printer.Columns(name, l.Money(t.Amount)))
	}
	if e.Totals != nil && e.Totals.Change != 0 {
		d.Add(printer.Columns("CHANGE", l.Money(e.Totals.Change)).Bold())
	}
}

func (l *Layout) stockDocument(d *printer.Doc, e journal.Entry) {
	for _, ln := range e.Lines {
		d.Add(printer.Columns(ln.Item+" "+ln.Name, l.qty(ln.Qty)))
	}
	var rv struct {
		From   string   `json:"from"`
		To     string   `json:"to"`
		Review bool     `json:"review"`
		Over   []string `json:"over"`
	}
	json.Unmarshal(e.Data, &rv)
	if rv.From != "" {
		d.Add(printer.Text("from " + rv.From))
	}
	if rv.To != "" {
		d.Add(printer.Text("to " + rv.To))
	}
	d.Add(printer.Text("issued without stock control").Small())
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
	if f.Cashier != "" {
		name := f.Cashier
		if n := l.Cashiers[f.Cashier]; n != "" {
			name = n + " (" + f.Cashier + ")"
		}
		d.Add(printer.Text("for cashier " + name).Bold())
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
	if f.Discounts != 0 {
		d.Add(printer.Columns("discounts given", l.Money(f.Discounts)))
	}
	if f.Rounding != 0 {
		d.Add(printer.Columns("cash rounding", l.Money(f.Rounding)))
	}
	if f.Float != 0 {
		d.Add(printer.Columns("float", l.Money(f.Float)))
	}
	d.Add(printer.Columns("cash in", l.Money(f.CashIn)), printer.Columns("cash out", l.Money(f.CashOut)))
	d.Add(printer.Columns("CASH IN DRAWER", l.Money(f.CashInDrawer)).Bold())
	if f.Counted != nil {
		d.Add(printer.Columns("CASH COUNTED", l.Money(*f.Counted)).Bold())
		what := "OVER"
		if f.OverShort < 0 {
			what = "SHORT"
		}
		d.Add(printer.Columns(what, l.Money(f.OverShort)).Bold())
	}
	if f.Offline > 0 {
		d.Add(printer.Columns("written offline", fmt.Sprint(f.Offline)))
	}
	d.Add(printer.Columns("GRAND TOTAL", l.Money(f.GrandTotal)).Bold())
}
