package printer

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// dc4 is the second byte of DLE DC4, the real-time pulse.
const dc4 = 0x14

// pulseUnit is DLE DC4's unit of time; t counts 1-8 of them.
const pulseUnit = 100 * time.Millisecond

// PulseDrawer fires the drawer solenoid on the kick-out connector pin (2 or 5, one the
// profile wires) with the real-time command DLE DC4 1 m t. The printer executes it when
// it arrives, ahead of what it has buffered and while it is paused for paper or an open
// cover, so a drawer never waits for a receipt: the command is written before anything
// else queued for the port, between two chunks of a running Print, which it does not
// disturb.
//
// on is rounded to the printer's 100 ms units and kept within 100-800 ms; the printer
// holds the pin off as long again afterwards and ignores a pulse that arrives meanwhile,
// so PulseDrawer waits out that pause before sending the next one.
//
// A pulse is not left queued to fire later, when a drawer opening would surprise everyone:
// PulseDrawer first asks for the status and writes the command only if the printer
// answered. It returns an error wrapping ErrOffline when the printer does not answer
// within Opts.Timeout or its port has failed, ErrPaused when the printer reports an error
// (it ignores pulses then), and ctx's error when ctx ends first; in each case nothing was
// sent, except after a write that stalled past Opts.Timeout (the printer stopped taking
// bytes right after it answered): its bytes stay in the port's buffer until the board
// closes the port. A nil error means the printer answered just now and has the command
// (on a profile without real-time status: the port took it). Each wait is bounded by
// Opts.Timeout.
func (d *Dev) PulseDrawer(ctx context.Context, pin int, on time.Duration) error {
	if !slices.Contains(d.opts.Profile.DrawerPins, pin) {
		return fmt.Errorf("printer: pulse drawer pin %d: %w: profile %q wires pins %v", pin, ErrInvalidOpts, d.opts.Profile.Name, d.opts.Profile.DrawerPins)
	}
	fail := func(err error) error { return fmt.Errorf("printer: pulse drawer pin %d: %w", pin, err) }
	d.pulseMu.Lock()
	defer d.pulseMu.Unlock()
	if wait := time.Until(d.pulseDone); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return fail(ErrClosed)
	}
	st, err := d.refresh()
	switch {
	case err != nil:
		return fail(err)
	case st.Error:
		return fail(fmt.Errorf("%w: the printer reports an error and ignores pulses until it recovers", ErrPaused))
	case ctx.Err() != nil:
		return fail(ctx.Err())
	}
	t := pulseUnits(on)
	m := byte(0)
	if pin == 5 {
		m = 1
	}
	d.mu.Lock()
	l := d.l
	d.mu.Unlock()
	if err := l.writeFirst([]byte{dle, dc4, 1, m, t}, d.opts.Timeout); err != nil {
		d.lost(l, err)
		return fail(l.err())
	}
	d.pulseDone = time.Now().Add(2 * time.Duration(t) * pulseUnit)
	return nil
}

// pulseUnits is on in DLE DC4's units, rounded to the nearest and kept within 1-8.
func pulseUnits(on time.Duration) byte {
	t := (on + pulseUnit/2) / pulseUnit
	return byte(min(max(t, 1), 8))
}
