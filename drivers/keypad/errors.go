package keypad

import "errors"

// Sentinel errors. Callers tell them apart with errors.Is.
var (
	// ErrInvalidOpts means New was given options that cannot work (an empty mapping, a
	// bad event layout).
	ErrInvalidOpts = errors.New("invalid options")

	// ErrMap means a mapping text could not be read; the error names the line.
	ErrMap = errors.New("bad key mapping")

	// ErrHalted means the Dev was halted; it does not read again.
	ErrHalted = errors.New("halted")

	// ErrAttached means Reattach was called while the previous port is still being read.
	ErrAttached = errors.New("port still attached")

	// ErrNilPort means New or Reattach was given a nil port.
	ErrNilPort = errors.New("nil port")
)
