package drivers

import "fmt"

// State is where a scanner, a keypad or a display stands. Their Status.State is this type
// and its constants are the only names of the states, so callers write drivers.Offline
// whichever kind they ask.
type State uint8

const (
	// Offline: the port failed (unplugged, closed; for a display, a write that failed or
	// timed out); the status's Err says how. A board supervisor reopens it and calls
	// Reattach.
	Offline State = iota
	// Online: the port is being read (for a display: the last write to it succeeded).
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
