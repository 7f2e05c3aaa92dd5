// Package drawer drives the till's cash drawer: it kicks the drawer open and, where the
// drawer has a sense switch, knows whether it is open or closed.
//
// Wiring. The solenoid is fired either through the receipt printer's kick-out connector
// (pin 2 or pin 5) through the narrow Kicker interface, which the board fills with the
// printer driver's real-time pulse (ESC/POS DLE DC4: it fires at once, even while a
// receipt is printing), or by a GPIO pulse (periph.io gpio.PinOut) on a solenoid driver.
// The switch is read either from a GPIO (periph.io gpio.PinIn, edge-driven with
// WaitForEdge and debounced) or from the printer's drawer status bit (DLE EOT 1 bit 2, the
// level of the connector's pin 3) through the narrow Sensor interface, polled. board
// fills in a Wiring; this package opens nothing.
//
// What it guarantees:
//
//   - Kick delivers exactly one pulse of Opts.Pulse (through the printer, rounded to the
//     printer's units) and never overlaps two pulses. Halt leaves a GPIO solenoid
//     de-energised.
//   - On a sensed drawer every change of state is an Event carrying the whole Status:
//     Kicked, Opened, Closed, LeftOpen (open for Opts.LeftOpenAfter, once per opening),
//     Jammed (kicked while closed and still closed after Opts.OpenTimeout: a full tray, a
//     locked drawer, a kick on the wrong connector pin), SenseLost (the printer that reads
//     the switch stopped answering; the state is unknown until it answers again).
//   - A drawer without a sense switch says so: Status.Sensed is false, State is
//     StateUnknown, Status.String() reads "unknown (no sense switch)", it never reports
//     Jammed or LeftOpen, and WaitClosed returns ErrNoSense instead of waiting for ever.
//   - A GPIO switch level counts only after it has been quiet for Opts.Debounce, and it is
//     re-read every Opts.Poll, so a lost edge is corrected.
//   - Nothing blocks on the Events channel: when the consumer falls behind, the oldest
//     event is dropped (the newest carries the whole status).
//   - Halt stops the watcher goroutine and timers and closes Events; it returns after they
//     have stopped. Kick and WaitClosed return ErrHalted after it.
//   - ErrInvalidOpts and ErrHalted are the sentinels of package drivers that every kind
//     shares (drivers/errors.go); ErrNoSense is this package's own.
//
// Journaling each opening with its reason (sale, no-sale, refund) is the firmware's job:
// it journals, then calls Kick.
package drawer
