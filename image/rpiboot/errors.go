package rpiboot

import "errors"

// Errors callers tell apart (wrapped; test with errors.Is).
var (
	// ErrTorn: a boot file is truncated, torn or not one this package wrote.
	ErrTorn = errors.New("boot file torn or foreign")
	// ErrSlot: a slot name other than A or B.
	ErrSlot = errors.New("bad slot name")
)
