package app

import (
	"context"
	"log/slog"
	"os"

	"tillbox/drivers/printer/printertest"
)

// SimRollFile is where the sim board's printer leaves its paper roll: what a person would
// tear off the printer, decoded to text, appended run after run. It is written as the
// paper comes out, so a till that is killed leaves on it everything it printed.
const SimRollFile = "sim-receipts.txt"

// simRoll copies the sim printer's new items into the roll file at each change.
type simRoll struct {
	prn     *printertest.Printer
	path    string
	log     *slog.Logger
	written int // items of prn already in the file
}

// Run copies until ctx ends, then copies what is left.
func (r *simRoll) Run(ctx context.Context) {
	for {
		ch := r.prn.Changed()
		r.flush()
		select {
		case <-ctx.Done():
			r.flush()
			return
		case <-ch:
		}
	}
}

func (r *simRoll) flush() {
	items := r.prn.Printed()
	if len(items) <= r.written {
		return
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		r.log.Warn("sim roll", "err", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(printertest.Text(items[r.written:])); err != nil {
		r.log.Warn("sim roll", "err", err)
		return
	}
	r.written = len(items)
}
