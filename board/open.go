package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tillbox/drivers"
	"tillbox/drivers/display"
	"tillbox/drivers/drawer"
	"tillbox/drivers/drawer/drawertest"
	"tillbox/drivers/evdev"
	"tillbox/drivers/keypad"
	"tillbox/drivers/keypad/keypadtest"
	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
	"tillbox/drivers/scanner"
	"tillbox/drivers/scanner/scannertest"
)

// Options configure Open. A nil *Options, and zero fields, take the defaults.
type Options struct {
	// Logger receives device online/offline transitions; default slog.Default().
	Logger *slog.Logger
	// DrawerLeftOpen is how long the drawer may stay open before Health says
	// drawer-left-open (drawer.Opts.LeftOpenAfter); zero keeps the driver's default (30 s),
	// negative disables the alert.
	DrawerLeftOpen time.Duration
	// PrinterProgress is passed to the printer driver as printer.Opts.Progress, so that the
	// firmware can journal each job's confirmed chunks. It must not block.
	PrinterProgress func(id string, printed int)
	// RetryMin and RetryMax bound the delay between two attempts to reopen a device that
	// is down: it starts at RetryMin, doubles up to RetryMax, and each wait is jittered
	// (between half and all of it) so that devices on one USB hub do not retry in step.
	// Defaults 250 ms and 10 s.
	RetryMin, RetryMax time.Duration
	// Poll is how often a supervisor asks its driver whether it has given up on its port;
	// a port that fails a read or write is noticed at once. Default 500 ms.
	Poll time.Duration
}

// printerStaleAfter is how long a printer may stay silent before its port is reopened. A
// silent printer is usually switched off, which a reopen does not cure and does not harm;
// but a TCP connection to a rebooted printer, or a link the driver gave up after a
// stalled write, only come back through a new port.
const printerStaleAfter = 15 * time.Second

// kickTimeout bounds a drawer kick sent through the printer: the status check that proves
// the printer is there, and the write of the pulse. A receipt that is printing does not
// delay it.
const kickTimeout = 5 * time.Second

func (o *Options) resolve() Options {
	r := Options{}
	if o != nil {
		r = *o
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.RetryMin <= 0 {
		r.RetryMin = 250 * time.Millisecond
	}
	if r.RetryMax <= 0 {
		r.RetryMax = 10 * time.Second
	}
	r.RetryMax = max(r.RetryMax, r.RetryMin)
	if r.Poll <= 0 {
		r.Poll = 500 * time.Millisecond
	}
	return r
}

// Set is the till's devices, opened for one board profile. A device field is nil when the
// profile has no such device, or for a drawer whose GPIO lines do not exist; a device the
// board could not open is not nil but offline, and its supervisor brings it back. The firmware reads the drivers' Events and calls
// Health for the operator display and the uplink's status.
type Set struct {
	Printer *printer.Dev
	Scanner *scanner.Dev
	Drawer  *drawer.Dev
	Keypad  *keypad.Dev
	// Display is the customer display. It goes Offline when a write fails or times out,
	// and its supervisor reopens the port and calls its Reattach, which shows the current
	// layout again.
	Display *display.Dev
	// Sim holds the fakes behind the devices on the sim board, nil elsewhere.
	Sim *Sim

	profile Profile
	log     *slog.Logger
	lines   map[string]*line
	cables  []*simCable
	// drawerErr is why the drawer could not be wired (a GPIO line that does not exist).
	drawerErr error

	mu     sync.Mutex
	closed bool
}

// Open opens every device of profile p and starts their supervisors. It fails only for a
// profile that does not validate or options a driver refuses; a device that cannot be
// opened (unplugged, a wrong path, a printer that does not answer) starts offline, Health
// says why, and its supervisor keeps trying in the background. Open does not wait for any
// device to answer.
func Open(p Profile, o *Options) (*Set, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	opts := o.resolve()
	s := &Set{profile: p.clone(), log: opts.Logger, lines: map[string]*line{}}
	t := timing{retryMin: opts.RetryMin, retryMax: opts.RetryMax, poll: opts.Poll}
	if p.usesSim() {
		s.Sim = &Sim{}
	}
	steps := []struct {
		name string
		on   bool
		open func(timing, Options) error
	}{
		{"printer", p.Printer != nil, s.openPrinter},
		{"scanner", p.Scanner != nil, s.openScanner},
		{"keypad", p.Keypad != nil, s.openKeypad},
		{"display", p.Display != nil, s.openDisplay},
		{"drawer", p.Drawer != nil, s.openDrawer}, // after the printer it may kick through
	}
	for _, st := range steps {
		if !st.on {
			continue
		}
		if err := st.open(t, opts); err != nil {
			s.Close()
			return nil, fmt.Errorf("board: open %s: %w", st.name, err)
		}
	}
	return s, nil
}

func (p *Profile) usesSim() bool {
	return p.Printer != nil && p.Printer.Kind == KindSim ||
		p.Scanner != nil && p.Scanner.Kind == KindSim ||
		p.Display != nil && p.Display.Kind == KindSim ||
		p.Drawer != nil && (p.Drawer.Kick == KindSim || p.Drawer.Sense == KindSim) ||
		p.Keypad != nil && p.Keypad.Kind == KindSim
}

func (s *Set) openPrinter(t timing, opts Options) error {
	spec := s.profile.Printer
	pp, _ := spec.printerProfile()
	var open func(context.Context) (io.ReadWriteCloser, error)
	where := spec.Path
	switch spec.Kind {
	case KindSim:
		fake := printertest.New(nil)
		s.Sim.Printer = fake
		where = "sim"
		open = func(context.Context) (io.ReadWriteCloser, error) { return fake.Port(), nil }
	case KindSerial:
		open = func(context.Context) (io.ReadWriteCloser, error) { return openSerial(spec.Path, spec.Baud) }
	case KindUSBLP:
		open = func(context.Context) (io.ReadWriteCloser, error) {
			f, err := openFile(spec.Path, os.O_RDWR)
			if err != nil {
				return nil, err
			}
			return f, nil
		}
	case KindTCP:
		where = spec.Address
		open = func(ctx context.Context) (io.ReadWriteCloser, error) { return dialTCP(ctx, spec.Address) }
	}
	l := newLine("printer", where, s.log, t, stream(open))
	// The driver starts on a dead port and gets the real one from the supervisor: New and
	// Reattach wait for the printer's first status answer (up to its timeout), and Open
	// must not wait for a printer that is switched off. A TCP printer is dialled by the
	// supervisor too, since a dial can take seconds.
	var w port
	cause := errors.New("connecting")
	if spec.Kind != KindTCP {
		var err error
		if w, err = l.firstOpen(); err != nil {
			cause = err
		}
	}
	dev, err := printer.New(deadPort{cause}, &printer.Opts{Name: "printer", Profile: pp, Progress: opts.PrinterProgress})
	if err != nil {
		l.cancel()
		if w != nil {
			w.Close()
		}
		return err
	}
	s.Printer = dev
	l.attach = func(p port) error { return dev.Reattach(p.(*watched)) }
	var silentSince time.Time
	l.stale = func() error {
		if dev.Status().Connected {
			silentSince = time.Time{}
			return nil
		}
		if silentSince.IsZero() {
			silentSince = time.Now()
		}
		if time.Since(silentSince) < printerStaleAfter {
			return nil
		}
		silentSince = time.Time{}
		return fmt.Errorf("no answer for %v", printerStaleAfter)
	}
	s.lines["printer"] = l
	l.start(w, false)
	return nil
}

func (s *Set) openScanner(t timing, _ Options) error {
	spec := s.profile.Scanner
	var open func(context.Context) (io.ReadWriteCloser, error)
	where := spec.Path
	switch spec.Kind {
	case KindSim:
		c := s.newSimCable()
		s.Sim.Scanner = scannertest.NewSerial(c, spec.Suffix)
		where, open = "sim", c.plug
	case KindSerial:
		open = func(context.Context) (io.ReadWriteCloser, error) { return openSerial(spec.Path, spec.Baud) }
	case KindEvdev:
		open = evdevOpener(spec.Path)
	}
	o := spec.opts()
	newDev := scanner.New
	if spec.Kind == KindEvdev {
		newDev = scanner.NewWedge
	}
	return s.openReader("scanner", where, t, open, func(port io.Reader) (reader, error) {
		dev, err := newDev(port, &o)
		if err != nil {
			return reader{}, err
		}
		s.Scanner = dev
		return reader{dev.Reattach, func() (drivers.State, error) { st := dev.Status(); return st.State, st.Err }}, nil
	})
}

func (s *Set) openKeypad(t timing, _ Options) error {
	spec := s.profile.Keypad
	m, err := spec.Map.Parse()
	if err != nil {
		return err
	}
	var open func(context.Context) (io.ReadWriteCloser, error)
	where := spec.Path
	switch spec.Kind {
	case KindSim:
		c := s.newSimCable()
		s.Sim.Keypad = keypadtest.New(c, evdev.Native, m)
		where, open = "sim", c.plug
	case KindEvdev:
		open = evdevOpener(spec.Path)
	}
	return s.openReader("keypad", where, t, open, func(port io.Reader) (reader, error) {
		dev, err := keypad.New(port, &keypad.Opts{Name: "keypad", Map: m})
		if err != nil {
			return reader{}, err
		}
		s.Keypad = dev
		return reader{dev.Reattach, func() (drivers.State, error) { st := dev.Status(); return st.State, st.Err }}, nil
	})
}

// newSimCable returns a cable for a sim device's fake, unplugged by Close.
func (s *Set) newSimCable() *simCable {
	c := &simCable{}
	s.cables = append(s.cables, c)
	return c
}

// evdevOpener opens the input device at path, grabbed (see openEvdev).
func evdevOpener(path string) func(context.Context) (io.ReadWriteCloser, error) {
	return func(context.Context) (io.ReadWriteCloser, error) { return openEvdev(path) }
}

// reader is what the board needs of a driver that only reads its port (a scanner, a
// keypad; see drivers.Stream).
type reader struct {
	reattach func(io.Reader) error
	// state is the driver's state and, when Offline, why.
	state func() (drivers.State, error)
}

// openReader opens a reading device's port once and starts its supervisor. newDev makes
// the driver on the port or, when it could not be opened, on a deadPort giving why: the
// driver exists from Open on, reports itself Offline, and gets the port from the
// supervisor. An error from newDev (options it refuses) is returned.
func (s *Set) openReader(name, where string, t timing, open func(context.Context) (io.ReadWriteCloser, error),
	newDev func(io.Reader) (reader, error)) error {
	l := newLine(name, where, s.log, t, stream(open))
	w, err := l.firstOpen()
	var rd io.Reader = deadPort{err}
	if w != nil {
		rd = w.(*watched)
	}
	dev, err := newDev(rd)
	if err != nil {
		l.cancel()
		if w != nil {
			w.Close()
		}
		return err
	}
	l.attach = func(p port) error { return dev.reattach(p.(*watched)) }
	l.stale = func() error {
		if st, err := dev.state(); st == drivers.Offline {
			return offlineCause(err)
		}
		return nil
	}
	s.lines[name] = l
	l.start(w, true)
	return nil
}

func offlineCause(err error) error {
	if err == nil {
		return errors.New("offline")
	}
	return err
}

func (s *Set) openDrawer(_ timing, opts Options) error {
	spec := s.profile.Drawer
	o := drawer.DefaultOpts
	o.Name = "drawer"
	o.KickActiveLow = spec.KickActiveLow
	o.OpenWhenLow = spec.OpenWhenLow
	if opts.DrawerLeftOpen != 0 {
		o.LeftOpenAfter = opts.DrawerLeftOpen
	}
	var fake *drawertest.Drawer
	if spec.Kick == KindSim || spec.Sense == KindSim {
		fake = drawertest.New(&drawertest.Opts{KickActiveLow: spec.KickActiveLow, OpenWhenLow: spec.OpenWhenLow})
		s.Sim.Drawer = fake
	}
	var w drawer.Wiring
	switch spec.Kick {
	case KindSim:
		w.KickPin = fake.KickPin()
	case KindPrinter:
		o.PrinterPin = spec.Pin
		w.Printer = printerKicker(s.Printer)
	case KindGPIO:
		pin, ok := s.drawerLine("kick", spec.KickGPIO)
		if !ok {
			return nil
		}
		w.KickPin = pin
	}
	switch spec.Sense {
	case KindSim:
		w.SensePin = fake.SensePin()
	case KindPrinter:
		pp, _ := s.profile.Printer.printerProfile()
		w.PrinterSense = printerSensor(s.Printer, pp.DrawerOpenHigh)
	case KindGPIO:
		pin, ok := s.drawerLine("sense", spec.SenseGPIO)
		if !ok {
			return nil
		}
		w.SensePin = pin
	}
	dev, err := drawer.New(w, &o)
	if err != nil {
		return err
	}
	s.Drawer = dev
	return nil
}

// drawerLine returns the drawer's GPIO line called name, for use ("kick", "sense"). A
// line that does not open leaves the drawer unwired rather than failing Open: the cause
// goes to drawerErr, which Health reports, and to the log.
func (s *Set) drawerLine(use, name string) (gpio.PinIO, bool) {
	pin, err := gpioPin(name)
	if err != nil {
		s.drawerErr = fmt.Errorf("%s: %w", use, err)
		s.log.Warn("board: device offline", "device", "drawer", "cause", s.drawerErr)
		return nil, false
	}
	return pin, true
}

// printerKicker fires the drawer through the receipt printer with the driver's real-time
// pulse: it goes out between two chunks of a receipt that is printing and fires at once,
// so the drawer never waits for the receipt. The drawer's pulse time is the printer's on
// time (rounded to its 100 ms units; the printer's pause after it is as long).
func printerKicker(p *printer.Dev) drawer.Kicker {
	return drawer.KickerFunc(func(pin int, on, _ time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), kickTimeout)
		defer cancel()
		if err := p.PulseDrawer(ctx, pin, on); err != nil {
			if errors.Is(err, printer.ErrOffline) {
				// Nothing was sent: the cashier reaches for the key now, and the drawer
				// will not open on its own when the printer comes back.
				return fmt.Errorf("board: drawer kick: %w: %w", ErrOffline, err)
			}
			return fmt.Errorf("board: drawer kick: %w", err)
		}
		return nil
	})
}

// printerSensor reads the drawer switch from the printer's last status. The driver reports
// DrawerOpen already read through its profile's DrawerOpenHigh; the drawer driver wants
// the raw level of pin 3 (it applies its own OpenWhenLow), so the level is recovered.
func printerSensor(p *printer.Dev, openHigh bool) drawer.Sensor {
	return drawer.SensorFunc(func() (bool, error) {
		st := p.Status()
		if !st.Connected {
			return false, errors.New("printer not answering")
		}
		return st.DrawerOpen == openHigh, nil
	})
}

// Close halts every device, stops the supervisors and closes the ports. It is safe to call
// more than once; later calls return nil.
func (s *Set) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	// Supervisors first, so that nothing reattaches a device being halted; drivers next,
	// while their ports still work (the printer finishes the chunks it sent); ports last,
	// which ends the reads the drivers left blocked.
	for _, l := range s.lines {
		l.stopSupervisor()
	}
	var errs []error
	if s.Drawer != nil {
		errs = append(errs, s.Drawer.Halt())
	}
	if s.Printer != nil {
		errs = append(errs, s.Printer.Close())
	}
	if s.Scanner != nil {
		errs = append(errs, s.Scanner.Halt())
	}
	if s.Keypad != nil {
		errs = append(errs, s.Keypad.Halt())
	}
	if s.Display != nil {
		errs = append(errs, s.Display.Halt())
	}
	for _, l := range s.lines {
		if err := l.closePort(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
		}
	}
	for _, c := range s.cables {
		c.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("board: close: %w", err)
	}
	return nil
}
