// Package printertest holds fakes of an ESC/POS receipt printer for tests and for the sim
// board.
//
// Printer behaves like the device: it decodes the ESC/POS byte stream into printed items
// (lines of text with their styles and code pages, barcodes, QR codes, feeds, cuts,
// drawer kicks), answers DLE EOT 1-4 at once and GS r 1 in order, sends automatic status
// back when GS a enables it, and can be told to run out of paper, open its cover, have its
// cable pulled, or lose power (vanish) and come back. It serves any io.ReadWriter: an
// in-process pipe (Port) or the master side of a pty (Serve), where it consumes bytes at
// the configured baud rate, 10 bits per byte, as a UART would.
//
// What the fake models, and what it does not:
//   - Paper out, cover open and an error stop the execution of buffered commands, as on
//     an Epson TM printer; real-time requests are still answered.
//   - Unplug keeps the received bytes and goes on printing them (a USB or serial cable
//     pulled from a powered printer). Vanish drops everything not yet printed and every
//     byte that arrives until Return (power lost).
//   - Print speed is infinite: a line prints when its LF is received. Only the baud rate
//     limits throughput.
//
// Playback and Record are byte-script fakes after periph.io's i2ctest, for tests where the
// exact bytes on the wire matter.
package printertest
