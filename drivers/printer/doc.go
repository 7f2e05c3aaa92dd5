// Package printer drives ESC/POS receipt printers (Epson TM and compatibles) over any
// io.ReadWriter the board hands it: a serial port (go.bug.st/serial), a USB printer class
// file (/dev/usb/lp*) or a raw TCP 9100 connection.
//
// # Documents
//
// A Doc is plain, JSON-serialisable data (text lines with bold, underline, double size,
// font B and alignment; left/right columns; EAN-13 and Code 128 barcodes; QR codes;
// feeds; partial and full cuts; drawer kicks on pin 2 or 5). The firmware stores it in the
// ledger as the print job. Render encodes it for a Profile, purely: the same document and
// profile always give the same bytes (testdata/receipt.escpos pins them). Text is printed
// in the profile's code pages (package codepage), switching pages within a line when a
// Polish word is followed by a euro amount; a rune no page has prints as its documented
// transliteration or '?', and Result.Missing names it. Doc.Reprint gives the copy for a
// reprint: a REPRINT mark and no drawer kick. A kick in a document (ESC p) fires in the
// order of the job, after the lines before it have printed; a drawer that must open now
// is pulsed with PulseDrawer.
//
// # Drawer pulse
//
// PulseDrawer fires the drawer with the real-time command DLE DC4 1 m t, which the printer
// executes as it arrives: a kick never waits for a receipt that is printing, nor for paper
// or a closed cover. The command is written before anything else queued for the port and
// between two chunks, never inside one, so a running job is not disturbed. It is sent
// only to a printer that has just answered DLE EOT and reports no error (the printer
// ignores pulses during an error); otherwise PulseDrawer fails with ErrOffline or
// ErrPaused, sends nothing and does not wait for the printer to come back, so a drawer
// does not open on its own later. The pulse is counted in 100 ms units, 100-800 ms, and
// the printer pauses as long after it; a second pulse waits for that pause rather than
// being ignored.
//
// # Status
//
// Status (online, cover open, paper near end, paper out, drawer sense, error) comes from
// DLE EOT 1-4 polled every Opts.Poll, from automatic status back (GS a) when the profile
// has it, and from the answers to GS r 1. Every change is an Event carrying the whole
// status. Connected is false while the printer does not answer (or, on a write-only
// profile, while the port fails).
//
// # Jobs: what is guaranteed
//
// A rendered job is a list of chunks: one printed line, barcode, QR code, feed, cut or
// kick each. The driver writes up to Opts.Window chunks ahead, each followed by GS r 1.
// The printer answers GS r only after it has processed everything before it, so each
// answer confirms the oldest unconfirmed chunk. A chunk is in one of three states:
// confirmed (the printer processed it), in flight (written, not confirmed) or unsent.
//
//   - Paper out, cover open, printer error: the printer keeps its receive buffer and
//     still answers DLE EOT. The driver sends nothing new and waits; the chunks in flight
//     print when the printer is back and their confirmations arrive. Nothing is printed
//     twice and nothing is missing.
//   - The printer lost (I/O error, EOF, a write stalled beyond Opts.Timeout, no answer to
//     DLE EOT within Opts.Timeout, or no confirmation for 4×Timeout while it reports
//     ready): chunks in flight are in doubt. They may have printed (a cable pulled from a
//     powered printer, which prints its buffer) or not (power lost, bytes lost in a
//     kernel or printer buffer). The driver never sends them again: they are listed in
//     Result.InDoubt, and when the job resumes it first prints InDoubtMark so the reader
//     of the receipt knows lines may be missing there. At most Opts.Window chunks can be
//     in doubt per loss.
//   - Resuming: after ESC @ the driver restores the modes (code page, alignment, styles)
//     the next unsent chunk expects, then continues with it. A Print of an interrupted
//     id resumes; a Print of a completed id returns the first Result and prints nothing;
//     a Print reusing an id with another document fails with ErrJobMismatch. The Dev
//     remembers Opts.KeepDone completed ids; across a restart the firmware passes
//     Job.Printed from the progress it journaled through Opts.Progress. Chunks that were
//     in flight when the till itself stopped are not known to the journal and may print
//     twice after a restart: at most Opts.Window chunks.
//   - A printer without GS r (Profile.InOrderStatus false) confirms nothing: a chunk
//     counts as printed once written, so a lost printer may silently miss what was in
//     its buffer.
//
// Print waits while the printer is paused or gone, as long as its context allows; Halt
// stops a job at a chunk boundary and lets what was sent finish.
//
// ErrInvalidOpts and ErrHalted are the sentinels of package drivers that every kind
// shares (drivers/errors.go); the others are this package's own (errors.go).
//
// The Dev never opens, closes or reopens ports: the board does, and calls Reattach with
// the new port after an unplug. Reading happens in a goroutine per port that feeds
// channels; writing in another, so that a stalled port costs a timeout, never a hang.
//
// Reference: Epson ESC/POS Application Programming Guide (DLE EOT, DLE DC4, GS a, GS r,
// GS k, GS ( k, GS V, ESC p, ESC t).
package printer
