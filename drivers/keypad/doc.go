// Package keypad is the till's operator keyboard driver: a POS keyboard (or a PC keyboard
// standing in for one) read through evdev, its key codes mapped to POS keys: digits, 00,
// decimal point, QTY, PLU, VOID, SUBTOTAL, CASH, CARD, NO SALE, CLEAR, ENTER, PARK,
// RETURN, SIGN ON/OFF and SYNC.
//
// Keys are read as evdev key codes (the Linux input event ABI, see package evdev), which
// name key positions, not characters: the mapping does not change with the host's
// keyboard layout, and a programmable POS keyboard can be set to send any codes, which
// the mapping (DefaultMap, or ParseMap from the config file's text or JSON) then names.
//
// Guarantees:
//   - one Press event per key press; releases are ignored;
//   - autorepeat (a held key, value 2) is delivered only for keys listed in Opts.Repeat,
//     marked Repeat, so that a held CASH, CARD or VOID never acts twice;
//   - a code the mapping does not know is reported as KeyNone with its code, which the
//     sale engine ignores and a technician's key test shows;
//   - the Dev follows the shape in package drivers: Status, buffered Events that never
//     block the driver (overflow counted in Status.Dropped), String and Halt (a periph.io
//     conn.Resource); an unplugged keyboard gives an Offline event with the cause, reading
//     stops, and a supervisor calls Reattach with the reopened device;
//   - Status.State is a drivers.State, and ErrInvalidOpts, ErrHalted, ErrAttached and
//     ErrNilPort are the sentinels of package drivers (drivers/errors.go); ErrMap is this
//     package's own.
package keypad
