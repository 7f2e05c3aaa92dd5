package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"periph.io/x/conn/v3"

	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
)

// Display is the customer display as the firmware uses it: the display driver's Show,
// Clear, Status and Halt, on whatever port works now.
//
// The display driver initialises the display in New and has no Reattach, and a display
// that was unplugged or lost power needs that initialisation again (its code page, its
// overwrite mode, an LCD's 4-bit mode). So the board makes a new display.Dev on every port
// it opens and puts the last layout back on it: a customer display plugged back in shows
// the current line again without the firmware doing anything.
type Display struct {
	name string

	mu     sync.Mutex
	dev    *display.Dev    // nil while no port works
	down   error           // why dev is nil
	last   *display.Layout // what the firmware last asked to show, to show again on a new port
	halted bool
}

var _ conn.Resource = (*Display)(nil)

// Show puts l on the display. While the display is offline it returns an error wrapping
// ErrOffline and keeps l, which is shown as soon as the display is back. A layout the
// driver refuses (display.ErrNoRoom) is not kept.
func (d *Display) Show(l display.Layout) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return fmt.Errorf("board: display show: %w", display.ErrHalted)
	}
	if d.dev == nil {
		d.last = &l
		return fmt.Errorf("board: display show: %w: %w", ErrOffline, d.down)
	}
	err := d.dev.Show(l)
	if err == nil || !errors.Is(err, display.ErrNoRoom) {
		d.last = &l
	}
	return err
}

// Clear blanks the display, now or when it is back.
func (d *Display) Clear() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return fmt.Errorf("board: display clear: %w", display.ErrHalted)
	}
	d.last = nil
	if d.dev == nil {
		return fmt.Errorf("board: display clear: %w: %w", ErrOffline, d.down)
	}
	return d.dev.Clear()
}

// Status is the driver's status; while the display is offline, Err says why.
func (d *Display) Status() display.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dev == nil {
		st := display.Status{Err: fmt.Errorf("%w: %w", ErrOffline, d.down)}
		if d.last != nil {
			st.Shown = *d.last
		}
		return st
	}
	return d.dev.Status()
}

// String names the display and the device behind it.
func (d *Display) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dev == nil {
		return d.name + " (offline)"
	}
	return d.name + ": " + d.dev.String()
}

// Halt blanks the display (display.Dev.Halt) so that no stale price stays in front of the
// customer; every later Show fails.
func (d *Display) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return nil
	}
	d.halted = true
	if d.dev == nil {
		return nil
	}
	return d.dev.Halt()
}

// attach makes a driver on a new port and shows the last layout on it.
func (d *Display) attach(mk func() (*display.Dev, error)) error {
	dev, err := mk()
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		dev.Halt()
		return fmt.Errorf("board: display: %w", display.ErrHalted)
	}
	d.dev, d.down = dev, nil
	if d.last != nil {
		if err := dev.Show(*d.last); err != nil {
			return err
		}
	}
	return nil
}

// detach forgets the driver of a port that failed. The old Dev is not halted: its port is
// gone, and blanking a display that is back is the new Dev's business.
func (d *Display) detach(cause error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dev, d.down = nil, cause
}

func (s *Set) openDisplay(t timing, _ Options) error {
	spec := s.profile.Display
	d := &Display{name: "display", down: errors.New("connecting")}
	var open func(context.Context) (port, error)
	var mk func(port) (*display.Dev, error)
	where := spec.Path
	pole := func(p port) (*display.Dev, error) {
		return display.New(p.(*watched), &display.Opts{Cols: spec.Cols, CodePage: spec.CodePage})
	}
	switch spec.Kind {
	case KindSim:
		fake := displaytest.NewPole(spec.Cols)
		s.Sim.Display = fake
		where, mk = "sim", pole
		open = func(context.Context) (port, error) { return watch(writeOnly{fake}), nil }
	case KindPole:
		mk = pole
		open = stream(func(context.Context) (io.ReadWriteCloser, error) { return openSerial(spec.Path, spec.Baud) })
	case KindHD44780:
		where = "i2c " + spec.Bus + " " + addrText(spec.Addr)
		open = func(context.Context) (port, error) { return openI2C(spec.Bus) }
		mk = func(p port) (*display.Dev, error) {
			return display.NewLCD(p.(*watchedBus), &display.LCDOpts{Addr: uint16(spec.Addr), Cols: spec.Cols, Rows: spec.Rows})
		}
	}
	l := newLine("display", where, s.log, t, open)
	l.attach = func(p port) error {
		err := d.attach(func() (*display.Dev, error) { return mk(p) })
		if err != nil {
			d.detach(err)
		}
		return err
	}
	// The display driver writes only when told to show something, so a failed port is
	// seen at the next Show; the driver's own last write error says the same.
	l.stale = func() error {
		if !d.mu.TryLock() {
			return nil // a Show is writing; its outcome is seen at the next poll
		}
		defer d.mu.Unlock()
		if d.dev != nil {
			if err := d.dev.Status().Err; err != nil {
				d.dev, d.down = nil, err
				return err
			}
		}
		return nil
	}
	l.onDown = d.detach
	s.Display = d
	s.lines["display"] = l
	// The display is initialised by the supervisor, not here: an LCD's power-on sequence
	// takes over 50 ms and a pole display on a stalled line could hold Open.
	w, err := l.firstOpen()
	if err != nil {
		d.down = err
	}
	l.start(w, false)
	return nil
}

// writeOnly is a device the till only writes to (the sim pole display): a read is a bug.
type writeOnly struct{ io.Writer }

func (writeOnly) Read([]byte) (int, error) { return 0, errors.New("write-only device") }
func (writeOnly) Close() error             { return nil }

// displayHealth reports the customer display.
func (s *Set) displayHealth() DeviceHealth {
	h := s.lineHealth("display", s.profile.Display.Kind)
	if h.State != StateOK {
		return h
	}
	st := s.Display.Status()
	if st.Err != nil {
		h.State, h.Detail = StateOffline, st.Err.Error()
		return h
	}
	h.Detail = fmt.Sprintf("%dx%d", st.Cols, st.Rows)
	if len(st.Missing) > 0 {
		h.Detail += fmt.Sprintf(", cannot show %q", string(st.Missing))
	}
	return h
}

func addrText(a I2CAddr) string {
	b, _ := a.MarshalJSON()
	return string(b[1 : len(b)-1])
}
