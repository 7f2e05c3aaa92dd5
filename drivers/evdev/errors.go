package evdev

import "errors"

// Sentinel errors. Callers tell them apart with errors.Is.
var (
	// ErrShortEvent means the stream ended inside an event record: the reader was cut off
	// (a device unplugged mid-read) or the stream is not made of whole records.
	ErrShortEvent = errors.New("short event")

	// ErrLayout means a Layout other than Layout32 or Layout64 was given.
	ErrLayout = errors.New("unknown event layout")

	// ErrNoKey means Type was asked for a character a US keyboard cannot type.
	ErrNoKey = errors.New("no key types this character")
)
