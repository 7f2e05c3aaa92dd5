package drawertest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// ErrOffline is what the fake printer answers while SetOffline(true) holds.
var ErrOffline = errors.New("drawertest: printer offline")

// Opts shapes the fake drawer. Zero values take the defaults in brackets.
type Opts struct {
	// SpringDelay is the time from the solenoid releasing the latch to the switch seeing
	// the drawer open [5 ms].
	SpringDelay time.Duration
	// PrinterPin is the kick-out connector pin the solenoid is wired to [2]. A printer
	// kick on the other pin does nothing, as with a miswired cable.
	PrinterPin int
	// OpenWhenLow makes the sense switch read low while the drawer is open [high].
	OpenWhenLow bool
	// KickActiveLow makes the GPIO solenoid line energise on low [high].
	KickActiveLow bool
	// Bounces is how many extra times the switch flips on every movement before it
	// settles [0], BounceGap apart [1 ms].
	Bounces   int
	BounceGap time.Duration
}

// Drawer is a cash drawer with a spring, a latch released by a solenoid and a sense
// switch. The solenoid is reached through KickPin (a GPIO line) or Printer (the printer's
// kick-out connector); the switch through SensePin (a GPIO line) or Printer's status.
// The test plays the cashier: Push closes the drawer. It is safe for concurrent use.
type Drawer struct {
	o       Opts
	kick    *Pin
	sense   *Pin
	printer *Printer

	move sync.Mutex // one movement of the drawer at a time, bounces included

	mu     sync.Mutex
	open   bool
	jammed bool
	kicks  int
}

// New returns a closed drawer.
func New(o *Opts) *Drawer {
	d := &Drawer{}
	if o != nil {
		d.o = *o
	}
	if d.o.SpringDelay == 0 {
		d.o.SpringDelay = 5 * time.Millisecond
	}
	if d.o.PrinterPin == 0 {
		d.o.PrinterPin = 2
	}
	if d.o.BounceGap == 0 {
		d.o.BounceGap = time.Millisecond
	}
	d.kick = NewPin("KICK", 17, gpio.Level(d.o.KickActiveLow))
	d.kick.onOut = func(from, to gpio.Level) {
		active := gpio.Level(!d.o.KickActiveLow)
		if from != active && to == active {
			d.release()
		}
	}
	d.sense = NewPin("SENSE", 27, d.level(false))
	d.printer = &Printer{d: d}
	return d
}

// String names the fake.
func (d *Drawer) String() string { return "drawertest" }

// KickPin is the GPIO line that drives the solenoid: a transition to the active level
// releases the latch.
func (d *Drawer) KickPin() *Pin { return d.kick }

// SensePin is the GPIO line the drawer switch is on.
func (d *Drawer) SensePin() *Pin { return d.sense }

// Printer is the receipt printer the drawer is cabled to.
func (d *Drawer) Printer() *Printer { return d.printer }

// Jam makes kicks fail to open the drawer (a full coin tray, a locked drawer) until
// Jam(false).
func (d *Drawer) Jam(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.jammed = on
}

// Push is the cashier pushing the drawer shut. It returns once the switch has settled.
func (d *Drawer) Push() { d.moveTo(false) }

// PullOpen is someone opening the drawer without a kick (the manual release key).
func (d *Drawer) PullOpen() { d.moveTo(true) }

// IsOpen says whether the drawer is out.
func (d *Drawer) IsOpen() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.open
}

// Kicks counts the times the solenoid was energised, whether or not the drawer opened.
func (d *Drawer) Kicks() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kicks
}

// release is the solenoid pulling the latch: the spring pushes the drawer out after
// SpringDelay unless it is jammed.
func (d *Drawer) release() {
	d.mu.Lock()
	d.kicks++
	jammed := d.jammed
	d.mu.Unlock()
	if jammed {
		return
	}
	time.AfterFunc(d.o.SpringDelay, func() { d.moveTo(true) })
}

func (d *Drawer) moveTo(open bool) {
	d.move.Lock()
	defer d.move.Unlock()
	d.mu.Lock()
	if d.open == open {
		d.mu.Unlock()
		return
	}
	d.open = open
	d.mu.Unlock()
	for range d.o.Bounces {
		d.sense.Set(d.level(open))
		time.Sleep(d.o.BounceGap)
		d.sense.Set(d.level(!open))
		time.Sleep(d.o.BounceGap)
	}
	d.sense.Set(d.level(open))
}

func (d *Drawer) level(open bool) gpio.Level {
	return gpio.Level(open != d.o.OpenWhenLow)
}

// Printer is the printer side of the drawer cable: it fires the solenoid on a kick (ESC p
// or the real-time DLE DC4) and reports the switch in its status (DLE EOT 1 bit 2). It
// satisfies drawer.Kicker and drawer.Sensor.
type Printer struct {
	d *Drawer

	mu      sync.Mutex
	offline bool
	kicks   []Kick
}

// Kick is one kick command the printer received.
type Kick struct {
	Pin     int
	On, Off time.Duration
}

// KickDrawer fires the solenoid when pin is the one the drawer is wired to.
func (p *Printer) KickDrawer(pin int, on, off time.Duration) error {
	p.mu.Lock()
	if p.offline {
		p.mu.Unlock()
		return fmt.Errorf("kick pin %d: %w", pin, ErrOffline)
	}
	p.kicks = append(p.kicks, Kick{Pin: pin, On: on, Off: off})
	p.mu.Unlock()
	if pin == p.d.o.PrinterPin {
		p.d.release()
	}
	return nil
}

// DrawerSense reports the level of the kick-out connector's pin 3.
func (p *Printer) DrawerSense() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.offline {
		return false, fmt.Errorf("status: %w", ErrOffline)
	}
	return bool(p.d.sense.Read()), nil
}

// SetOffline makes the printer stop answering (true) or come back (false).
func (p *Printer) SetOffline(off bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.offline = off
}

// Kicks returns the kick commands received, oldest first.
func (p *Printer) Kicks() []Kick {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Kick(nil), p.kicks...)
}
