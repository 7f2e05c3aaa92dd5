package board

import "errors"

// Sentinel errors. Operations wrap them as "board: operation: cause"; callers tell them
// apart with errors.Is.
var (
	// ErrUnknownProfile: Lookup was given a board name it does not know. The error lists
	// the known ones.
	ErrUnknownProfile = errors.New("unknown board profile")

	// ErrUnknownDevice: Override was given a device name other than printer, scanner,
	// display, drawer and keypad.
	ErrUnknownDevice = errors.New("unknown device")

	// ErrInvalidSpec: a device spec has an unknown field, a value of the wrong type or a
	// value no device can work with (a kind that does not exist, a baud rate the line cannot
	// run at, a drawer kicked through a printer the board does not have). The error names
	// the device and the field.
	ErrInvalidSpec = errors.New("invalid device spec")

	// ErrOffline: the device has no working port now; its supervisor is reopening it.
	ErrOffline = errors.New("device offline")
)
