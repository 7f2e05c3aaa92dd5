package board

import (
	"context"
	"errors"
	"fmt"
	"io"

	"periph.io/x/conn/v3/physic"

	"tillbox/drivers"
	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
)

// openDisplay makes the customer display driver and its supervisor. The driver starts on
// a dead port and gets the real one from the supervisor's Reattach, which initialises
// the display and puts the current layout back on it, as after every reopen: an LCD's
// power-on sequence takes over 50 ms and a pole display on a stalled line would hold
// Open for the driver's write timeout.
func (s *Set) openDisplay(t timing, _ Options) error {
	spec := s.profile.Display
	var open func(context.Context) (port, error)
	where := spec.Path
	switch spec.Kind {
	case KindSim:
		fake := displaytest.NewPole(spec.Cols)
		s.Sim.Display = fake
		where = "sim"
		open = func(context.Context) (port, error) { return watch(writeOnly{fake}), nil }
	case KindPole:
		open = stream(func(context.Context) (io.ReadWriteCloser, error) { return openSerial(spec.Path, spec.Baud) })
	case KindHD44780:
		where = "i2c " + spec.Bus + " " + addrText(spec.Addr)
		open = func(context.Context) (port, error) { return openI2C(spec.Bus) }
	}
	l := newLine("display", where, s.log, t, open)
	w, err := l.firstOpen()
	cause := errors.New("connecting")
	if err != nil {
		cause = err
	}
	var dev *display.Dev
	if spec.Kind == KindHD44780 {
		dev, err = display.NewLCD(deadBus{cause}, &display.LCDOpts{Addr: uint16(spec.Addr), Cols: spec.Cols, Rows: spec.Rows})
		l.attach = func(p port) error { return dev.ReattachLCD(p.(*watchedBus)) }
	} else {
		dev, err = display.New(deadPort{cause}, &display.Opts{Cols: spec.Cols, CodePage: spec.CodePage})
		l.attach = func(p port) error { return dev.Reattach(p.(*watched)) }
	}
	if err != nil {
		l.cancel()
		if w != nil {
			w.Close()
		}
		return err
	}
	// A failed write or transaction marks the port failed at once; a write that timed out
	// never returns, so the supervisor learns of it from the driver going Offline.
	l.stale = func() error {
		if st := dev.Status(); st.State == drivers.Offline {
			return offlineCause(st.Err)
		}
		return nil
	}
	s.Display = dev
	s.lines["display"] = l
	l.start(w, false)
	return nil
}

// writeOnly is a device the till only writes to (the sim pole display): a read is a bug.
type writeOnly struct{ io.Writer }

func (writeOnly) Read([]byte) (int, error) { return 0, errors.New("write-only device") }
func (writeOnly) Close() error             { return nil }

// deadBus stands in for an I2C bus that is not open yet, as deadPort does for a stream.
type deadBus struct{ err error }

func (d deadBus) Tx(uint16, []byte, []byte) error { return d.err }
func (d deadBus) SetSpeed(physic.Frequency) error { return d.err }
func (d deadBus) String() string                  { return "no bus" }

// displayHealth reports the customer display: offline while the board has no port for it
// or the driver is Offline (a write failed or timed out), with the cause.
func (s *Set) displayHealth() DeviceHealth {
	h := s.lineHealth("display", s.profile.Display.Kind)
	if h.State != StateOK {
		return h
	}
	st := s.Display.Status()
	if st.State != drivers.Online {
		h.State, h.Detail = StateOffline, errText(st.Err, st.State.String())
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
