package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"tillbox/drivers/printer"
	"tillbox/firmware/receipt"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// printForm is the print job a document gets: it names the form, and the job's seq names
// the entry, so the receipt is always rendered from the committed entry.
var printForm = []byte(`{"form":"entry"}`)

// printQueue prints the ledger's print queue, oldest first, on its own goroutine. A job is
// marked started in the ledger before its first byte goes out, so after a crash it prints
// again with a reprint mark; a job never started (the till died between the commit and the
// print) prints as an original. A job leaves the queue only when the printer confirmed all
// of it.
type printQueue struct {
	led    *ledger.Ledger
	prn    *printer.Dev // nil: no printer on this board
	layout receipt.Layout
	log    *slog.Logger
	emit   func(kind string, fields map[string]any)
	wake   chan struct{}
	// started holds the jobs this process started: a job retried after a printer fault
	// in the same run is not a reprint (the driver resumes it), one started by an earlier
	// run is.
	started map[uint64]bool
}

func newPrintQueue(led *ledger.Ledger, prn *printer.Dev, layout receipt.Layout, log *slog.Logger, emit func(string, map[string]any)) *printQueue {
	return &printQueue{led: led, prn: prn, layout: layout, log: log, emit: emit, wake: make(chan struct{}, 1), started: map[uint64]bool{}}
}

// Wake makes the queue look at the ledger again; it never blocks.
func (q *printQueue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run prints until ctx ends. A job that fails stops the queue for a second (or until the
// next Wake), so a receipt never overtakes an earlier one.
func (q *printQueue) Run(ctx context.Context) {
	for {
		jobs, err := q.led.Jobs()
		if err != nil {
			q.log.Error("print queue", "err", err)
		}
		failed := false
		for _, j := range jobs {
			if ctx.Err() != nil {
				return
			}
			if err := q.print(ctx, j); err != nil {
				q.log.Warn("print", "job", j.ID, "err", err)
				failed = true
				break
			}
		}
		var retry <-chan time.Time
		if failed {
			retry = time.After(time.Second)
		} else if len(jobs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-retry:
		}
	}
}

func (q *printQueue) print(ctx context.Context, j ledger.Job) error {
	if q.prn == nil {
		return errors.New("no printer on this board")
	}
	e, err := q.led.Get(j.Seq)
	if err != nil {
		return err
	}
	doc, err := q.render(e)
	if err != nil {
		return err
	}
	reprint := j.Attempts > 0 && !q.started[j.ID]
	if reprint {
		doc = doc.Reprint("")
	}
	if !q.started[j.ID] {
		if err := q.led.Update(ledger.JobStarted(j.ID)); err != nil {
			return err
		}
		q.started[j.ID] = true
	}
	res, err := q.prn.Print(ctx, printer.Job{ID: "job-" + strconv.FormatUint(j.ID, 10) + "-" + strconv.Itoa(j.Attempts), Doc: doc})
	if err != nil {
		return err
	}
	if !res.Done {
		return fmt.Errorf("job %d not done", j.ID)
	}
	if err := q.led.Update(ledger.JobDone(j.ID)); err != nil {
		return err
	}
	q.emit("printed", map[string]any{"job": j.ID, "seq": j.Seq, "receipt": e.Receipt, "reprint": reprint, "in_doubt": len(res.InDoubt)})
	return nil
}

// render lays out the entry a job names. A reprint entry prints its original, marked as
// the numbered copy it is; the original itself is never printed as a second original.
func (q *printQueue) render(e journal.Entry) (*printer.Doc, error) {
	if e.Kind != journal.KindReprint {
		return q.layout.Render(e), nil
	}
	orig, err := q.led.ByReceipt(e.Ref)
	if err != nil {
		return nil, fmt.Errorf("copy of %s: %w", e.Ref, err)
	}
	var c struct {
		Copy int `json:"copy"`
	}
	json.Unmarshal(e.Data, &c)
	return q.layout.Render(orig).Reprint(receipt.CopyMark(c.Copy)), nil
}

// Drain waits until the queue is empty, at most limit; a ctx that ends stops the wait
// without an error (the till is stopping).
func (q *printQueue) Drain(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		jobs, err := q.led.Jobs()
		if err != nil {
			return err
		}
		if len(jobs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("print queue not drained within %s: %d jobs left", limit, len(jobs))
		}
		q.Wake()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}
