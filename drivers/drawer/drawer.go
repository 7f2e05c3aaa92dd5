package drawer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"

	"tillbox/drivers"
)

// Kicker is the part of a receipt printer that fires the drawer solenoid through the
// printer's kick-out connector. pin is 2 or 5 (the connector pin), on is the pulse and off
// the pause the printer keeps after it. The printer times both in its own units; a command
// whose pause is fixed (the real-time DLE DC4 pauses as long as the pulse) ignores off.
type Kicker interface {
	KickDrawer(pin int, on, off time.Duration) error
}

// Sensor is the part of a receipt printer that reports the drawer switch: the level of the
// kick-out connector's pin 3 (DLE EOT 1, bit 2). high is the raw level; which level means
// "open" depends on the drawer and is set by Opts.OpenWhenLow. An error means the printer
// could not be asked (offline, unplugged); the drawer's state is then unknown.
type Sensor interface {
	DrawerSense() (high bool, err error)
}

// KickerFunc adapts a function to Kicker, for a printer whose method has another name.
type KickerFunc func(pin int, on, off time.Duration) error

// KickDrawer implements Kicker.
func (f KickerFunc) KickDrawer(pin int, on, off time.Duration) error { return f(pin, on, off) }

// SensorFunc adapts a function to Sensor.
type SensorFunc func() (high bool, err error)

// DrawerSense implements Sensor.
func (f SensorFunc) DrawerSense() (bool, error) { return f() }

// Wiring says how the drawer is connected: exactly one way to kick it and at most one way
// to sense it. The board fills it in; the drawer never opens hardware itself.
type Wiring struct {
	// Printer kicks the drawer through the printer's kick-out connector.
	Printer Kicker
	// KickPin drives the solenoid (through a transistor or relay) directly from a GPIO.
	KickPin gpio.PinOut

	// SensePin reads the drawer switch on a GPIO, edge-driven.
	SensePin gpio.PinIn
	// PrinterSense reads the drawer switch through the printer's status, polled.
	PrinterSense Sensor
}

// Opts configures a drawer. Zero durations take the DefaultOpts value; every duration is
// wall time.
type Opts struct {
	// Name identifies the drawer in String() and errors' context; default "drawer".
	Name string
	// PrinterPin is the kick-out connector pin the solenoid sits on when kicked through the
	// printer: 2 or 5. Most single-drawer cables use pin 2.
	PrinterPin int
	// Pulse is how long the solenoid is energised: 2 ms..510 ms, since a solenoid held
	// longer overheats. Through the printer it is rounded to the printer's units (the
	// real-time pulse DLE DC4 counts 100 ms units, 100 ms..800 ms).
	Pulse time.Duration
	// PulseOff is the pause after the pulse before the printer accepts another, for a
	// Kicker whose command sets it (ESC p t2, 2 ms units); DLE DC4 pauses as long as the
	// pulse. Unused for a GPIO kick. 2 ms..510 ms.
	PulseOff time.Duration
	// KickActiveLow drives a GPIO kick pin low to energise the solenoid, for driver boards
	// that invert.
	KickActiveLow bool
	// OpenWhenLow says the sense switch reads low when the drawer is open. The default
	// (false) suits a switch to ground that opens with the drawer and a pull-up: high is open.
	OpenWhenLow bool
	// Pull is the pull resistor set on a GPIO sense pin. gpio.PullNoChange keeps the board's
	// setting, for switches with an external resistor.
	Pull gpio.Pull
	// Debounce is how long a GPIO sense switch must stay quiet after an edge before its
	// level counts. The printer status bit is already sampled by the printer and is taken
	// as read.
	Debounce time.Duration
	// Poll is how often the printer status bit is read, and how often a GPIO sense pin is
	// re-read when no edge came (a lost edge is then corrected within Poll). It also bounds
	// how long Halt waits for the watcher.
	Poll time.Duration
	// LeftOpenAfter raises a LeftOpen event when the drawer has stayed open this long.
	// Negative disables the alert.
	LeftOpenAfter time.Duration
	// OpenTimeout is how long a kicked, closed drawer has to report open before the kick is
	// reported Jammed.
	OpenTimeout time.Duration
	// EventBuffer is the capacity of the Events channel. When the consumer falls behind
	// the oldest event is dropped: each event carries the whole status, so the newest one
	// alone is enough to end in the right state.
	EventBuffer int
	// Now stamps events; default time.Now. Tests pass a fixed clock for stable output.
	Now func() time.Time
}

// DefaultOpts suits an Epson-style drawer on printer pin 2 or a GPIO solenoid driver.
var DefaultOpts = Opts{
	Name:          "drawer",
	PrinterPin:    2,
	Pulse:         100 * time.Millisecond,
	PulseOff:      200 * time.Millisecond,
	Pull:          gpio.PullUp,
	Debounce:      20 * time.Millisecond,
	Poll:          250 * time.Millisecond,
	LeftOpenAfter: 30 * time.Second,
	OpenTimeout:   2 * time.Second,
	EventBuffer:   16,
}

// State is what the sense switch says.
type State int

const (
	// StateUnknown: no sense switch, or the printer that reads it does not answer.
	StateUnknown State = iota
	StateClosed
	StateOpen
)

func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	}
	return "unknown"
}

// Status is the drawer's state at one moment. Events carry it whole.
type Status struct {
	State State
	// Sensed is false when the drawer has no sense switch: State is then always
	// StateUnknown, Jammed and LeftOpen are never set, and WaitClosed returns ErrNoSense.
	Sensed bool
	// LeftOpen is set once the drawer has been open for Opts.LeftOpenAfter, until it closes.
	LeftOpen bool
	// Jammed is set when a kick did not open a closed drawer within Opts.OpenTimeout, until
	// the drawer next opens.
	Jammed bool
	// Since is when State last changed (New counts as a change).
	Since time.Time
	// Kicks counts pulses delivered since New.
	Kicks int
	// Err is the last failure to read the sense source, nil while it answers.
	Err error
}

func (s Status) String() string {
	if !s.Sensed {
		return "unknown (no sense switch)"
	}
	out := s.State.String()
	if s.LeftOpen {
		out += ", left open"
	}
	if s.Jammed {
		out += ", jammed"
	}
	if s.Err != nil {
		out += ", sense: " + s.Err.Error()
	}
	return out
}

// EventKind says what changed.
type EventKind int

const (
	// Kicked: a pulse was delivered. With a GPIO kick the drawer may already have reported
	// Opened before the pulse ended.
	Kicked EventKind = iota + 1
	Opened
	Closed
	// LeftOpen: open for Opts.LeftOpenAfter. Sent once per opening.
	LeftOpen
	// Jammed: kicked while closed and still closed after Opts.OpenTimeout.
	Jammed
	// SenseLost: the sense source stopped answering; State is unknown until it answers.
	SenseLost
)

func (k EventKind) String() string {
	switch k {
	case Kicked:
		return "kicked"
	case Opened:
		return "opened"
	case Closed:
		return "closed"
	case LeftOpen:
		return "left open"
	case Jammed:
		return "jammed"
	case SenseLost:
		return "sense lost"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a status change: what happened and the whole status after it.
type Event struct {
	Kind   EventKind
	Status Status
	At     time.Time
}

// Dev is a cash drawer. It is safe for concurrent use.
type Dev struct {
	w    Wiring
	o    Opts
	desc string

	kickMu sync.Mutex // one pulse at a time: two overlapping pulses are one long one

	mu        sync.Mutex
	st        Status
	halted    bool
	changed   chan struct{} // closed and replaced on every State change, for WaitClosed
	events    chan Event
	leftGen   uint64 // bumped on every State change so a stale left-open timer does nothing
	jamGen    uint64 // bumped on opening or a new kick so a stale jam timer does nothing
	leftTimer *time.Timer
	jamTimer  *time.Timer

	stop     chan struct{}
	done     chan struct{}
	haltOnce sync.Once
}

var _ conn.Resource = (*Dev)(nil)

// New validates the wiring and options, reads the sense switch once and starts the watcher
// that reports changes. A printer that does not answer at New is not an error: the drawer
// starts in StateUnknown and becomes known when the printer answers.
func New(w Wiring, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
		fill(&o)
	}
	if err := validate(w, &o); err != nil {
		return nil, fmt.Errorf("drawer: new: %w", err)
	}
	d := &Dev{
		w:       w,
		o:       o,
		changed: make(chan struct{}),
		events:  make(chan Event, o.EventBuffer),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	d.desc = describe(w, &o)
	d.st.Since = d.now()
	if w.KickPin != nil {
		if err := w.KickPin.Out(d.inactive()); err != nil {
			return nil, fmt.Errorf("drawer: new: kick pin %s: %w", w.KickPin, err)
		}
	}
	switch {
	case w.SensePin != nil:
		d.st.Sensed = true
		if err := w.SensePin.In(o.Pull, gpio.BothEdges); err != nil {
			return nil, fmt.Errorf("drawer: new: sense pin %s: %w", w.SensePin, err)
		}
		d.st.State = d.stateOf(w.SensePin.Read())
		go d.watchPin(w.SensePin)
	case w.PrinterSense != nil:
		d.st.Sensed = true
		high, err := w.PrinterSense.DrawerSense()
		if err != nil {
			d.st.Err = err
		} else {
			d.st.State = d.stateOf(gpio.Level(high))
		}
		go d.watchSensor(w.PrinterSense)
	default:
		close(d.done)
	}
	if d.st.State == StateOpen {
		d.armLeftOpen()
	}
	return d, nil
}

func fill(o *Opts) {
	def := DefaultOpts
	if o.Name == "" {
		o.Name = def.Name
	}
	if o.PrinterPin == 0 {
		o.PrinterPin = def.PrinterPin
	}
	for _, p := range []struct{ v, def *time.Duration }{
		{&o.Pulse, &def.Pulse}, {&o.PulseOff, &def.PulseOff}, {&o.Debounce, &def.Debounce},
		{&o.Poll, &def.Poll}, {&o.LeftOpenAfter, &def.LeftOpenAfter}, {&o.OpenTimeout, &def.OpenTimeout},
	} {
		if *p.v == 0 {
			*p.v = *p.def
		}
	}
	if o.EventBuffer == 0 {
		o.EventBuffer = def.EventBuffer
	}
}

func validate(w Wiring, o *Opts) error {
	if (w.Printer == nil) == (w.KickPin == nil) {
		return fmt.Errorf("%w: wire exactly one of Printer and KickPin", ErrInvalidOpts)
	}
	if w.SensePin != nil && w.PrinterSense != nil {
		return fmt.Errorf("%w: wire at most one of SensePin and PrinterSense", ErrInvalidOpts)
	}
	if o.PrinterPin != 2 && o.PrinterPin != 5 {
		return fmt.Errorf("%w: printer pin %d: the kick-out connector drives pin 2 or 5", ErrInvalidOpts, o.PrinterPin)
	}
	const unit, most = 2 * time.Millisecond, 255 * 2 * time.Millisecond
	if o.Pulse < unit || o.Pulse > most {
		return fmt.Errorf("%w: pulse %v outside %v..%v", ErrInvalidOpts, o.Pulse, unit, most)
	}
	if o.PulseOff < unit || o.PulseOff > most {
		return fmt.Errorf("%w: pulse off %v outside %v..%v", ErrInvalidOpts, o.PulseOff, unit, most)
	}
	if o.Debounce < 0 || o.Poll < 0 || o.OpenTimeout < 0 || o.EventBuffer < 0 {
		return fmt.Errorf("%w: negative debounce, poll, open timeout or event buffer", ErrInvalidOpts)
	}
	return nil
}

func describe(w Wiring, o *Opts) string {
	kick := fmt.Sprintf("printer pin %d", o.PrinterPin)
	if w.KickPin != nil {
		kick = "gpio " + w.KickPin.String()
	}
	sense := "none"
	switch {
	case w.SensePin != nil:
		sense = "gpio " + w.SensePin.String()
	case w.PrinterSense != nil:
		sense = "printer status"
	}
	return fmt.Sprintf("%s(kick %s, sense %s)", o.Name, kick, sense)
}

// String implements conn.Resource.
func (d *Dev) String() string { return d.desc }

// Halt implements conn.Resource: it stops the watcher, cancels the left-open and jam
// timers, leaves a GPIO solenoid de-energised and closes the Events channel. It waits for
// a pulse in progress to finish. Every later call returns ErrHalted; Halt itself may be
// called again.
func (d *Dev) Halt() error {
	var err error
	d.haltOnce.Do(func() {
		close(d.stop)
		d.waitWatcher()
		d.kickMu.Lock()
		defer d.kickMu.Unlock()
		if d.w.KickPin != nil {
			if e := d.w.KickPin.Out(d.inactive()); e != nil {
				err = fmt.Errorf("drawer: halt: kick pin %s: %w", d.w.KickPin, e)
			}
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.halted = true
		if d.leftTimer != nil {
			d.leftTimer.Stop()
		}
		if d.jamTimer != nil {
			d.jamTimer.Stop()
		}
		close(d.events)
	})
	return err
}

// waitWatcher returns once the watcher has stopped. A watcher blocked in WaitForEdge is
// woken by reconfiguring the pin without edges, which periph documents as ending the
// wait; the nudge repeats in case it landed just before the watcher started waiting.
func (d *Dev) waitWatcher() {
	p := d.w.SensePin
	if p == nil {
		<-d.done
		return
	}
	for {
		_ = p.In(gpio.PullNoChange, gpio.NoEdge)
		select {
		case <-d.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Status returns the drawer's current status.
func (d *Dev) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// Events delivers status changes in order. It is closed by Halt.
func (d *Dev) Events() <-chan Event { return d.events }

// Kick delivers one pulse to the solenoid and returns when the pulse is done (or, through
// the printer, when the printer has the command). It does not wait for the drawer to open:
// on a sensed drawer, Opened or, after Opts.OpenTimeout, Jammed follows as an event.
func (d *Dev) Kick() error {
	d.kickMu.Lock()
	defer d.kickMu.Unlock()
	d.mu.Lock()
	if d.halted {
		d.mu.Unlock()
		return fmt.Errorf("drawer: kick: %w", ErrHalted)
	}
	// The jam check starts from the state before the pulse: a GPIO solenoid releases the
	// latch while the pulse is still on, so the drawer may report open before Kick returns.
	d.jamGen++
	gen, watch := d.jamGen, d.st.Sensed && d.st.State == StateClosed
	d.mu.Unlock()

	if err := d.pulse(); err != nil {
		return fmt.Errorf("drawer: kick: %w", err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return nil
	}
	d.st.Kicks++
	d.emit(Kicked)
	if watch && d.jamGen == gen && d.st.State == StateClosed {
		if d.jamTimer != nil {
			d.jamTimer.Stop()
		}
		d.jamTimer = time.AfterFunc(d.o.OpenTimeout, func() { d.jamCheck(gen) })
	}
	return nil
}

func (d *Dev) pulse() error {
	if d.w.Printer != nil {
		if err := d.w.Printer.KickDrawer(d.o.PrinterPin, d.o.Pulse, d.o.PulseOff); err != nil {
			return fmt.Errorf("printer pin %d: %w", d.o.PrinterPin, err)
		}
		return nil
	}
	p := d.w.KickPin
	if err := p.Out(!d.inactive()); err != nil {
		return fmt.Errorf("gpio %s: %w", p, err)
	}
	time.Sleep(d.o.Pulse)
	if err := p.Out(d.inactive()); err != nil {
		// A solenoid left energised burns out: try once more before giving up.
		if err2 := p.Out(d.inactive()); err2 != nil {
			return fmt.Errorf("gpio %s: release: %w", p, err)
		}
	}
	return nil
}

func (d *Dev) jamCheck(gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted || gen != d.jamGen || d.st.State != StateClosed {
		return
	}
	d.st.Jammed = true
	d.emit(Jammed)
}

// WaitClosed returns nil once the drawer is closed (at once if it is), or an error wrapping
// ctx's error when ctx ends first, ErrNoSense when nothing can tell, ErrHalted after Halt.
// While the sense source does not answer it keeps waiting.
func (d *Dev) WaitClosed(ctx context.Context) error {
	for {
		d.mu.Lock()
		switch {
		case d.halted:
			d.mu.Unlock()
			return fmt.Errorf("drawer: wait closed: %w", ErrHalted)
		case !d.st.Sensed:
			d.mu.Unlock()
			return fmt.Errorf("drawer: wait closed: %w", ErrNoSense)
		case d.st.State == StateClosed:
			d.mu.Unlock()
			return nil
		}
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("drawer: wait closed: %w", ctx.Err())
		case <-d.stop:
			return fmt.Errorf("drawer: wait closed: %w", ErrHalted)
		}
	}
}

func (d *Dev) watchPin(p gpio.PinIn) {
	defer close(d.done)
	for {
		select {
		case <-d.stop:
			return
		default:
		}
		if p.WaitForEdge(d.o.Poll) {
			// A mechanical switch bounces for a few milliseconds: the level counts once
			// the pin has been quiet for Debounce.
			for d.o.Debounce > 0 && p.WaitForEdge(d.o.Debounce) {
				select {
				case <-d.stop:
					return
				default:
				}
			}
		}
		d.observe(d.stateOf(p.Read()), nil)
	}
}

func (d *Dev) watchSensor(s Sensor) {
	defer close(d.done)
	drivers.Poll(d.o.Poll, d.stop, func() {
		high, err := s.DrawerSense()
		d.observe(d.stateOf(gpio.Level(high)), err)
	})
}

// observe records what the sense source said; err means it did not answer.
func (d *Dev) observe(s State, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return
	}
	if err != nil {
		lost := d.st.Err == nil
		d.st.Err = err
		if lost {
			d.setState(StateUnknown)
			d.emit(SenseLost)
		}
		return
	}
	d.st.Err = nil
	if s == d.st.State {
		return
	}
	d.setState(s)
	switch s {
	case StateOpen:
		d.st.Jammed = false
		d.jamGen++
		d.armLeftOpen()
		d.emit(Opened)
	case StateClosed:
		d.emit(Closed)
	}
}

func (d *Dev) setState(s State) {
	changed := d.st.State != s
	d.st.State = s
	d.st.LeftOpen = false
	d.leftGen++
	if d.leftTimer != nil {
		d.leftTimer.Stop()
	}
	if changed {
		d.st.Since = d.now()
		close(d.changed)
		d.changed = make(chan struct{})
	}
}

func (d *Dev) armLeftOpen() {
	if d.o.LeftOpenAfter < 0 {
		return
	}
	gen := d.leftGen
	d.leftTimer = time.AfterFunc(d.o.LeftOpenAfter, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.halted || gen != d.leftGen || d.st.State != StateOpen {
			return
		}
		d.st.LeftOpen = true
		d.emit(LeftOpen)
	})
}

// emit sends without blocking; called with mu held, so it is the only sender.
func (d *Dev) emit(k EventKind) {
	drivers.SendNewest(d.events, Event{Kind: k, Status: d.st, At: d.now()})
}

func (d *Dev) stateOf(l gpio.Level) State {
	if l == gpio.Level(!d.o.OpenWhenLow) {
		return StateOpen
	}
	return StateClosed
}

func (d *Dev) inactive() gpio.Level { return gpio.Level(d.o.KickActiveLow) }

func (d *Dev) now() time.Time {
	if d.o.Now != nil {
		return d.o.Now()
	}
	return time.Now()
}
