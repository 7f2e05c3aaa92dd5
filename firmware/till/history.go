package till

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"tillbox/ledger/journal"
)

// historySize is how many recent receipts the history walks through.
const historySize = 50

// resolveReceipt turns what was typed or scanned into a receipt number: a full number as
// printed or read from the receipt's barcode, or the number part alone ("12" for
// PREFIX-000012).
func (e *Engine) resolveReceipt(in string) string {
	if n, err := strconv.ParseUint(in, 10, 64); err == nil && !strings.Contains(in, "-") {
		return journal.ReceiptNumber(e.cfg.ReceiptPrefix, n)
	}
	return in
}

// history shows the recent receipts, newest first, each with where it is: on this till
// only, sent, or stored at head office. ENTER goes to the next older one; a number typed
// or a receipt scanned opens that one; SUBTOTAL prints a copy, RETURN refunds it.
func (e *Engine) history() Output {
	docs, err := e.journal.Documents(historySize)
	if err != nil {
		return e.refuse("cannot read the receipts: " + err.Error())
	}
	if len(docs) == 0 {
		return e.refuse("no receipts yet")
	}
	return e.showReceipt(docs, 0)
}

func (e *Engine) showReceipt(docs []journal.Entry, i int) Output {
	d := docs[i]
	open := func(r string) Output {
		got, err := e.journal.ByReceipt(r)
		if err != nil {
			return e.refuse("receipt " + r + " not found on this till")
		}
		e.leaveAsk()
		return e.showReceipt([]journal.Entry{got}, 0)
	}
	st := askStep{back: modeIdle, prompt: e.receiptPrompt(d), hint: e.receiptWhere(d),
		enter: func(in string, now time.Time) Output {
			if in != "" {
				return open(e.resolveReceipt(in))
			}
			e.leaveAsk()
			if i+1 >= len(docs) {
				more, err := e.journal.Documents(historySize)
				if err != nil || len(more) == 0 {
					return e.refuse("no older receipt")
				}
				return e.showReceipt(more, 0)
			}
			return e.showReceipt(docs, i+1)
		},
		scan: func(s Scan, now time.Time) Output { return open(s.Code) },
		keys: map[Key]func(time.Time) Output{
			KeySubtotal: func(now time.Time) Output { e.leaveAsk(); return e.reprint(d, now) },
			KeyReturn: func(now time.Time) Output {
				e.leaveAsk()
				return e.findReceipt(d.Receipt, now)
			},
		},
	}
	return e.ask(st)
}

// receiptPrompt is a receipt in the history and what can be done with it.
func (e *Engine) receiptPrompt(d journal.Entry) string {
	total := ""
	if d.Totals != nil {
		total = " " + e.Money(d.Totals.Gross)
	}
	return fmt.Sprintf("%s %s%s, ENTER older, SUBTOTAL copy, RETURN refund, no. + ENTER or scan: that one", d.Receipt, d.Kind, total)
}

// receiptWhere is when a receipt was issued (local time) and where it is.
func (e *Engine) receiptWhere(d journal.Entry) string {
	return d.At.In(e.cfg.Location).Format("01-02 15:04") + " " + e.journal.SyncStatus(d.Seq)
}

// reprint prints a copy of a document, marked COPY with its count, and journals it. A copy
// never takes a receipt number: the original keeps the only one.
func (e *Engine) reprint(d journal.Entry, now time.Time) Output {
	n, err := e.journal.Copies(d.Receipt)
	if err != nil {
		return e.refuse("cannot read the copies of " + d.Receipt + ": " + err.Error())
	}
	n++
	data, _ := json.Marshal(map[string]int{"copy": n})
	c := e.technical(journal.KindReprint, "", now)
	c.Entry.Ref, c.Entry.Data, c.Print = d.Receipt, data, true
	c.Records = []Record{{Bucket: BucketCopies, Key: d.Receipt, Value: []byte(strconv.Itoa(n))}}
	e.mode = e.backMode()
	out := e.show(fmt.Sprintf("COPY %d of %s printing", n, d.Receipt), "")
	out.Commit = c
	return out
}
