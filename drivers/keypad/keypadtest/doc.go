// Package keypadtest holds a fake POS keyboard that types keypad.Keys as the evdev events
// a real keyboard sends (press, SYN, release, SYN; value 2 repeats while held), through
// the code a keypad.Map gives each key, in either input_event layout. It writes to any
// io.Writer: the writing end of Pipe in-process, or a file the sim board reads.
package keypadtest
