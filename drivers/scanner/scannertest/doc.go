// Package scannertest holds fakes that emit what real scanners emit, for tests and the sim
// board: Serial writes a serial scanner's bytes (the code, then the configured suffix, in
// one burst as a scanner sends it), Wedge writes a keyboard-wedge scanner's evdev events
// (press and release of each key, shift around capitals, Enter or Tab after the code).
//
// Both can misbehave as hardware does: a code cut off mid-way (Cut; the caller pauses, or
// a Step does), garbage bytes, random line noise, keys that type nothing, lost input
// events. They write to any io.Writer: the writing end of Pipe / WedgePipe in-process, or
// the master of a board/pty pair that the driver opens through go.bug.st/serial. Close
// makes the scanner vanish: the driver's next read fails as on an unplugged cable.
package scannertest
