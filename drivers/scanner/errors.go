package scanner

import "tillbox/drivers"

// Sentinel errors. Callers tell them apart with errors.Is.
var (
	// ErrInvalidOpts (drivers.ErrInvalidOpts) means New was given options that cannot
	// work (an in-store layout that does not add up to 13 digits, overlapping prefixes, a
	// negative timeout).
	ErrInvalidOpts = drivers.ErrInvalidOpts

	// ErrHalted (drivers.ErrHalted) means the Dev was halted; it does not read again.
	ErrHalted = drivers.ErrHalted

	// ErrAttached means Reattach was called while the previous port is still being read.
	ErrAttached = drivers.ErrAttached

	// ErrNilPort means New or Reattach was given a nil port.
	ErrNilPort = drivers.ErrNilPort
)
