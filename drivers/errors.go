package drivers

import "errors"

// Sentinel errors every driver shares. Each driver's errors.go re-exports the ones it
// returns under the same name (scanner.ErrHalted is ErrHalted, printer.ErrInvalidOpts is
// ErrInvalidOpts), so errors.Is matches whichever name a caller uses, and a caller that
// handles every kind alike tests for these.
var (
	// ErrInvalidOpts means New (or another call given settings: a printer Profile, a
	// drawer pin) was given options the device cannot work with. Every driver wraps it;
	// the error names the option. Retrying with the same options will not help.
	ErrInvalidOpts = errors.New("invalid options")

	// ErrHalted means the device was halted. Every driver returns it from the calls that
	// Halt ends; what Halt leaves behind is spelled out per driver (a scanner, keypad,
	// display or drawer is done, a printer's halted job resumes on a later Print).
	ErrHalted = errors.New("halted")

	// ErrAttached means Reattach was called while the previous port is still being read.
	ErrAttached = errors.New("port still attached")

	// ErrNilPort means New or Reattach was given a nil port.
	ErrNilPort = errors.New("nil port")
)
