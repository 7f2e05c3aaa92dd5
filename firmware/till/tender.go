package till

import (
	"encoding/json"
	"time"

	"tillbox/ledger/journal"
)

func (e *Engine) due() int64 {
	d := e.total()
	for _, t := range e.sale.Tenders {
		d -= t.Amount
	}
	return d
}

// cardAmount is the amount waiting for the cashier's confirmation of the card terminal.
func (e *Engine) cardAmount() int64 {
	if e.pending != nil && e.pending.what == "card" {
		v, _ := parseAmount(e.pending.supID)
		if e.total() < 0 {
			return -v
		}
		return v
	}
	return 0
}

// tenderKey takes payments. Cash is the last tender: it must cover what is due and gives
// change. A card may pay part (split tender) and is confirmed by the cashier once the
// external terminal approved it. Refunds pay out what is due, in cash or to the card.
func (e *Engine) tenderKey(k Key, now time.Time) Output {
	due := e.due()
	refund := e.total() < 0
	switch k {
	case KeyCash:
		// Cash pays what is due rounded to the cash step; the difference is the rounding.
		in := e.takeInput()
		cash := e.cashDue(due)
		amount := abs(cash)
		if in != "" {
			v, ok := parseAmount(in)
			if !ok {
				return e.refuse("amount: type digits, then CASH")
			}
			amount = v
		}
		if refund {
			if amount != abs(cash) {
				return e.refuse("a refund pays out exactly " + e.Money(abs(cash)))
			}
			e.sale.Rounding = cash - due
			e.sale.Tenders = append(e.sale.Tenders, journal.Tender{Kind: "cash", Amount: cash})
			return e.complete(now, 0)
		}
		if amount < cash {
			return e.refuse("amount too small: " + e.Money(cash) + " due (a card can pay part first)")
		}
		e.sale.Rounding = cash - due
		e.sale.Tenders = append(e.sale.Tenders, journal.Tender{Kind: "cash", Amount: amount})
		return e.complete(now, amount-cash)
	case KeyCard:
		in := e.takeInput()
		amount := abs(due)
		if in != "" {
			v, ok := parseAmount(in)
			if !ok || v <= 0 {
				return e.refuse("amount: type digits, then CARD")
			}
			amount = v
		}
		if amount > abs(due) {
			return e.refuse("card amount above the " + e.Money(abs(due)) + " due")
		}
		if refund && amount != abs(due) {
			return e.refuse("a refund pays out exactly " + e.Money(abs(due)))
		}
		e.pending = &pendingAction{what: "card", supID: formatMinor(amount), back: modeTender}
		e.mode = modeCardConfirm
		out := e.show(e.prompt(), "")
		out.Customer = &CustomerView{Left: [2]string{"CARD", "follow the terminal"}, Right: [2]string{e.Money(amount), ""}}
		return out
	case KeySubtotal:
		out := e.show(e.prompt(), "")
		out.Customer = e.customerTotal("TO PAY", due)
		return out
	case KeyMenu:
		e.mode = modeMenu
		return e.show(e.prompt(), "")
	}
	return e.refuse(k.String() + " is not used while paying")
}

func (e *Engine) cardConfirmKey(k Key, now time.Time) Output {
	if k != KeyEnter {
		return e.refuse("ENTER when the terminal approved, CLEAR if it declined")
	}
	amount := e.cardAmount()
	e.pending = nil
	e.sale.Tenders = append(e.sale.Tenders, journal.Tender{Kind: "card", Amount: amount})
	e.mode = modeTender
	if e.due() == 0 {
		return e.complete(now, 0)
	}
	out := e.show(e.prompt(), "")
	out.Customer = e.customerTotal("TO PAY", e.due())
	out.Save = e.saveOpen()
	return out
}

// complete turns the paid sale or refund into one document: the entry, its stock moves, the
// refunded quantities of the original receipt and the removal of the open-sale record all
// go into the same commit, so a crash can neither lose the sale nor ring it up twice.
func (e *Engine) complete(now time.Time, change int64) Output {
	s := e.sale
	lines, info := e.finalLines()
	c := &Commit{
		Entry: journal.Entry{Kind: s.Kind, At: now, Cashier: e.cashier.ID, Currency: e.cfg.Currency,
			Lines: lines, Tenders: s.Tenders, Ref: s.Ref,
			Totals: &journal.Totals{Gross: e.total(), Taxes: e.taxes(lines), Change: change},
			Data:   e.details(info)},
		Print: true,
	}
	for _, l := range s.Lines {
		c.Stock = append(c.Stock, StockMove{Item: l.Item, Qty: -l.Qty})
	}
	for _, t := range s.Tenders {
		if t.Kind == "cash" {
			c.OpenDrawer = string(s.Kind)
		}
	}
	if s.Kind == journal.KindRefund {
		done := map[string]int64{}
		if prev, err := e.journal.Refunded(s.Ref); err == nil {
			for k, v := range prev {
				done[k] = v
			}
		}
		for _, l := range s.Lines {
			done[l.Item] += -l.Qty
		}
		b, _ := json.Marshal(done)
		c.Records = append(c.Records, Record{Bucket: BucketRefunded, Key: s.Ref, Value: b})
	}
	return e.commitDocument(c)
}

// commitDocument hands a document to the caller and waits for Committed or CommitFailed.
func (e *Engine) commitDocument(c *Commit) Output {
	c.Records = append(c.Records, Record{Bucket: BucketTill, Key: KeyOpenSale})
	e.busy = c
	e.mode = modeBusy
	out := e.show("saving…", "")
	out.Commit = c
	return out
}

// Committed tells the engine the caller journaled the document it asked for (entry as
// stored, with its receipt number). The sale is over; the customer display shows the change.
func (e *Engine) Committed(stored journal.Entry) Output {
	c := e.busy
	e.busy, e.sale, e.pending, e.input, e.qty = nil, nil, nil, "", 0
	e.mode = modeIdle
	if c == nil {
		return e.show(e.prompt(), "")
	}
	label := string(stored.Kind) + " " + stored.Receipt
	out := e.show(label, "")
	if stored.Kind == journal.KindShiftOpen && e.shift != nil {
		// The shift's figures start at its own entry.
		e.shift.Seq = stored.Seq
		b, _ := json.Marshal(e.shift)
		out.Save = append(out.Save, Record{Bucket: BucketTill, Key: KeyShift, Value: b})
	}
	switch {
	case stored.Totals != nil && stored.Totals.Change > 0:
		out.Operator[1] = "CHANGE " + e.Money(stored.Totals.Change)
		out.Customer = &CustomerView{Left: [2]string{"CHANGE", "THANK YOU"}, Right: [2]string{e.Money(stored.Totals.Change), ""}}
	case stored.Kind == journal.KindRefund:
		paid := -stored.Totals.Gross
		out.Operator[1] = "PAY OUT " + e.Money(paid)
		for _, t := range stored.Tenders {
			if t.Kind == "cash" {
				paid = -t.Amount
			} else {
				out.Operator[1] = "REFUNDED TO CARD " + e.Money(-t.Amount)
			}
		}
		if out.Operator[1][0] == 'P' {
			out.Operator[1] = "PAY OUT " + e.Money(paid)
		}
		out.Customer = &CustomerView{Left: [2]string{"REFUND", "THANK YOU"}, Right: [2]string{e.Money(-stored.Totals.Gross), ""}}
	default:
		out.Customer = &CustomerView{Left: [2]string{"THANK YOU", ""}}
	}
	return out
}

// CommitFailed tells the engine the document could not be journaled (a full disk, say).
// Nothing was sold: the sale stays open as it was so the cashier can retry or void it.
func (e *Engine) CommitFailed(err error) Output {
	c := e.busy
	e.busy = nil
	if c != nil && e.sale != nil {
		n := len(e.sale.Tenders)
		if n > 0 && (c.Entry.Kind == journal.KindSale || c.Entry.Kind == journal.KindRefund) {
			// The last tender completed the sale; take it back so it can be given again.
			e.sale.Tenders = e.sale.Tenders[:n-1]
		}
	}
	e.mode = e.backMode()
	return e.refuse("NOT SAVED: " + err.Error())
}

func formatMinor(v int64) string { return itoa(v) }
