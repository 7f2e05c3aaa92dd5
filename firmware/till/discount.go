package till

import (
	"encoding/json"
	"fmt"
	"time"

	"tillbox/ledger/journal"
)

// LineInfo is what a line's entry keeps besides the line itself: its discount, a price
// override, an open price, a manual weight, an age confirmation. It is journaled in the
// entry's data as line_info, aligned with the lines.
type LineInfo struct {
	Discount     int64  `json:"discount,omitempty"`      // taken off the line, minor units
	Percent      int64  `json:"percent,omitempty"`       // the discount in basis points, when given so
	Reason       string `json:"reason,omitempty"`        // why the discount or override
	ApprovedBy   string `json:"approved_by,omitempty"`   // the supervisor who approved it
	SaleDiscount int64  `json:"sale_discount,omitempty"` // the line's share of the sale discount
	OverrideFrom int64  `json:"override_from,omitempty"` // the catalog price before an override
	OpenPrice    bool   `json:"open_price,omitempty"`    // the price was typed: none in the catalog
	ManualWeight bool   `json:"manual_weight,omitempty"` // the weight was typed: no scale label
	Age          int    `json:"age_confirmed,omitempty"` // the customer's age was confirmed at least this
}

func (i LineInfo) zero() bool { return i == LineInfo{} }

// SaleDiscount is a discount on the whole sale: a percent (basis points) or an amount.
type SaleDiscount struct {
	Percent    int64  `json:"percent,omitempty"`
	Amount     int64  `json:"amount,omitempty"`
	Reason     string `json:"reason"`
	ApprovedBy string `json:"approved_by,omitempty"`
}

// Details is what a sale's entry carries in its data: voided lines, approvals, line details,
// the sale discount, card tenders reversed before completion and the cash rounding.
type Details struct {
	Voided     []journal.Line   `json:"voided,omitempty"`
	ApprovedBy string           `json:"approved_by,omitempty"`
	LineInfo   []LineInfo       `json:"line_info,omitempty"`
	Discount   *SaleDiscount    `json:"discount,omitempty"`
	Reversed   []journal.Tender `json:"reversed,omitempty"`
	Rounding   int64            `json:"rounding,omitempty"` // added to the total by cash rounding
}

// DecodeDetails reads a document's details; an entry without them gives zero details.
func DecodeDetails(e journal.Entry) (Details, error) {
	var d Details
	if len(e.Data) == 0 {
		return d, nil
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return d, fmt.Errorf("till: details of seq %d: %w", e.Seq, err)
	}
	return d, nil
}

// details encodes the open sale's details with the lines' info, or nil when there are none.
func (e *Engine) details(info []LineInfo) json.RawMessage {
	s := e.sale
	d := Details{Voided: s.Voided, ApprovedBy: s.Approved, Discount: s.Discount, Reversed: s.Reversed, Rounding: s.Rounding}
	for _, i := range info {
		if !i.zero() {
			d.LineInfo = info
			break
		}
	}
	b, _ := json.Marshal(d)
	if string(b) == "{}" {
		return nil
	}
	return b
}

// saleDiscount is the sale discount's amount on the current subtotal.
func (e *Engine) saleDiscount() int64 {
	d := e.sale.Discount
	if d == nil {
		return 0
	}
	sub := e.subtotal()
	if d.Percent > 0 {
		return min(percentOf(sub, d.Percent), sub)
	}
	return min(d.Amount, sub)
}

// finalLines are the lines as journaled: the sale discount taken off them in proportion
// to their amounts (largest remainder, so the shares add up exactly), so that the tax
// breakdown is computed on what the customer pays per rate. The open sale is not changed.
func (e *Engine) finalLines() ([]journal.Line, []LineInfo) {
	s := e.sale
	lines := append([]journal.Line(nil), s.Lines...)
	info := append([]LineInfo(nil), s.Info...)
	for len(info) < len(lines) {
		info = append(info, LineInfo{})
	}
	total, sub := e.saleDiscount(), e.subtotal()
	if total == 0 || sub <= 0 {
		return lines, info
	}
	shares := make([]int64, len(lines))
	rems := make([]int64, len(lines))
	given := int64(0)
	for i, l := range lines {
		shares[i] = total * l.Amount / sub
		rems[i] = total * l.Amount % sub
		given += shares[i]
	}
	for given < total {
		best := 0
		for i := range rems {
			if rems[i] > rems[best] {
				best = i
			}
		}
		shares[best]++
		rems[best] = -1
		given++
	}
	for i := range lines {
		lines[i].Amount -= shares[i]
		info[i].SaleDiscount = shares[i]
	}
	return lines, info
}

// discountStart asks how a discount is given: by percent or by amount.
func (e *Engine) discountStart(onSale bool) Output {
	if e.sale.Kind != journal.KindSale {
		return e.refuse("discounts are for sales")
	}
	if len(e.sale.Lines) == 0 {
		return e.refuse("no items yet")
	}
	if len(e.sale.Tenders) > 0 {
		return e.refuse("a payment was taken: no discount now")
	}
	what := "LINE DISCOUNT on " + e.sale.Lines[len(e.sale.Lines)-1].Name
	if onSale {
		what = "SALE DISCOUNT"
		if e.sale.Discount != nil {
			return e.refuse("the sale has a discount already: void the sale to change it")
		}
	} else if e.sale.Info != nil && len(e.sale.Info) == len(e.sale.Lines) && e.sale.Info[len(e.sale.Info)-1].Discount != 0 {
		return e.refuse("that line has a discount already: void it to change it")
	}
	back := e.saleMode()
	return e.choose(what, []string{"percent", "amount"}, back, func(how string, now time.Time) Output {
		e.mode = back
		return e.ask(askStep{prompt: what + ": " + how + " + ENTER", back: back,
			enter: func(in string, now time.Time) Output {
				var pct, amt int64
				var ok bool
				if how == "percent" {
					pct, ok = parseFixed(in, 2, false)
					ok = ok && pct > 0 && pct < 10000
				} else {
					amt, ok = parseAmount(in)
					ok = ok && amt > 0
				}
				if !ok {
					return e.refuse("type a " + how + ", then ENTER")
				}
				base := e.subtotal()
				if !onSale {
					base = e.sale.Lines[len(e.sale.Lines)-1].Amount
				}
				off := amt
				if pct > 0 {
					off = percentOf(base, pct)
				}
				if off > base {
					return e.refuse("discount " + e.Money(off) + " above the " + e.Money(base) + " it is taken off")
				}
				e.leaveAsk()
				return e.choose("REASON", e.cfg.DiscountReasons, back, func(reason string, now time.Time) Output {
					apply := func(sup *Cashier, now time.Time) Output {
						e.mode = back
						approved := ""
						if sup != nil {
							approved = sup.ID
						}
						return e.applyDiscount(onSale, pct, amt, off, reason, approved)
					}
					over := off*10000 > base*e.cfg.DiscountLimit
					if pct > 0 {
						over = pct > e.cfg.DiscountLimit // as given, not as rounded to money
					}
					if over {
						return e.needSupervisor("DISCOUNT "+e.Money(off), now, apply)
					}
					return apply(nil, now)
				})
			}})
	})
}

func (e *Engine) applyDiscount(onSale bool, pct, amt, off int64, reason, approvedBy string) Output {
	s := e.sale
	if onSale {
		s.Discount = &SaleDiscount{Percent: pct, Amount: amt, Reason: reason, ApprovedBy: approvedBy}
	} else {
		for len(s.Info) < len(s.Lines) {
			s.Info = append(s.Info, LineInfo{})
		}
		i := len(s.Lines) - 1
		s.Lines[i].Amount -= off
		s.Info[i].Discount, s.Info[i].Percent, s.Info[i].Reason, s.Info[i].ApprovedBy = off, pct, reason, approvedBy
	}
	out := e.show("discount -"+e.Money(off)+" ("+reason+")", "total "+e.Money(e.total()))
	out.Customer = &CustomerView{Left: [2]string{"DISCOUNT", "TOTAL"}, Right: [2]string{"-" + e.Money(off), e.Money(e.total())}}
	out.Save = e.saveOpen()
	return out
}

// overrideStart asks a supervisor-approved new price for the last line.
func (e *Engine) overrideStart(now time.Time) Output {
	if e.sale.Kind != journal.KindSale || len(e.sale.Lines) == 0 {
		return e.refuse("no sale line to override")
	}
	if len(e.sale.Tenders) > 0 {
		return e.refuse("a payment was taken: no override now")
	}
	i := len(e.sale.Lines) - 1
	if i < len(e.sale.Info) && e.sale.Info[i].Discount != 0 {
		return e.refuse("that line has a discount: void it, then override")
	}
	back := e.saleMode()
	l := e.sale.Lines[i]
	return e.ask(askStep{prompt: "OVERRIDE " + l.Name + " " + e.Money(l.Price) + ": new price", hint: "price + ENTER; a supervisor approves", back: back,
		enter: func(in string, now time.Time) Output {
			p, ok := parseAmount(in)
			if !ok || p <= 0 {
				return e.refuse("price: type the amount, then ENTER")
			}
			e.leaveAsk()
			return e.needSupervisor("OVERRIDE "+e.Money(p), now, func(sup *Cashier, now time.Time) Output {
				e.mode = back
				s := e.sale
				for len(s.Info) < len(s.Lines) {
					s.Info = append(s.Info, LineInfo{})
				}
				if s.Info[i].OverrideFrom == 0 {
					s.Info[i].OverrideFrom = s.Lines[i].Price
				}
				s.Info[i].ApprovedBy, s.Info[i].Reason = sup.ID, "price override"
				s.Lines[i].Price, s.Lines[i].Amount = p, mulQty(p, s.Lines[i].Qty)
				out := e.show(l.Name+" now "+e.Money(p), e.Money(s.Lines[i].Amount))
				out.Customer = &CustomerView{Left: [2]string{l.Name, "TOTAL"}, Right: [2]string{e.Money(s.Lines[i].Amount), e.Money(e.total())}}
				out.Save = e.saveOpen()
				return out
			})
		}})
}

// cancelCard reverses the last card tender before the sale completes: the terminal refunds
// it, the sale records it as reversed, and the amount is due again.
func (e *Engine) cancelCard() Output {
	s := e.sale
	n := len(s.Tenders)
	if n == 0 || s.Tenders[n-1].Kind != "card" {
		return e.refuse("no card payment to cancel")
	}
	t := s.Tenders[n-1]
	s.Tenders = s.Tenders[:n-1]
	s.Reversed = append(s.Reversed, t)
	e.mode = modeTender
	out := e.show("card "+e.Money(t.Amount)+" cancelled: reverse it on the terminal", "due "+e.Money(e.due()))
	out.Customer = &CustomerView{Left: [2]string{"CARD CANCELLED", "TO PAY"}, Right: [2]string{e.Money(t.Amount), e.Money(e.due())}}
	out.Save = e.saveOpen()
	return out
}
