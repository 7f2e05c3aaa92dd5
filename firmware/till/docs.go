package till

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"tillbox/ledger/journal"
)

// findReceipt looks a receipt up for a refund: a full number (typed or scanned from the
// receipt's barcode) or just the number part of this till's receipts.
func (e *Engine) findReceipt(in string, now time.Time) Output {
	if in == "" {
		return e.refuse("type or scan the receipt number")
	}
	receipt := e.resolveReceipt(in)
	orig, err := e.journal.ByReceipt(receipt)
	if err != nil {
		e.mode = modeIdle
		return e.refuse("receipt " + receipt + " not found on this till")
	}
	if orig.Kind != journal.KindSale {
		e.mode = modeIdle
		return e.refuse(fmt.Sprintf("%s is a %s, not a sale", receipt, orig.Kind))
	}
	done, err := e.journal.Refunded(receipt)
	if err != nil {
		e.mode = modeIdle
		return e.refuse("cannot read refunds of " + receipt + ": " + err.Error())
	}
	left := map[string]refundable{}
	for _, l := range orig.Lines {
		r := left[l.Item]
		if r.Qty == 0 {
			r.Price, r.Name, r.Tax = l.Price, l.Name, l.Tax
			if l.Qty != 0 && mulQty(l.Price, l.Qty) != l.Amount {
				r.Price = l.Amount * 1000 / l.Qty // embedded price or weight: price per unit paid
			}
		}
		r.Qty += l.Qty
		left[l.Item] = r
	}
	anyLeft := false
	for item, r := range left {
		r.Qty -= done[item]
		left[item] = r
		if r.Qty > 0 {
			anyLeft = true
		}
	}
	if !anyLeft {
		e.mode = modeIdle
		return e.refuse("everything on " + receipt + " was refunded already")
	}
	e.mode = modeIdle
	return e.needSupervisor("REFUND", now, func(sup *Cashier, now time.Time) Output {
		e.startSale(journal.KindRefund, now)
		e.sale.Ref, e.sale.Refundable, e.sale.Approved = receipt, left, sup.ID
		out := e.show("refund "+receipt+": scan items, or ENTER for all", "")
		out.Save = e.saveOpen()
		return out
	})
}

// refundAll adds every item still refundable on the receipt.
func (e *Engine) refundAll() Output {
	for item, r := range e.sale.Refundable {
		if r.Qty > 0 {
			e.sale.Lines = append(e.sale.Lines, journal.Line{Item: item, Name: r.Name, Qty: -r.Qty, Price: r.Price, Amount: -mulQty(r.Price, r.Qty), Tax: r.Tax})
		}
	}
	sortLines(e.sale.Lines)
	e.mode = modeTender
	out := e.show(e.prompt(), "")
	out.Customer = e.customerTotal("REFUND", -e.total())
	out.Save = e.saveOpen()
	return out
}

func sortLines(ls []journal.Line) {
	slices.SortFunc(ls, func(a, b journal.Line) int { return strings.Compare(a.Item, b.Item) })
}

func (e *Engine) noSaleReason(now time.Time) Output {
	in := e.takeInput()
	n, err := strconv.Atoi(in)
	if err != nil || n < 1 || n > len(e.cfg.NoSaleReasons) {
		return e.refuse(fmt.Sprintf("choose a reason 1-%d", len(e.cfg.NoSaleReasons)))
	}
	sup := e.pending.supID
	e.pending = nil
	data, _ := json.Marshal(map[string]string{"approved_by": sup})
	return e.commitDocument(&Commit{
		Entry: journal.Entry{Kind: journal.KindNoSale, At: now, Cashier: e.cashier.ID, Reason: e.cfg.NoSaleReasons[n-1], Data: data},
		Print: true, OpenDrawer: "no-sale",
	})
}

func (e *Engine) menuChoice(now time.Time) Output {
	in := e.takeInput()
	if e.sale != nil {
		e.mode = e.backMode()
		switch in {
		case "1":
			return e.voidSale(now)
		case "2", "3":
			return e.discountStart(in == "3")
		case "4":
			return e.overrideStart(now)
		case "5":
			return e.priceCheck(e.mode)
		case "6":
			return e.findItem(e.mode)
		case "7":
			return e.cancelCard()
		}
		return e.refuse("no function " + in + " during a sale")
	}
	e.mode = modeIdle
	switch in {
	case "1":
		return e.commitDocument(&Commit{Entry: journal.Entry{Kind: journal.KindXReport, At: now, Cashier: e.cashier.ID, Currency: e.cfg.Currency}, Print: true, Report: true})
	case "2":
		if n := len(e.parked); n > 0 {
			return e.refuse(fmt.Sprintf("Z refused: %d parked sale(s); PARK resumes them to finish or void", n))
		}
		return e.needSupervisor("Z REPORT", now, func(sup *Cashier, now time.Time) Output {
			data, _ := json.Marshal(map[string]string{"approved_by": sup.ID})
			return e.commitDocument(&Commit{Entry: journal.Entry{Kind: journal.KindZReport, At: now, Cashier: e.cashier.ID, Currency: e.cfg.Currency, Data: data}, Print: true, Report: true})
		})
	case "3":
		e.menuKind, e.mode = journal.KindCashIn, modeAmount
		return e.show(e.prompt(), "")
	case "4":
		return e.needSupervisor("CASH OUT", now, func(sup *Cashier, now time.Time) Output {
			e.menuKind, e.mode = journal.KindCashOut, modeAmount
			e.pending = &pendingAction{supID: sup.ID}
			return e.show(e.prompt(), "")
		})
	case "5":
		e.menuKind, e.mode = journal.KindStockTransfer, modeOrder
		return e.show(e.prompt(), "")
	case "6":
		e.menuKind, e.mode = journal.KindInternalRelease, modeOrder
		return e.show(e.prompt(), "")
	case "7":
		return e.history()
	case "8":
		docs, err := e.journal.Documents(1)
		if err != nil || len(docs) == 0 {
			return e.refuse("no receipt printed yet")
		}
		return e.reprint(docs[0], now)
	case "9":
		return e.priceCheck(modeIdle)
	case "10":
		return e.findItem(modeIdle)
	case "11":
		return e.shiftOpen()
	case "12":
		return e.shiftClose()
	case "13":
		data, _ := json.Marshal(map[string]string{"for_cashier": e.cashier.ID})
		return e.commitDocument(&Commit{Entry: journal.Entry{Kind: journal.KindXReport, At: now, Cashier: e.cashier.ID, Currency: e.cfg.Currency, Data: data}, Print: true, Report: true})
	case "14":
		out := e.show("USB export: writing the unsynced entries…", "")
		out.Export = true
		return out
	case "15":
		return e.needSupervisor("TECHNICIAN PAGE", now, func(*Cashier, time.Time) Output { return e.technicianPage() })
	}
	return e.refuse("no function " + in)
}

// technicianPage shows the page's address on the first line and its token on the second,
// until the next key.
func (e *Engine) technicianPage() Output {
	if e.cfg.TechnicianPage == nil {
		return e.refuse("no technician page on this till")
	}
	addr, token, err := e.cfg.TechnicianPage()
	if err != nil {
		return e.refuse("technician page: " + err.Error())
	}
	line := "page http://" + addr + "/"
	if len([]rune(line)) > e.cfg.PromptWidth {
		line = addr
	}
	return e.show(line, token)
}

func (e *Engine) cashMove(now time.Time) Output {
	v, ok := parseAmount(e.takeInput())
	if !ok || v <= 0 {
		return e.refuse("amount: type digits, then ENTER")
	}
	kind := e.menuKind
	amount := v
	reasons := e.cfg.CashInReasons
	var data json.RawMessage
	if kind == journal.KindCashOut {
		amount, reasons = -v, e.cfg.CashOutReasons
		if e.pending != nil {
			data, _ = json.Marshal(map[string]string{"approved_by": e.pending.supID})
		}
	}
	e.pending = nil
	e.mode = modeIdle
	return e.choose(strings.ToUpper(string(kind))+" "+e.Money(v)+" reason", reasons, modeIdle, func(reason string, now time.Time) Output {
		return e.commitDocument(&Commit{
			Entry: journal.Entry{Kind: kind, At: now, Cashier: e.cashier.ID, Currency: e.cfg.Currency, Reason: reason,
				Tenders: []journal.Tender{{Kind: "cash", Amount: amount}}, Totals: &journal.Totals{Gross: amount}, Data: data},
			Print: true, OpenDrawer: string(kind),
		})
	})
}

// startDocument opens a warehouse transfer or internal release from this till's warehouse
// to the order's destination (or one chosen), for a reason chosen. These are issued offline
// without stock control: any quantity is accepted, and the document is flagged for review at
// HQ where it goes beyond its order.
func (e *Engine) startDocument(now time.Time) Output {
	order := e.takeInput()
	kind := e.menuKind
	e.mode = modeIdle
	reasons := e.cfg.TransferReasons
	if kind == journal.KindInternalRelease {
		reasons = e.cfg.ReleaseReasons
	}
	open := func(to string) Output {
		return e.choose(strings.ToUpper(string(kind))+" reason", reasons, modeIdle, func(reason string, now time.Time) Output {
			e.startSale(kind, now)
			e.sale.Order, e.sale.From, e.sale.To, e.sale.Reason = order, e.cfg.Warehouse, to, reason
			msg := string(kind) + " " + e.cfg.Warehouse + " to " + to + ": scan or PLU items (no stock check), ENTER ends it"
			if _, ok := e.cat.Orders[order]; order != "" && !ok {
				msg = "order " + order + " unknown here: the document will be reviewed; scan or PLU items, ENTER ends it"
			}
			out := e.show(msg, "")
			out.Save = e.saveOpen()
			return out
		})
	}
	if o, ok := e.cat.Orders[order]; ok && o.To != "" {
		return open(o.To)
	}
	return e.choose(strings.ToUpper(string(kind))+" to", e.cfg.Warehouses, modeIdle, func(to string, now time.Time) Output { return open(to) })
}

// documentReview is a stock document's data: where the goods go and why, and what goes
// beyond the order.
type documentReview struct {
	Order  string   `json:"order,omitempty"`
	From   string   `json:"from,omitempty"`
	To     string   `json:"to,omitempty"`
	Reason string   `json:"reason,omitempty"`
	Review bool     `json:"review"`
	Over   []string `json:"over,omitempty"` // items beyond the order, or not on it
}

func (e *Engine) finishDocument(now time.Time) Output {
	s := e.sale
	if len(s.Lines) == 0 {
		return e.refuse("no items yet")
	}
	order, known := e.cat.Orders[s.Order]
	rv := documentReview{Order: s.Order, From: s.From, To: s.To, Reason: s.Reason, Review: !known}
	qty := map[string]int64{}
	for _, l := range s.Lines {
		qty[l.Item] += l.Qty
	}
	for item, q := range qty {
		if q > order.Lines[item] {
			rv.Over = append(rv.Over, item)
			rv.Review = true
		}
	}
	slices.Sort(rv.Over)
	data, _ := json.Marshal(rv)
	c := &Commit{Entry: journal.Entry{Kind: s.Kind, At: now, Cashier: e.cashier.ID, Lines: s.Lines, Ref: s.Order, Reason: s.Reason, Data: data}, Print: true}
	for _, l := range s.Lines {
		c.Stock = append(c.Stock, StockMove{Item: l.Item, Qty: -l.Qty})
	}
	return e.commitDocument(c)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
