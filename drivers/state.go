package drivers

import "fmt"

// State is where a device that reads a stream (a scanner, a keypad) stands. Each driver
// re-exports it with its own constant names, so callers write scanner.Offline.
type State uint8

const (
	// Offline: the port failed (unplugged, closed); the status's Err says how. A board
	// supervisor reopens it and calls Reattach.
	Offline State = iota
	// Online: the port is being read.
	Online
	// Halted: Halt was called; the device is done.
	Halted
)

func (s State) String() string {
	switch s {
	case Offline:
		return "offline"
	case Online:
		return "online"
	case Halted:
		return "halted"
	}
	return fmt.Sprintf("State(%d)", int(s))
}
