package drawer

import (
	"errors"

	"tillbox/drivers"
)

// Sentinel errors. Callers tell them apart with errors.Is; the returned errors wrap them
// as "drawer: operation: cause".
var (
	// ErrInvalidOpts (drivers.ErrInvalidOpts) is returned by New when the wiring or the
	// options are inconsistent: no way to kick the drawer, two ways to kick it, two sense
	// sources, a pulse the kick-out connector cannot deliver, or a printer pin other than
	// 2 or 5.
	ErrInvalidOpts = drivers.ErrInvalidOpts

	// ErrNoSense is returned by WaitClosed on a drawer wired without a sense switch: its
	// state is unknown, so waiting for it to close would never end.
	ErrNoSense = errors.New("no sense switch: drawer state unknown")

	// ErrHalted (drivers.ErrHalted) is returned by every operation after Halt.
	ErrHalted = drivers.ErrHalted
)
