// Package drivers holds one package per peripheral kind of the till: printer, scanner,
// display, drawer and keypad. This package records the shape every driver shares, so that a
// newcomer finds the same thing in each, and holds what the drivers share: the sentinel
// errors of every kind (errors.go); State, whose Online, Offline and Halted a scanner, a
// keypad and a display report (state.go); SendNewest, the event send of the printer and
// the drawer, which drop the oldest event when the consumer falls behind (send.go); Poll,
// their status poll (poll.go); and Stream, which runs the life of the devices that read
// a stream (a scanner, a keypad: Events, Status, Online, Offline, Reattach, Halt) while
// each driver says only what the bytes mean (stream.go).
//
// The shape (after periph.io's devices):
//
//   - A driver is Opts + DefaultOpts + New(port, *Opts) (*Dev, error). New validates the
//     options and talks to the device where the device can answer. port is the narrowest
//     interface the driver needs (io.ReadWriter, io.Reader, i2c.Bus, gpio.PinIO), never a
//     concrete serial port: a UART, a pty, a TCP connection and a fake are interchangeable.
//   - Every Dev is a periph.io conn.Resource: String() names it, Halt() stops what it is
//     doing and leaves the device in a safe state (Halt's meaning is spelled out per driver).
//   - Status is a value (Status()) and status changes are events (Events()). An event
//     carries the whole status after the change, so a consumer that misses one still ends
//     with the right state. Event channels are buffered; a driver never blocks on them.
//   - Errors read "kind: operation: cause" and wrap the cause with %w; sentinel errors that
//     callers must tell apart are listed in the package's errors.go.
//   - The sentinels every kind shares live in this package's errors.go, and each driver's
//     errors.go re-exports them under the same name: ErrInvalidOpts (New, or another call,
//     refused its options) and ErrHalted (the call came after Halt, or Halt ended it), and
//     for the stream readers ErrAttached and ErrNilPort. errors.Is(err, drivers.ErrHalted)
//     holds for a halted printer, scanner, display, drawer and keypad alike.
//   - Fakes live in drivers/<kind>/<kind>test and behave like the device.
//
// Drivers never import the ledger, the uplink or the firmware; only board opens hardware.
package drivers
