package app

import (
	"encoding/json"
	"errors"
	"fmt"

	"tillbox/firmware/reports"
	"tillbox/firmware/till"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// keyLastZ holds the last Z report's figures, kept with the Z report's commit, so that the
// next report starts where it ended.
const keyLastZ = "last-z"

// commit journals the document the engine handed over in one transaction (entry, side
// records, stock moves, print job, report figures), then carries out what follows a commit.
func (a *App) commit(c *till.Commit) {
	e := c.Entry
	a.syncState()
	e.Offline = !a.online.Load()
	var extra []ledger.Side
	if c.Report {
		z := e.Kind == journal.KindZReport
		f, err := a.reportFigures(e)
		if err == nil {
			e.Data, err = reports.Attach(e.Data, f)
		}
		var rec []byte
		if err == nil && z {
			rec, err = reports.Encode(f)
			extra = append(extra, ledger.Put(till.BucketTill, keyLastZ, rec))
		}
		if err != nil {
			a.log.Error("report figures", "kind", e.Kind, "err", err)
			a.emit("commit-failed", map[string]any{"kind": e.Kind, "err": err.Error()})
			a.handle(a.eng.CommitFailed(err))
			return
		}
	}
	ss := sides(c.Records)
	for _, m := range c.Stock {
		ss = append(ss, ledger.StockDelta(m.Item, m.Qty))
	}
	ss = append(ss, extra...)
	if c.Print {
		ss = append(ss, ledger.PrintJob(printForm))
	}
	res, err := a.led.Append(e, ss...)
	if err != nil {
		a.log.Error("journal", "kind", e.Kind, "err", err)
		a.emit("commit-failed", map[string]any{"kind": e.Kind, "err": err.Error()})
		if e.Kind.Document() {
			a.handle(a.eng.CommitFailed(err))
		}
		return
	}
	a.notifyUplink()
	a.emitCommit(res.Entry)
	if !e.Kind.Document() {
		if len(res.Jobs) > 0 { // a copy of a receipt
			a.emit("print-queued", map[string]any{"seq": res.Entry.Seq, "ref": res.Entry.Ref, "jobs": res.Jobs})
			a.prints.Wake()
		}
		return
	}
	if a.afterCommit != nil {
		a.afterCommit(res.Entry)
	}
	a.afterCommitted(res, c.OpenDrawer)
}

// afterCommitted does what follows a committed document, always in this order: the
// receipt goes to the print queue, the drawer opens (for drawerReason, "" keeps it shut),
// and the displays show the outcome (the change to give, THANK YOU). The customer is thus
// never shown change before the drawer that holds it is open, and a drawer never opens for
// a document that is not journaled and queued for printing. Printing itself runs on the
// print queue's goroutine: a printer out of paper delays the receipt, never the drawer.
func (a *App) afterCommitted(res ledger.Result, drawerReason string) {
	if len(res.Jobs) > 0 {
		a.emit("print-queued", map[string]any{"seq": res.Entry.Seq, "receipt": res.Entry.Receipt, "jobs": res.Jobs})
		a.prints.Wake()
	}
	if drawerReason != "" {
		a.kick(drawerReason + " " + res.Entry.Receipt)
	}
	a.handle(a.eng.Committed(res.Entry))
}

// emitCommit records a commit in the events stream with what a tester checks it against:
// its seq, kind, receipt number, total and lines.
func (a *App) emitCommit(e journal.Entry) {
	f := map[string]any{"seq": e.Seq, "kind": e.Kind, "receipt": e.Receipt, "offline": e.Offline}
	if e.Totals != nil {
		f["total"] = e.Totals.Gross
		f["currency"] = e.Currency
	}
	if len(e.Lines) > 0 {
		f["lines"] = e.Lines
	}
	a.emit("commit", f)
}

// reportFigures computes a report's figures: an X or Z report's since the last Z report
// (an X for one cashier names them in its data as for_cashier), a shift close's since its
// shift-open entry, with the over or short of the cash counted.
func (a *App) reportFigures(e journal.Entry) (reports.Figures, error) {
	b, err := a.led.Record(till.BucketTill, keyLastZ)
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return reports.Figures{}, err
	}
	last, err := reports.DecodeLastZ(b)
	if err != nil {
		return last, err
	}
	var opts struct {
		ForCashier string `json:"for_cashier"`
		Counted    int64  `json:"counted"`
		FromSeq    uint64 `json:"from_seq"`
	}
	if len(e.Data) > 0 {
		if err := json.Unmarshal(e.Data, &opts); err != nil {
			return last, fmt.Errorf("app: report options: %w", err)
		}
	}
	from := last.Period.ToSeq
	if e.Kind == journal.KindShiftClose && opts.FromSeq > 0 {
		from = opts.FromSeq - 1
	}
	var es []journal.Entry
	err = a.led.After(from, 0, func(e *journal.Entry, _ []byte) bool {
		es = append(es, *e)
		return true
	})
	if err != nil {
		return last, err
	}
	switch {
	case e.Kind == journal.KindShiftClose:
		return reports.Shift(es, opts.Counted), nil
	case opts.ForCashier != "":
		f := reports.Report(reports.ForCashier(es, opts.ForCashier), last, false)
		f.Cashier = opts.ForCashier
		return f, nil
	}
	return reports.Report(es, last, e.Kind == journal.KindZReport), nil
}
