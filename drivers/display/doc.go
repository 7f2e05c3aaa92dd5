// Package display drives the customer display: the two lines the shopper reads (the item
// just rung up and its price, then the total or the change).
//
// Two devices take the same Layout through the same Dev:
//
//   - New: a 2x20 pole display speaking the Epson customer display command set
//     (Epson "ESC/POS Command Reference for Customer Display", DM-D series; the "Epson
//     mode" of most pole displays) over a serial line: ESC @ initialise, US MD1 overwrite
//     mode, US C cursor, US X brightness, ESC t n code page, US $ x y cursor position,
//     CLR. The port is an io.Writer: a serial port, a pty or a fake.
//   - NewLCD: an HD44780U character LCD (Hitachi HD44780U datasheet, ADE-207-272) of
//     16x2, 20x2, 16x4 or 20x4 cells behind a PCF8574 remote 8-bit I/O expander (TI
//     PCF8574 datasheet, SCPS068) on an I2C bus, through periph.io's i2c.Bus and i2c.Dev.
//     The backpack wiring is the common one: P0 RS, P1 R/W, P2 E, P3 backlight, P4..P7
//     D4..D7. The controller is initialised by instruction in 4-bit mode (datasheet
//     figure 24); every nibble is latched by an E high-low pulse with RS set up before E
//     rises. The driver never reads the busy flag: it waits out the execution times
//     instead (Opts.Sleep), which an I2C byte time (90 µs at 100 kHz) already covers for
//     all but clear, init and power-on.
//
// Layout rules (both devices):
//
//   - Top goes on the first row, Bottom on the last (rows between are blank on a 4-row
//     LCD). Each Line has Left (item or label) flush left and Right (amount) flush right.
//   - Right is never cut. A Right wider than the display is refused with ErrNoRoom and
//     the screen keeps what it showed.
//   - Left keeps at least one blank cell before Right. When it does not fit it is cut and
//     ends with the marker (default '.', read as an abbreviation: "Czekolada gorz."),
//     blanks before the marker dropped.
//   - Text is measured in display cells after encoding, so a transliteration that is wider
//     than its rune (€ as EUR on a page without the euro sign) is laid out at its width.
//     Control characters show as blanks, so an item name cannot move the cursor or send a
//     command.
//   - Every Show writes every row whole, in one write (pole) or one I2C transaction (LCD),
//     so no trace of the previous layout remains and no half frame is shown.
//
// Characters:
//
//   - Pole display: text goes through drivers/codepage on the page named in Opts.CodePage
//     (cp852 for Polish, cp857 for Turkish, cp858 for German with €), selected with ESC t.
//     A rune the page lacks shows as codepage's transliteration, else '?'.
//   - LCD: ROM A00 has ASCII (without '\' and '~'), ä ö ü ß ° µ ¥, and no Polish or
//     Turkish letters. The driver loads custom characters into CGRAM (8 slots) for the
//     letters a frame needs from its own 5x8 font: Polish ą ć ę ł ń ó ś ź ż and capitals,
//     Turkish ç ğ ı ş İ and capitals, German Ä Ö Ü, and €. Slots are given in order of
//     appearance and kept while a later frame still uses them; a ninth distinct letter in
//     one frame, and any rune outside ROM and font, falls back to codepage's
//     transliteration (ł as l, € as E when no slot is left, as EUR otherwise), else '?'.
//     LCDOpts.NoGlyphs uses the transliteration only.
//   - Every rune that did not show exactly is listed in Status().Missing after Show.
//
// A display that goes away (State, Status, Reattach):
//
//   - Every write to a pole display returns within Opts.WriteTimeout (default 1 s): a
//     line that stopped draining (a USB-serial adapter that no longer sends, flow
//     control held) gives ErrTimeout rather than a hung till. The write is left to its
//     own goroutine, which ends when the port's Write returns (a hung-up or closed tty);
//     the Dev never writes to that port again, so at most one such goroutine waits per
//     lost port. An LCD's transactions are bounded by the I2C adapter's own timeout.
//   - A failed or timed-out write takes the Dev Offline, with the cause in Status().Err.
//     From then on Show and Clear return ErrOffline at once without touching the port,
//     and keep the layout asked for as the current one (Status().Shown).
//   - Reattach (pole) or ReattachLCD (LCD), given the reopened port or the same one,
//     initialises the display again, since one that lost power has forgotten its code
//     page, modes, 4-bit interface and custom characters, then shows the current layout:
//     the customer sees the current line without the caller showing it again. The Dev is
//     Online after it, or stays Offline with the new cause.
//   - New and NewLCD fail only for options they refuse or a nil port. A display that does
//     not take its initialisation gives a Dev that is Offline until Reattach, so the
//     caller has a Dev from the start whether or not the display is plugged in.
//   - Status never waits for the display. The other calls take turns on the port, each
//     holding it only for its own writes, every one of them bounded.
//
// Halt blanks the screen (and turns an LCD's backlight off): no stale price stays in
// front of a customer when the till stops; an Offline display is not written to. The
// package opens, closes and reopens nothing; board hands it a port or a bus and
// supervises it. displaytest has fakes of both devices that decode the bytes back into a
// screen and fail as the hardware does (unplugged, stalled, powered on again).
//
// Status().State is a drivers.State, and ErrInvalidOpts and ErrHalted are the sentinels
// of package drivers that every kind shares (drivers/errors.go); the others are this
// package's own (errors.go).
package display
