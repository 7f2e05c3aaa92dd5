package display

import (
	"errors"

	"tillbox/drivers"
)

// Sentinel errors. Callers tell them apart with errors.Is; the returned errors wrap them
// as "display: operation: cause".
var (
	// ErrInvalidOpts (drivers.ErrInvalidOpts) is returned by New and NewLCD for a size,
	// address, code page, marker, brightness or write timeout the device cannot take.
	ErrInvalidOpts = drivers.ErrInvalidOpts

	// ErrBadPort is returned by New, NewLCD, Reattach and ReattachLCD for a nil port, and
	// by Reattach on an LCD or ReattachLCD on a pole display.
	ErrBadPort = errors.New("nil port or a port of the wrong kind")

	// ErrNoRoom is returned by Show when an amount (the right-hand text of a line, never
	// cut) is wider than the display. The screen is left as it was.
	ErrNoRoom = errors.New("amount wider than the display")

	// ErrTimeout is the cause of a write to a pole display that did not return within
	// Opts.WriteTimeout (a line that stopped draining). The Dev is Offline after it.
	ErrTimeout = errors.New("write timed out")

	// ErrOffline is returned by Show and Clear while the Dev is Offline: an earlier write
	// failed and the port has not been given back with Reattach. The layout is kept and
	// shown by Reattach. The error also wraps Status().Err, the failure that caused it.
	ErrOffline = errors.New("display offline")

	// ErrHalted (drivers.ErrHalted) is returned by every operation after Halt.
	ErrHalted = drivers.ErrHalted
)
