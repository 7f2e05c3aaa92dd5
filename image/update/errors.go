package update

import "errors"

// Errors callers tell apart (wrapped; test with errors.Is). A refused bundle wraps one of
// these or one of package bundle's (ErrSignature, ErrPayload, ErrFormat).
var (
	// ErrBoard: the bundle is built for another board.
	ErrBoard = errors.New("bundle is for another board")
	// ErrDowngrade: the bundle is not newer than the running firmware.
	ErrDowngrade = errors.New("bundle is not newer than the running firmware")
	// ErrTooOld: the running firmware is older than the bundle's minimum version.
	ErrTooOld = errors.New("running firmware is older than the bundle's minimum version")
	// ErrFailedBefore: this version's try failed already; Options.Retry installs it again.
	ErrFailedBefore = errors.New("this version failed its try before")
	// ErrOpenSale: a sale is open; finish or park it first.
	ErrOpenSale = errors.New("a sale is open")
	// ErrPending: the running slot is itself on its try and not yet confirmed.
	ErrPending = errors.New("the running slot is not confirmed yet")
	// ErrSlotSize: the payload does not fit the slot.
	ErrSlotSize = errors.New("payload larger than the slot")
	// ErrReadBack: what the slot holds after writing differs from the bundle.
	ErrReadBack = errors.New("slot read back differs from the bundle")
	// ErrState: the boot state is missing or inconsistent.
	ErrState = errors.New("bad boot state")
	// ErrUnhealthy: the tried firmware did not pass its health check.
	ErrUnhealthy = errors.New("health check failed")
)
