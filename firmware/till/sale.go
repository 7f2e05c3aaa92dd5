package till

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"tillbox/ledger/journal"
)

func (e *Engine) idleKey(k Key, now time.Time) Output {
	switch k {
	case KeySignOn:
		return e.signOff(now)
	case KeyPLU:
		e.startSale(journal.KindSale, now)
		return e.addPLU(e.takeInput())
	case KeyQty:
		e.startSale(journal.KindSale, now)
		return e.setQty()
	case KeyPark:
		return e.resume(now)
	case KeyReturn:
		e.input = ""
		e.mode = modeRefundReceipt
		return e.show(e.prompt(), "")
	case KeyNoSale:
		e.input = ""
		return e.needSupervisor("NO SALE", now, func(sup *Cashier, now time.Time) Output {
			e.pending = &pendingAction{supID: sup.ID}
			e.mode = modeNoSaleReason
			return e.show(e.prompt(), "")
		})
	case KeyMenu:
		e.mode = modeMenu
		return e.show(e.prompt(), "")
	case KeySubtotal, KeyCash, KeyCard, KeyVoid:
		return e.refuse("no sale open")
	}
	return e.refuse(k.String() + " is not used here")
}

func (e *Engine) startSale(kind journal.Kind, now time.Time) {
	e.sale = &Sale{Kind: kind, Started: now, Cashier: e.cashier.ID}
	switch kind {
	case journal.KindSale:
		e.mode = modeSale
	case journal.KindRefund:
		e.mode = modeRefund
	default:
		e.mode = modeDocument
	}
}

// dropEmptySale closes a sale that was opened by an input that then failed.
func (e *Engine) dropEmptySale() {
	if e.sale != nil && len(e.sale.Lines) == 0 && len(e.sale.Voided) == 0 && e.sale.Kind == journal.KindSale {
		e.sale = nil
		e.mode = modeIdle
	}
}

func (e *Engine) saleKey(k Key, now time.Time) Output {
	switch k {
	case KeyPLU:
		return e.addPLU(e.takeInput())
	case KeyQty:
		return e.setQty()
	case KeyVoid:
		return e.voidLine()
	case KeySubtotal, KeyEnter:
		if e.mode == modeDocument {
			return e.finishDocument(now)
		}
		if len(e.sale.Lines) == 0 && e.mode == modeRefund {
			return e.refundAll()
		}
		if len(e.sale.Lines) == 0 {
			return e.refuse("no items yet")
		}
		e.mode = modeTender
		out := e.show(e.prompt(), "")
		out.Customer = e.customerTotal("TOTAL", e.total())
		return out
	case KeyCash, KeyCard:
		if e.mode == modeDocument {
			return e.refuse("a stock document takes no payment: ENTER finishes it")
		}
		if len(e.sale.Lines) == 0 {
			return e.refuse("no items yet")
		}
		e.mode = modeTender
		return e.tenderKey(k, now)
	case KeyPark:
		return e.park()
	case KeyMenu:
		e.mode = modeMenu
		return e.show(e.prompt(), "")
	case KeySignOn:
		return e.refuse("finish or park the sale before signing off")
	}
	return e.refuse(k.String() + " is not used here")
}

func (e *Engine) setQty() Output {
	q, ok := parseQty(e.takeInput())
	if !ok || q <= 0 {
		e.dropEmptySale()
		return e.refuse("quantity: type a number, then QTY")
	}
	if q > e.cfg.MaxLineQuantity {
		e.dropEmptySale()
		return e.refuse("quantity above " + e.qtyText(e.cfg.MaxLineQuantity))
	}
	e.qty = q
	return e.show(e.prompt(), e.qtyText(q)+" x")
}

func (e *Engine) addPLU(code string) Output {
	if code == "" {
		e.dropEmptySale()
		return e.refuse("PLU: type the item number, then PLU")
	}
	it, ok := e.cat.Items[code]
	if !ok {
		e.dropEmptySale()
		return e.refuse("unknown item " + code)
	}
	return e.addItem(it, "", -1, -1)
}

func (e *Engine) addScan(s Scan) Output {
	it, barcode, ok := e.lookupScan(s)
	if !ok {
		e.dropEmptySale()
		return e.refuse("unknown barcode " + s.Code)
	}
	return e.addItem(it, barcode, s.Price, s.Weight)
}

// lookupScan finds the item a scan names and the barcode it is recorded under. An in-store
// code names its item inside it. Otherwise the code as read is looked up first, then its
// GTIN form, so a catalog may list a UPC-A item under either 036000291452 or 0036000291452;
// last the code is taken as an item code itself.
func (e *Engine) lookupScan(s Scan) (Item, string, bool) {
	code := s.Code
	if s.Item != "" {
		code = s.Item
	} else if _, ok := e.cat.Barcodes[code]; !ok && s.GTIN != "" {
		if _, ok := e.cat.Barcodes[s.GTIN]; ok {
			code = s.GTIN
		}
	}
	itemCode, ok := e.cat.Barcodes[code]
	if !ok {
		itemCode = code
	}
	it, ok := e.cat.Items[itemCode]
	barcode := s.Code
	if s.Item == "" {
		barcode = code
	}
	return it, barcode, ok
}

// lineReq is a line being rung up: the item, and what is known so far of its quantity and
// price. addLine asks for what is missing (the customer's age, a manual weight, an open
// price) and comes back with the answer.
type lineReq struct {
	it        Item
	barcode   string
	price     int64 // embedded or typed price, -1: the catalog's
	weight    int64 // embedded or typed weight, -1: none
	qty       int64 // from QTY, 0: one
	manual    bool  // the weight was typed, not read from a scale label
	openPrice bool  // the price was typed: the item has none in the catalog
	age       bool  // the cashier confirmed the customer's age
}

// addItem adds a line: quantity from QTY (or the embedded weight), price from the catalog
// (or the embedded price). A refund line must be within what the receipt allows; a
// stock document line carries no money.
func (e *Engine) addItem(it Item, barcode string, embPrice, embWeight int64) Output {
	qty := e.qty
	e.qty = 0
	return e.addLine(lineReq{it: it, barcode: barcode, price: embPrice, weight: embWeight, qty: qty})
}

func (e *Engine) addLine(r lineReq) Output {
	it := r.it
	sale := e.mode == modeSale
	back := e.mode
	if sale && it.Age > 0 && !r.age {
		return e.ask(askStep{prompt: fmt.Sprintf("AGE %d+: is the customer %d or older?", it.Age, it.Age), hint: "ENTER yes, CLEAR no", back: back,
			enter: func(in string, now time.Time) Output {
				e.leaveAsk()
				r.age = true
				return e.addLine(r)
			},
			cancel: func() Output {
				e.dropEmptySale()
				return e.refuse(it.Name + " not sold: age not confirmed")
			}})
	}
	qty := r.qty
	if qty == 0 {
		qty = 1000
	}
	price := it.Price
	if r.price >= 0 {
		price = r.price
	}
	switch {
	case r.weight >= 0:
		if r.weight == 0 {
			e.dropEmptySale()
			return e.refuse("weight is zero on " + r.barcode)
		}
		qty = r.weight // grams are thousandths of a kilogram
	case r.price >= 0 && !r.openPrice:
		// a label with its price: the amount is as printed on it
	case it.Weighed && sale && r.qty > 0:
		r.manual = true // typed with QTY: a weight without a scale label
	case it.Weighed && sale:
		return e.ask(askStep{prompt: "WEIGHT of " + it.Name + " in kg + ENTER", hint: "no scale label: type the weight", back: back,
			enter: func(in string, now time.Time) Output {
				w, ok := parseQty(in)
				if !ok || w <= 0 || w > e.cfg.MaxLineQuantity {
					return e.refuse("weight: type kilograms, e.g. 1.250, then ENTER")
				}
				e.leaveAsk()
				r.weight, r.manual = w, true
				return e.addLine(r)
			}})
	case it.Weighed && e.mode == modeRefund && r.qty == 0 && r.price < 0:
		return e.refuse(it.Name + " is sold by weight: type the weight, QTY, then the item")
	}
	if price <= 0 && sale {
		return e.ask(askStep{prompt: "PRICE of " + it.Name + " + ENTER", hint: "no price in the catalog", back: back,
			enter: func(in string, now time.Time) Output {
				p, ok := parseAmount(in)
				if !ok || p <= 0 {
					return e.refuse("price: type the amount, then ENTER")
				}
				e.leaveAsk()
				r.price, r.openPrice = p, true
				return e.addLine(r)
			}})
	}
	if _, ok := e.cat.Taxes[it.Tax]; !ok && e.mode != modeDocument {
		e.dropEmptySale()
		return e.refuse("tax rate " + it.Tax + " of " + it.Name + " is not in the catalog")
	}
	if len(e.sale.Lines) >= e.cfg.MaxLines {
		return e.refuse(fmt.Sprintf("a document holds at most %d lines", e.cfg.MaxLines))
	}
	line := journal.Line{Item: it.Code, Name: it.Name, Barcode: r.barcode, Qty: qty, Price: price, Amount: mulQty(price, qty), Tax: it.Tax}
	info := LineInfo{ManualWeight: r.manual, OpenPrice: r.openPrice}
	if r.age {
		info.Age = it.Age
	}
	switch e.mode {
	case modeRefund:
		rf, ok := e.sale.Refundable[it.Code]
		if !ok {
			return e.refuse(it.Name + " is not on receipt " + e.sale.Ref)
		}
		if left := rf.Qty - e.refundQty(it.Code); qty > left {
			return e.refuse(fmt.Sprintf("refund above the original: %s of %s left on %s", e.qtyText(left), it.Name, e.sale.Ref))
		}
		line.Price, line.Name, line.Tax = rf.Price, rf.Name, rf.Tax
		line.Qty, line.Amount = -qty, -mulQty(rf.Price, qty)
	case modeDocument:
		line.Price, line.Amount = 0, 0
	}
	e.appendLine(line, info)
	note := ""
	if r.manual {
		note = " (manual)"
	}
	out := e.show(fmt.Sprintf("%s %s x %s%s", it.Name, e.qtyText(abs(line.Qty)), e.Money(line.Price), note), e.Money(line.Amount))
	out.Customer = &CustomerView{Left: [2]string{it.Name, "TOTAL"}, Right: [2]string{e.Money(line.Amount), e.Money(e.total())}}
	out.Save = e.saveOpen()
	return out
}

// appendLine adds a line with its details, keeping Info aligned with Lines.
func (e *Engine) appendLine(l journal.Line, info LineInfo) {
	for len(e.sale.Info) < len(e.sale.Lines) {
		e.sale.Info = append(e.sale.Info, LineInfo{})
	}
	e.sale.Lines = append(e.sale.Lines, l)
	e.sale.Info = append(e.sale.Info, info)
}

func (e *Engine) refundQty(item string) int64 {
	var q int64
	for _, l := range e.sale.Lines {
		if l.Item == item {
			q += -l.Qty
		}
	}
	return q
}

// voidLine voids the last line, or line n when a number was typed.
func (e *Engine) voidLine() Output {
	in := e.takeInput()
	if len(e.sale.Lines) == 0 {
		return e.refuse("no line to void")
	}
	i := len(e.sale.Lines) - 1
	if in != "" {
		n, err := strconv.Atoi(in)
		if err != nil || n < 1 || n > len(e.sale.Lines) {
			return e.refuse(fmt.Sprintf("no line %s (1-%d)", in, len(e.sale.Lines)))
		}
		i = n - 1
	}
	l := e.sale.Lines[i]
	e.sale.Lines = append(e.sale.Lines[:i:i], e.sale.Lines[i+1:]...)
	if i < len(e.sale.Info) {
		e.sale.Info = append(e.sale.Info[:i:i], e.sale.Info[i+1:]...)
	}
	e.sale.Voided = append(e.sale.Voided, l)
	out := e.show("voided: "+l.Name, "-"+e.Money(abs(l.Amount)))
	out.Customer = &CustomerView{Left: [2]string{"VOID " + l.Name, "TOTAL"}, Right: [2]string{e.Money(-l.Amount), e.Money(e.total())}}
	out.Save = e.saveOpen()
	return out
}

// voidSale journals the open sale as voided: nothing is sold, the lines are kept on record.
// A sale that cannot be paid is voided as it stands: card payments taken are cancelled
// (recorded as reversed, for the terminal's refund), cash given back.
func (e *Engine) voidSale(now time.Time) Output {
	s := e.sale
	for _, t := range s.Tenders {
		if t.Kind != "card" {
			return e.refuse("a cash payment was taken: finish the sale, then refund it")
		}
	}
	s.Reversed = append(s.Reversed, s.Tenders...)
	s.Tenders = nil
	c := &Commit{Entry: journal.Entry{Kind: journal.KindVoid, At: now, Cashier: e.cashier.ID, Currency: e.cfg.Currency,
		Lines: s.Lines, Totals: &journal.Totals{Gross: e.total()}, Reason: "sale voided"}, Print: true}
	c.Entry.Data = e.details(s.Info)
	return e.commitDocument(c)
}

func (e *Engine) park() Output {
	if len(e.sale.Tenders) > 0 {
		return e.refuse("a payment was taken: finish the sale")
	}
	if e.sale.Kind == journal.KindRefund {
		return e.refuse("a refund cannot be parked: finish it, or CLEAR it while empty")
	}
	if len(e.parked) >= e.cfg.MaxParked {
		return e.refuse(fmt.Sprintf("%d sales parked already", len(e.parked)))
	}
	n := 1
	for e.parked[n] != nil {
		n++
	}
	b, _ := json.Marshal(e.sale)
	e.parked[n] = e.sale
	e.sale = nil
	e.mode = modeIdle
	out := e.show(fmt.Sprintf("parked as %d", n), "")
	out.Customer = &CustomerView{Left: [2]string{"", ""}}
	out.Save = []Record{{Bucket: BucketParked, Key: strconv.Itoa(n), Value: b}, {Bucket: BucketTill, Key: KeyOpenSale}}
	return out
}

// resume brings back parked sale n (typed) or the lowest-numbered one.
func (e *Engine) resume(now time.Time) Output {
	if len(e.parked) == 0 {
		return e.refuse("no parked sale")
	}
	in := e.takeInput()
	n := e.Parked()[0]
	if in != "" {
		v, err := strconv.Atoi(in)
		if err != nil || e.parked[v] == nil {
			return e.refuse("no parked sale " + in)
		}
		n = v
	}
	e.sale = e.parked[n]
	delete(e.parked, n)
	e.sale.Cashier = e.cashier.ID
	e.mode = e.saleMode()
	out := e.show(fmt.Sprintf("resumed %d: %s, %d lines", n, e.sale.Kind, len(e.sale.Lines)), e.Money(e.total()))
	out.Customer = e.customerTotal("TOTAL", e.total())
	out.Save = append(e.saveOpen(), Record{Bucket: BucketParked, Key: strconv.Itoa(n)})
	return out
}

func (e *Engine) saveOpen() []Record {
	b, _ := json.Marshal(e.sale)
	return []Record{{Bucket: BucketTill, Key: KeyOpenSale, Value: b}}
}

// total is what the open document comes to: its lines less the sale discount.
func (e *Engine) total() int64 {
	if e.sale == nil {
		return 0
	}
	return e.subtotal() - e.saleDiscount()
}

// subtotal is the sum of the lines (line discounts taken off).
func (e *Engine) subtotal() int64 {
	var t int64
	for _, l := range e.sale.Lines {
		t += l.Amount
	}
	return t
}

// taxes breaks gross amounts down per rate. Prices include tax, so each rate's tax is
// computed once on its gross sum, which keeps the breakdown adding up to the total.
func (e *Engine) taxes(lines []journal.Line) []journal.TaxTotal {
	sum := map[string]int64{}
	for _, l := range lines {
		sum[l.Tax] += l.Amount
	}
	codes := make([]string, 0, len(sum))
	for c := range sum {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	var out []journal.TaxTotal
	for _, c := range codes {
		rate := e.cat.Taxes[c].Rate
		g := sum[c]
		t := taxOf(g, rate)
		out = append(out, journal.TaxTotal{Code: c, Rate: rate, Net: g - t, Tax: t, Gross: g})
	}
	return out
}

func (e *Engine) customerTotal(label string, v int64) *CustomerView {
	return &CustomerView{Left: [2]string{label, ""}, Right: [2]string{e.Money(v), ""}}
}
