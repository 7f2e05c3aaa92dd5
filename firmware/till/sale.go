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
		return e.refuse("quantity above " + qtyText(e.cfg.MaxLineQuantity))
	}
	e.qty = q
	return e.show(e.prompt(), qtyText(q)+" x")
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

// addItem adds a line: quantity from QTY (or the embedded weight), price from the catalog
// (or the embedded price). A refund line must be within what the receipt allows; a
// stock document line carries no money.
func (e *Engine) addItem(it Item, barcode string, embPrice, embWeight int64) Output {
	qty := e.qty
	e.qty = 0
	if qty == 0 {
		qty = 1000
	}
	price := it.Price
	amount := int64(0)
	switch {
	case embWeight >= 0:
		if embWeight == 0 {
			e.dropEmptySale()
			return e.refuse("weight is zero on " + barcode)
		}
		qty = embWeight // grams are thousandths of a kilogram
		amount = mulQty(price, qty)
	case embPrice >= 0:
		price, amount = embPrice, mulQty(embPrice, qty)
	case it.Weighed && e.mode != modeDocument:
		e.dropEmptySale()
		return e.refuse(it.Name + " is sold by weight: weigh it on the scale")
	default:
		amount = mulQty(price, qty)
	}
	if price <= 0 && e.mode != modeDocument {
		e.dropEmptySale()
		return e.refuse("price missing for " + it.Name + " (" + it.Code + ")")
	}
	if _, ok := e.cat.Taxes[it.Tax]; !ok && e.mode != modeDocument {
		e.dropEmptySale()
		return e.refuse("tax rate " + it.Tax + " of " + it.Name + " is not in the catalog")
	}
	if len(e.sale.Lines) >= e.cfg.MaxLines {
		return e.refuse(fmt.Sprintf("a document holds at most %d lines", e.cfg.MaxLines))
	}
	line := journal.Line{Item: it.Code, Name: it.Name, Barcode: barcode, Qty: qty, Price: price, Amount: amount, Tax: it.Tax}
	switch e.mode {
	case modeRefund:
		r, ok := e.sale.Refundable[it.Code]
		if !ok {
			return e.refuse(it.Name + " is not on receipt " + e.sale.Ref)
		}
		if left := r.Qty - e.refundQty(it.Code); qty > left {
			return e.refuse(fmt.Sprintf("refund above the original: %s of %s left on %s", qtyText(left), it.Name, e.sale.Ref))
		}
		line.Price, line.Name, line.Tax = r.Price, r.Name, r.Tax
		line.Qty, line.Amount = -qty, -mulQty(r.Price, qty)
	case modeDocument:
		line.Price, line.Amount = 0, 0
	}
	e.sale.Lines = append(e.sale.Lines, line)
	out := e.show(fmt.Sprintf("%s %s x %s", it.Name, qtyText(abs(line.Qty)), e.Money(line.Price)), e.Money(line.Amount))
	out.Customer = &CustomerView{Left: [2]string{it.Name, "TOTAL"}, Right: [2]string{e.Money(line.Amount), e.Money(e.total())}}
	out.Save = e.saveOpen()
	return out
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
	e.sale.Voided = append(e.sale.Voided, l)
	out := e.show("voided: "+l.Name, "-"+e.Money(abs(l.Amount)))
	out.Customer = &CustomerView{Left: [2]string{"VOID " + l.Name, "TOTAL"}, Right: [2]string{e.Money(-l.Amount), e.Money(e.total())}}
	out.Save = e.saveOpen()
	return out
}

// voidSale journals the open sale as voided: nothing is sold, the lines are kept on record.
func (e *Engine) voidSale(now time.Time) Output {
	if len(e.sale.Tenders) > 0 {
		return e.refuse("a card payment was taken: finish the sale, then refund it")
	}
	s := e.sale
	c := &Commit{Entry: journal.Entry{Kind: journal.KindVoid, At: now, Cashier: e.cashier.ID, Currency: e.cfg.Currency,
		Lines: s.Lines, Totals: &journal.Totals{Gross: e.total()}, Reason: "sale voided"}, Print: true}
	c.Entry.Data = e.voidedData()
	return e.commitDocument(c)
}

func (e *Engine) voidedData() json.RawMessage {
	if len(e.sale.Voided) == 0 {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"voided": e.sale.Voided})
	return b
}

func (e *Engine) park() Output {
	if len(e.sale.Tenders) > 0 {
		return e.refuse("a payment was taken: finish the sale")
	}
	if e.sale.Kind != journal.KindSale {
		return e.refuse("only sales can be parked")
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
	e.mode = modeSale
	out := e.show(fmt.Sprintf("resumed %d: %d lines", n, len(e.sale.Lines)), e.Money(e.total()))
	out.Customer = e.customerTotal("TOTAL", e.total())
	out.Save = append(e.saveOpen(), Record{Bucket: BucketParked, Key: strconv.Itoa(n)})
	return out
}

func (e *Engine) saveOpen() []Record {
	b, _ := json.Marshal(e.sale)
	return []Record{{Bucket: BucketTill, Key: KeyOpenSale, Value: b}}
}

func (e *Engine) total() int64 {
	if e.sale == nil {
		return 0
	}
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
