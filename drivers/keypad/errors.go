package keypad

import (
	"errors"

	"tillbox/drivers"
)

// Sentinel errors. Callers tell them apart with errors.Is.
var (
	// ErrInvalidOpts (drivers.ErrInvalidOpts) means New was given options that cannot
	// work (an empty mapping, a bad event layout).
	ErrInvalidOpts = drivers.ErrInvalidOpts

	// ErrMap means a mapping text could not be read; the error names the line.
	ErrMap = errors.New("bad key mapping")

	// ErrHalted (drivers.ErrHalted) means the Dev was halted; it does not read again.
	ErrHalted = drivers.ErrHalted

	// ErrAttached means Reattach was called while the previous port is still being read.
	ErrAttached = drivers.ErrAttached

	// ErrNilPort means New or Reattach was given a nil port.
	ErrNilPort = drivers.ErrNilPort
)
