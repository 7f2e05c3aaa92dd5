// Package board holds the board profiles (sim, qemu-virt, rpi4): which device sits on which
// port or pin. It is the only package tree that initialises periph.io's host drivers, calls serial.Open or opens
// /dev files; the drivers get what it opens as io.ReadWriter, gpio.PinIO or i2c.Bus.
//
// A Profile is plain data. Lookup returns a known board's profile; Override applies the
// till's config file to it, device by device, and refuses unknown devices, unknown fields
// and values no device can work with, naming them. Open turns a profile into a Set of
// running drivers.
//
// What Open guarantees:
//
//   - It never fails because a device is missing. A device whose port cannot be opened
//     (unplugged, a wrong path, a printer switched off) exists in the Set from the start,
//     reads offline, and Health gives the cause. Open does not wait for any device to
//     answer; in particular it never waits for a printer's first status reply.
//   - Each port-backed device (printer, scanner, keypad, display) has a supervisor
//     goroutine. It notices a port that fails a read or write at once, and a driver that
//     gave up on its port (a scanner or keypad Offline, a printer silent for 15 s, a
//     display Offline after a failed or timed-out write) at its next poll; it closes the
//     old port, reopens the same path (a udev symlink that now points at a new device is
//     followed) with capped, jittered exponential backoff, and hands the new port to the
//     driver's Reattach. Drivers keep their Events channels across this, so the firmware
//     never re-subscribes. A drawer on GPIO lines that do not exist is not retried (lines
//     do not appear later): Set.Drawer is nil and Health says why.
//   - The customer display is the driver's display.Dev, which goes Offline when a write
//     fails or outlasts its write timeout (a tty that stopped draining never hangs the
//     till). Its supervisor reopens the port (a tty, an I2C bus) and calls Reattach, which
//     initialises the display again and shows the current layout. A Show while the display
//     is away returns display.ErrOffline and is shown when it is back.
//   - periph.io's host drivers (only those the boards need: bcm283x, rpi, gpioioctl, sysfs)
//     are initialised only when a profile has a GPIO or I2C device, once per process.
//   - Close stops the supervisors, halts the drivers and then closes every port, in that
//     order; no goroutine of the Set outlives it (a driver's reader blocked in Read returns
//     when its port closes).
//
// The sim board puts the fakes of drivers/*/…test behind the real drivers, connected as
// hardware would be (see Sim), so `make run` and the firmware's tests exercise the same
// driver code as a till.
//
// Health is the view the operator display and the uplink's status share: one entry per
// device of the profile, with a state from a fixed vocabulary (StateOK, StateOffline,
// StatePaperOut, ...) and a detail for the technician.
package board
