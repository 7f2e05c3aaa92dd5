package display

import "errors"

// Sentinel errors. Callers tell them apart with errors.Is; the returned errors wrap them
// as "display: operation: cause".
var (
	// ErrBadOpts is returned by New and NewLCD for a size, address, code page, marker or
	// brightness the device cannot take.
	ErrBadOpts = errors.New("invalid options")

	// ErrNoRoom is returned by Show when an amount (the right-hand text of a line, never
	// cut) is wider than the display. The screen is left as it was.
	ErrNoRoom = errors.New("amount wider than the display")

	// ErrHalted is returned by every operation after Halt.
	ErrHalted = errors.New("halted")
)
