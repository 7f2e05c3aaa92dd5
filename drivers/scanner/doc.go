// Package scanner is the till's barcode scanner driver: serial scanners (New) and USB
// keyboard-wedge scanners read through evdev (NewWedge), both turned into a stream of
// scan events, each a good scan or a rejection with a reason.
//
// # What a good scan guarantees
//
// Parse, which the driver runs on every line, is pure and total: any bytes give a Scan and
// never a panic (FuzzParse checks this). A scan is good only if:
//
//   - EAN-13, EAN-8 and UPC-A carry a valid GS1 check digit (GS1 General Specifications
//     7.9.1: weights 3 and 1 alternating from the right, the check digit bringing the sum
//     to a multiple of ten); UPC-E is expanded to its UPC-A and checked as that;
//   - an in-store EAN-13 (GS1 prefixes 20-29, restricted circulation) matching a layout in
//     Opts.InStore has its item code and its price (minor units) or weight (grams) cut
//     from the digits, and its price/weight verifier digit checked where the layout has
//     one (7.9.3);
//   - Code128 data is printable ASCII (plus GS, the GS1-128 separator) of bounded length,
//     passed through as read.
//
// Everything else is rejected with a Reason: bad check digit, bad verifier digit, unknown
// length, non-digits, symbology not accepted, partial read (bytes, then silence without a
// suffix), oversize line, binary noise. A rejection is an event too, so the till can beep
// and the technician can count them.
//
// Without AIM symbology identifiers (Opts.AIM), the symbology of a line is inferred from
// its content: digit strings by their length, anything else as Code128. Two limits follow
// and are why AIM identifiers are worth switching on in the scanner: printable line noise
// passes as a Code128 scan (which the catalog then does not know: an unknown item, never a
// wrong one), and a numeric Code128 cannot be accepted.
//
// # Framing
//
// A serial scanner sends the code and a configured suffix. A line ends at the suffix; a
// line that does not end within Opts.PartialTimeout is a partial read; a line longer than
// Opts.MaxLine is rejected and its rest discarded up to the next suffix, so that no tail
// of it is ever read as a code. With SuffixNone a pause ends the line. A wedge scanner's
// keys become the same bytes (Enter is CR), read as US scancodes whatever the host layout.
//
// # Device
//
// Dev follows the shape in package drivers: Status, Events (buffered, never blocking the
// driver; overflow is counted in Status.Dropped), String and Halt (a periph.io
// conn.Resource). When the port fails (an unplugged adapter, a closed pty), a pending
// partial code is rejected, an Offline status event carrying the cause follows, and
// reading stops rather than spinning; a supervisor reopens the device and calls Reattach.
// Status.State is a drivers.State, and the sentinels in errors.go (ErrInvalidOpts,
// ErrHalted, ErrAttached, ErrNilPort) are those of package drivers (drivers/errors.go).
package scanner
