package keypad

import (
	"fmt"
	"io"
	"time"

	"periph.io/x/conn/v3"

	"tillbox/drivers"
	"tillbox/drivers/evdev"
)

// Opts configures a keypad. Zero fields take the value in DefaultOpts.
type Opts struct {
	// Name appears in String(), e.g. "keypad event2".
	Name string
	// Map is the key mapping; nil means DefaultMap().
	Map Map
	// Repeat lists the keys whose autorepeat (a held key, event value 2) is delivered.
	// Others ignore it: a held CASH or VOID key must not tender or void twice. The default
	// is none.
	Repeat []Key
	// EventBuffer is the capacity of the Events channel.
	EventBuffer int
	// Layout is the input_event layout of the process; zero is evdev.Native.
	Layout evdev.Layout
}

// DefaultOpts is what New uses for a nil *Opts, and for the zero fields of a non-nil one.
var DefaultOpts = Opts{Name: "keypad", EventBuffer: 64, Layout: evdev.Native}

func (o *Opts) resolve() (Opts, error) {
	var r Opts
	if o != nil {
		r = *o
	}
	if r.Name == "" {
		r.Name = DefaultOpts.Name
	}
	if r.Map == nil {
		r.Map = DefaultMap()
	}
	if r.EventBuffer == 0 {
		r.EventBuffer = DefaultOpts.EventBuffer
	}
	if r.Layout == 0 {
		r.Layout = DefaultOpts.Layout
	}
	switch {
	case len(r.Map) == 0:
		return Opts{}, fmt.Errorf("%w: the key mapping is empty", ErrInvalidOpts)
	case r.EventBuffer < 0:
		return Opts{}, fmt.Errorf("%w: EventBuffer %d", ErrInvalidOpts, r.EventBuffer)
	case !r.Layout.Valid():
		return Opts{}, fmt.Errorf("%w: evdev layout %d", ErrInvalidOpts, int(r.Layout))
	}
	for c, k := range r.Map {
		if k == KeyNone || k >= numKeys {
			return Opts{}, fmt.Errorf("%w: %s maps to no POS key", ErrInvalidOpts, evdev.KeyName(c))
		}
	}
	// A private copy: the caller may change its map after New.
	m := make(Map, len(r.Map))
	for c, k := range r.Map {
		m[c] = k
	}
	r.Map = m
	return r, nil
}

// Status is the keypad's state and its counters since New.
type Status struct {
	// State is drivers.Online while the device is read, drivers.Offline once its port
	// failed (Err says how) until Reattach, drivers.Halted after Halt.
	State drivers.State
	Err   error
	// Presses counts press events made (repeats included); Dropped counts those lost
	// because the Events channel was full.
	Presses, Dropped uint64
}

// Press is one key going down (or repeating, for keys in Opts.Repeat).
type Press struct {
	Key    Key    // KeyNone for a code the mapping does not know
	Code   uint16 // the evdev key code
	Repeat bool
	Time   time.Time // the kernel's timestamp of the event
}

// EventKind tells a key press from a status change.
type EventKind uint8

const (
	EventPress EventKind = iota + 1
	EventStatus
)

// Event is one thing the keypad reports; Status is the whole status after it.
type Event struct {
	Kind   EventKind
	Press  Press
	Status Status
}

// Dev is a POS keyboard read through evdev. It is safe for concurrent use.
type Dev struct {
	opts   Opts
	repeat [numKeys]bool
	s      *drivers.Stream[Event]
	// presses is guarded by s (see drivers.Stream.Emit).
	presses uint64
}

var _ conn.Resource = (*Dev)(nil)

// New returns a Dev reading input_event records in o.Layout from port, the keyboard's
// /dev/input/eventN that board opened and grabbed. A nil o means DefaultOpts. Reading
// starts at once; the first event reports Online.
func New(port io.Reader, o *Opts) (*Dev, error) {
	op, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("keypad: new: %w", err)
	}
	d := &Dev{opts: op}
	for _, k := range op.Repeat {
		if k < numKeys {
			d.repeat[k] = true
		}
	}
	d.s = drivers.NewStream("keypad", op.EventBuffer, d.read, d.statusEvent)
	if err := d.s.Start(port); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dev) String() string { return d.opts.Name }

// Map returns a copy of the mapping in use.
func (d *Dev) Map() Map {
	m := make(Map, len(d.opts.Map))
	for c, k := range d.opts.Map {
		m[c] = k
	}
	return m
}

// Events returns the channel of key presses and status changes. It is closed by Halt.
// The driver never blocks on it; overflow is counted in Status.Dropped.
func (d *Dev) Events() <-chan Event { return d.s.Events() }

// Status returns the current status.
func (d *Dev) Status() Status { return drivers.StatusOf(d.s, d.status) }

// status must be called with d.s's lock held.
func (d *Dev) status(c drivers.StreamStatus) Status {
	return Status{State: c.State, Err: c.Err, Presses: d.presses, Dropped: c.Dropped}
}

func (d *Dev) statusEvent(c drivers.StreamStatus) Event {
	return Event{Kind: EventStatus, Status: d.status(c)}
}

// Halt stops delivering key presses and closes the Events channel; no event is delivered
// after it returns. The port belongs to the caller, who closes it to end a Read blocked
// in it. Halt is idempotent and always nil.
func (d *Dev) Halt() error { return d.s.Halt() }

// Reattach starts reading a reopened device after the previous one failed, keeping the
// Events channel and the counters.
func (d *Dev) Reattach(port io.Reader) error { return d.s.Reattach(port) }

// read is the Dev's drivers.ReadFunc. A read blocked in the port cannot see halt; what
// it reads after Halt is not emitted, and it returns then.
func (d *Dev) read(port io.Reader, _ <-chan struct{}) error {
	r, err := evdev.NewReader(port, d.opts.Layout)
	if err != nil {
		return err
	}
	for {
		e, err := r.ReadEvent()
		if err != nil {
			return err
		}
		p, ok := d.press(e)
		if !ok {
			continue
		}
		emitted := d.s.Emit(func(c drivers.StreamStatus) Event {
			d.presses++
			return Event{Kind: EventPress, Press: p, Status: d.status(c)}
		})
		if !emitted {
			return nil // halted
		}
	}
}

// press maps one event: presses of every key, repeats of keys in Opts.Repeat; releases
// and non-key events (SYN, MSC_SCAN, LEDs) give nothing.
func (d *Dev) press(e evdev.Event) (Press, bool) {
	if e.Type != evdev.EvKey {
		return Press{}, false
	}
	k := d.opts.Map[e.Code]
	switch e.Value {
	case evdev.Press:
	case evdev.Repeat:
		if k == KeyNone || !d.repeat[k] {
			return Press{}, false
		}
	default:
		return Press{}, false
	}
	return Press{Key: k, Code: e.Code, Repeat: e.Value == evdev.Repeat, Time: e.Time()}, true
}
