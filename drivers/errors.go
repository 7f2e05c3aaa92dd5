package drivers

import "errors"

// Sentinel errors of a Stream. The drivers built on one re-export them (scanner.ErrHalted
// is ErrHalted), so callers tell them apart with errors.Is whichever name they use.
var (
	// ErrHalted means the device was halted; it does not read again.
	ErrHalted = errors.New("halted")

	// ErrAttached means Reattach was called while the previous port is still being read.
	ErrAttached = errors.New("port still attached")

	// ErrNilPort means New or Reattach was given a nil port.
	ErrNilPort = errors.New("nil port")
)
