package reports

import (
	"encoding/json"
	"fmt"
	"sort"

	"tillbox/ledger/journal"
)

// Figures are a report's numbers. Money is in minor units; counts are documents.
type Figures struct {
	Period       Period             `json:"period"`
	Sales        Count              `json:"sales"`
	Refunds      Count              `json:"refunds"`
	Voids        Count              `json:"voids"`
	NoSales      int                `json:"no_sales"`
	CashIn       int64              `json:"cash_in"`
	CashOut      int64              `json:"cash_out"` // negative
	Tenders      map[string]int64   `json:"tenders"`  // net takings per tender kind (change deducted from cash)
	Taxes        []journal.TaxTotal `json:"taxes"`
	CashInDrawer int64              `json:"cash_in_drawer"` // expected: cash tenders net of change, plus cash in, plus cash out
	Offline      int                `json:"offline"`        // documents written while the uplink was down
	ZNumber      int                `json:"z_number,omitempty"`
	GrandTotal   int64              `json:"grand_total"`          // net sales since the first sale, through this report
	Float        int64              `json:"float,omitempty"`      // put in the drawer at shift opens
	Discounts    int64              `json:"discounts,omitempty"`  // taken off sales, line and sale discounts
	Rounding     int64              `json:"rounding,omitempty"`   // added to cash payments by cash rounding
	Cashier      string             `json:"cashier,omitempty"`    // figures of this cashier's documents only
	Counted      *int64             `json:"counted,omitempty"`    // shift close: the cash counted
	OverShort    int64              `json:"over_short,omitempty"` // counted less expected: over > 0, short < 0
}

// saleData is what the figures read of a sale's details.
type saleData struct {
	Rounding int64 `json:"rounding"`
	LineInfo []struct {
		Discount     int64 `json:"discount"`
		SaleDiscount int64 `json:"sale_discount"`
	} `json:"line_info"`
}

// Period is the seq range the figures cover.
type Period struct {
	FromSeq uint64 `json:"from_seq"`
	ToSeq   uint64 `json:"to_seq"`
}

// Count is a number of documents and their gross total.
type Count struct {
	N     int   `json:"n"`
	Gross int64 `json:"gross"`
}

// Compute totals entries (the journal after the last Z report, in seq order). lastZ is that
// Z report's figures (zero for a till that never closed a day).
func Compute(entries []journal.Entry, lastZ Figures) Figures {
	f := Figures{Tenders: map[string]int64{}, ZNumber: lastZ.ZNumber, GrandTotal: lastZ.GrandTotal}
	taxes := map[string]*journal.TaxTotal{}
	for i := range entries {
		e := &entries[i]
		if f.Period.FromSeq == 0 {
			f.Period.FromSeq = e.Seq
		}
		f.Period.ToSeq = e.Seq
		if e.Offline && e.Kind.Document() {
			f.Offline++
		}
		switch e.Kind {
		case journal.KindSale, journal.KindRefund:
			c := &f.Sales
			if e.Kind == journal.KindRefund {
				c = &f.Refunds
			}
			c.N++
			if e.Totals == nil {
				continue
			}
			c.Gross += e.Totals.Gross
			f.GrandTotal += e.Totals.Gross
			for _, t := range e.Tenders {
				f.Tenders[t.Kind] += t.Amount
				if t.Kind == "cash" {
					f.CashInDrawer += t.Amount
				}
			}
			f.Tenders["cash"] -= e.Totals.Change
			f.CashInDrawer -= e.Totals.Change
			var d saleData
			if len(e.Data) > 0 && json.Unmarshal(e.Data, &d) == nil {
				f.Rounding += d.Rounding
				for _, li := range d.LineInfo {
					f.Discounts += li.Discount + li.SaleDiscount
				}
			}
			for _, t := range e.Totals.Taxes {
				a := taxes[t.Code]
				if a == nil {
					a = &journal.TaxTotal{Code: t.Code, Rate: t.Rate}
					taxes[t.Code] = a
				}
				a.Net += t.Net
				a.Tax += t.Tax
				a.Gross += t.Gross
			}
		case journal.KindVoid:
			f.Voids.N++
			if e.Totals != nil {
				f.Voids.Gross += e.Totals.Gross
			}
		case journal.KindNoSale:
			f.NoSales++
		case journal.KindShiftOpen:
			for _, t := range e.Tenders {
				f.Float += t.Amount
				f.CashInDrawer += t.Amount
			}
		case journal.KindCashIn, journal.KindCashOut:
			for _, t := range e.Tenders {
				if e.Kind == journal.KindCashIn {
					f.CashIn += t.Amount
				} else {
					f.CashOut += t.Amount
				}
				f.CashInDrawer += t.Amount
			}
		}
	}
	codes := make([]string, 0, len(taxes))
	for c := range taxes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		f.Taxes = append(f.Taxes, *taxes[c])
	}
	if len(f.Tenders) == 0 {
		f.Tenders = nil
	}
	return f
}

// ForCashier keeps the entries of one cashier's documents.
func ForCashier(entries []journal.Entry, cashier string) []journal.Entry {
	var out []journal.Entry
	for _, e := range entries {
		if e.Cashier == cashier {
			out = append(out, e)
		}
	}
	return out
}

// Shift computes a shift's figures from its entries (from its shift-open entry on) and
// the cash counted at its close: the over or short is counted less the expected cash.
func Shift(entries []journal.Entry, counted int64) Figures {
	f := Compute(entries, Figures{})
	f.GrandTotal = 0
	f.Counted = &counted
	f.OverShort = counted - f.CashInDrawer
	return f
}

// Decode reads the figures a report entry carries in its Data.
func Decode(e journal.Entry) (Figures, error) {
	var f Figures
	if e.Kind != journal.KindXReport && e.Kind != journal.KindZReport && e.Kind != journal.KindShiftClose {
		return f, fmt.Errorf("reports: seq %d is a %s, not a report", e.Seq, e.Kind)
	}
	if err := json.Unmarshal(e.Data, &f); err != nil {
		return f, fmt.Errorf("reports: seq %d: %w", e.Seq, err)
	}
	return f, nil
}

// DecodeLastZ reads the figures kept with the last Z report. Nil or empty b is a till that
// never closed a day: zero figures. A record that does not decode is an error, never zero
// figures, so a damaged record cannot restart the Z numbers or the grand total.
func DecodeLastZ(b []byte) (Figures, error) {
	var f Figures
	if len(b) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("reports: last Z report figures: %w", err)
	}
	return f, nil
}

// Report computes an X (z false) or a Z report's figures from entries, the journal after
// last.Period.ToSeq in seq order, and last, the last Z report's figures. A Z report takes the
// next Z number; an X report has none.
func Report(entries []journal.Entry, last Figures, z bool) Figures {
	f := Compute(entries, last)
	f.ZNumber = 0
	if z {
		f.ZNumber = last.ZNumber + 1
	}
	return f
}

// Attach lays the figures into a report entry's Data, keeping the fields Data already holds
// that the figures do not name.
func Attach(data json.RawMessage, f Figures) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("reports: attach: the entry's data: %w", err)
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("reports: attach: %w", err)
	}
	var fm map[string]json.RawMessage
	if err := json.Unmarshal(b, &fm); err != nil {
		return nil, fmt.Errorf("reports: attach: %w", err)
	}
	for k, v := range fm {
		m[k] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("reports: attach: %w", err)
	}
	return out, nil
}

// Encode is the record kept with a Z report's commit, which DecodeLastZ reads back.
func Encode(f Figures) ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("reports: encode: %w", err)
	}
	return b, nil
}
