// Package printertest holds fakes of an ESC/POS receipt printer for tests and for the sim
// board.
//
// Printer behaves like the device: it decodes the ESC/POS byte stream into printed items
// (lines of text with their styles and code pages, barcodes, QR codes, feeds, cuts,
// drawer kicks), answers DLE EOT 1-4 at once and GS r 1 in order, fires real-time drawer
// pulses (DLE DC4 1 m t) as they arrive and records them (Pulses), sends automatic status
// back when GS a enables it, and can be told to run out of paper, open its cover, fail
// (SetError), have its cable pulled, or lose power (vanish) and come back. A kick, ESC p
// in the job or a pulse, opens its drawer switch; the test closes it (SetDrawer). It
// serves any io.ReadWriter: an in-process pipe (Port) or the master side of a pty
// (Serve), where it consumes bytes at the configured baud rate, 10 bits per byte, as a
// UART would.
//
// What the fake models, and what it does not:
//   - Paper out, cover open and an error stop the execution of buffered commands, as on
//     an Epson TM printer; real-time requests are still answered, and pulses still fire
//     except during an error. A malformed pulse (a function other than 1, a pin selector
//     other than 0 or 1, a time outside 1-8) is consumed and ignored, as a printer does.
//   - Real-time commands are recognised only between commands: a DLE DC4 inside the data
//     of a barcode or QR code is data, where a real printer might act on it.
//   - Unplug keeps the received bytes and goes on printing them (a USB or serial cable
//     pulled from a powered printer). Vanish drops everything not yet printed and every
//     byte that arrives until Return (power lost).
//   - Print speed is infinite: a line prints when its LF is received. Only the baud rate
//     limits throughput.
//
// Playback and Record are byte-script fakes after periph.io's i2ctest, for tests where the
// exact bytes on the wire matter.
package printertest
