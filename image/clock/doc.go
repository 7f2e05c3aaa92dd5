// Package clock keeps the box's wall clock: it reads a real-time clock at boot (a DS3231 or
// DS1307 on I2C, or the kernel's /dev/rtcN), carries the last trusted time forward when the
// clock is behind it, sets the clock from NTP (github.com/beevik/ntp) at boot and
// periodically, and writes the synced time back to the RTC and to the data partition.
//
// Guarantees:
//   - After Boot the system clock is never earlier than the last trusted time the Keeper
//     persisted, nor than the floor it was given (the image's own files): a box never
//     shows 1970. A clock that had to be carried forward is reported untrusted (State).
//   - Only an NTP response that the library validated (stratum, leap, root distance) sets
//     the clock, and only then is the time marked trusted and persisted, and the RTC written.
//   - The DS3231/DS1307 register decoding (DecodeDS, EncodeDS) is pure: a halted oscillator,
//     a register outside its BCD range or a date that does not exist is an error, never a time.
package clock
