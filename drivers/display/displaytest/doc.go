// Package displaytest has fakes of the two customer displays the display driver speaks
// to, each keeping its screen by decoding what it receives, and a history of screens:
//
//   - Pole decodes the Epson customer display command set (ESC @, ESC t, US $, US MD1..3,
//     CLR, CAN, cursor moves...) into a cols x 2 grid through drivers/codepage. Feed it
//     with Write in-process, or with Serve on the master side of a pty (board/pty) while
//     the driver holds the slave through go.bug.st/serial. It fails as a USB pole display
//     does: Stall stops it taking bytes (Write blocks, Serve stops reading, so a pty's
//     buffer fills and the driver's write blocks in the kernel); Unplug darkens it and
//     fails every write; Plug, or a new Serve, powers it on having forgotten its code
//     page and modes, so only a driver that initialises it again shows the right text.
//   - LCD is an i2c.Bus with an HD44780 behind a PCF8574 on it: it follows the port pins
//     byte by byte, latches nibbles on E's falling edge, runs the instructions (8-bit at
//     power-on, 4-bit after the function set), keeps DDRAM and CGRAM, renders the ROM A00
//     table and reads custom characters back through the driver's font. Protocol errors
//     it can see in the byte stream are listed in Violations. Fail makes transactions
//     fail with the backpack powered (it keeps its state); Unplug makes them go
//     unacknowledged and Plug powers the module on again: 8-bit mode, display off, DDRAM
//     blank, CGRAM lost.
//
// Both list what they could not make sense of rather than failing, as a real display
// would show garbage rather than refuse; tests assert those lists are empty.
package displaytest
