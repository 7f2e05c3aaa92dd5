package printer

import (
	"errors"

	"tillbox/drivers"
)

// Sentinel errors. Operations wrap them as "printer: operation: cause"; compare with
// errors.Is.
var (
	// ErrInvalidDoc: the document cannot be printed (bad EAN-13, unknown item kind,
	// drawer pin the profile does not wire, QR data too long). Retrying will not help.
	ErrInvalidDoc = errors.New("invalid document")
	// ErrInvalidOpts (drivers.ErrInvalidOpts): New or Profile was given options it cannot
	// work with, or PulseDrawer a pin the profile does not wire.
	ErrInvalidOpts = drivers.ErrInvalidOpts
	// ErrOffline: the printer does not answer or the port failed; the job is kept and
	// resumes on a later Print with the same id once the printer is back (see Reattach).
	// From PulseDrawer: no pulse was sent.
	ErrOffline = errors.New("printer offline")
	// ErrPaused: the printer is paused (paper out, cover open, error) and the caller's
	// context ended before it came back; the job is kept and resumes on a later Print.
	// From PulseDrawer: the printer reports an error, in which it ignores pulses, so none
	// was sent.
	ErrPaused = errors.New("printer paused")
	// ErrHalted (drivers.ErrHalted): Halt stopped the job at a chunk boundary; a later
	// Print resumes it.
	ErrHalted = drivers.ErrHalted
	// ErrBusy: another Print is running on this device.
	ErrBusy = errors.New("another job is printing")
	// ErrJobMismatch: a Print reused a job id with a different document. Job ids name one
	// document forever; a reprint needs a new id.
	ErrJobMismatch = errors.New("job id reused with a different document")
	// ErrClosed: the device was closed.
	ErrClosed = errors.New("closed")
)
