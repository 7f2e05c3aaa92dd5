// Package app is the till's run loop: it wires the board's devices, the ledger, the sale
// engine and the uplink, and keeps them in step. It knows head office only as a broker
// address (Options.Broker or the configuration's): an embedded head office is started by
// the tillbox command beside it.
//
// The order of a document is fixed, in one function (afterCommitted): the document is
// appended to the ledger in one fsync'd transaction (entry, stock moves, print job, the
// open-sale record's removal); only then is its receipt queued for printing, then the drawer
// opens, then the operator and customer displays show the outcome (the change to give). A
// crash at any point therefore leaves either no sale or a committed one. A committed
// receipt that never started printing prints at the next start as an original; one whose
// printing had started, and so may have come out, prints again marked as a reprint.
//
// Nothing the devices do blocks the loop: the print queue (printQueue) prints from the
// ledger on its own goroutine, so a printer out of paper delays the receipt, never the
// drawer; every device event arrives on a buffered channel. The simulator's screen state
// (screenState) and the sim printer's roll file (simRoll, written as the paper comes out)
// are their own types. While it runs, the till answers the technician's ledger stats and
// verify and the recent receipts (tillbox receipts) on DATA/tillbox.sock (control.go), and
// exports the unsynced entries from the menu (export.go). A provisioned till renews its
// certificate with head office when it is due, on its own goroutine (renew.go).
//
// A copy of a receipt is a technical reprint entry naming its original; the print queue
// renders the original from the ledger under a COPY n mark, so a copy is never a second
// original. The engine is given local time (the configured zone); the ledger stores UTC.
//
// The desired firmware HQ publishes (fleetupdate.go) is downloaded, resumably, into
// DATA/updates, checked as an install would check it before the slot is written, and
// installed through the same path as the fleet's update command, only when no sale is
// open and inside its quiet window; each step is reported to HQ and in the events stream.
//
// The events stream (Options.Events) has a JSON line per thing the till did; a commit's
// line carries its seq, kind, receipt number, total and lines.
package app
