package drawer_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tillbox/drivers/drawer"
	"tillbox/drivers/drawer/drawertest"
)

var (
	_ drawer.Kicker = (*drawertest.Printer)(nil)
	_ drawer.Sensor = (*drawertest.Printer)(nil)
)

// fast keeps every wait of the driver short; OpenTimeout and LeftOpenAfter stay long so
// that a busy machine cannot make a healthy drawer look jammed or left open.
func fast() drawer.Opts {
	return drawer.Opts{
		Pulse:         2 * time.Millisecond,
		PulseOff:      2 * time.Millisecond,
		Debounce:      time.Millisecond,
		Poll:          2 * time.Millisecond,
		OpenTimeout:   time.Hour,
		LeftOpenAfter: time.Hour,
	}
}

func open(t *testing.T, w drawer.Wiring, o drawer.Opts) *drawer.Dev {
	t.Helper()
	d, err := drawer.New(w, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Halt(); err != nil {
			t.Errorf("Halt: %v", err)
		}
	})
	return d
}

// next returns the next event; the timeout only stops a broken driver from hanging the run.
func next(t *testing.T, d *drawer.Dev) drawer.Event {
	t.Helper()
	select {
	case ev, ok := <-d.Events():
		if !ok {
			t.Fatal("events closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return drawer.Event{}
}

// until reads events up to and including the first of kind, and returns their kinds.
func until(t *testing.T, d *drawer.Dev, kind drawer.EventKind) ([]drawer.EventKind, drawer.Event) {
	t.Helper()
	var seen []drawer.EventKind
	for {
		ev := next(t, d)
		seen = append(seen, ev.Kind)
		if ev.Kind == kind {
			return seen, ev
		}
	}
}

// rest halts the drawer and returns the kinds of the events still queued.
func rest(t *testing.T, d *drawer.Dev) []drawer.EventKind {
	t.Helper()
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	var kinds []drawer.EventKind
	for ev := range d.Events() {
		kinds = append(kinds, ev.Kind)
	}
	return kinds
}

func withoutKicked(k []drawer.EventKind) []drawer.EventKind {
	return slices.DeleteFunc(slices.Clone(k), func(k drawer.EventKind) bool { return k == drawer.Kicked })
}

func TestKickThroughPrinterOpensAndPushClosesWithPrinterStatus(t *testing.T) {
	f := drawertest.New(nil)
	d := open(t, drawer.Wiring{Printer: f.Printer(), PrinterSense: f.Printer()}, fast())
	if st := d.Status(); st.State != drawer.StateClosed || !st.Sensed {
		t.Fatalf("status at start = %+v, want sensed and closed", st)
	}
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	seen, ev := until(t, d, drawer.Opened)
	if ev.Status.State != drawer.StateOpen || !f.IsOpen() {
		t.Fatalf("after Opened: status %v, fake open %v", ev.Status, f.IsOpen())
	}
	f.Push()
	more, ev := until(t, d, drawer.Closed)
	if ev.Status.State != drawer.StateClosed || ev.Status.Kicks != 1 {
		t.Fatalf("after Closed: status %+v", ev.Status)
	}
	all := append(seen, more...)
	if got, want := withoutKicked(all), []drawer.EventKind{drawer.Opened, drawer.Closed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v (and one kicked)", all, want)
	}
	if !slices.Contains(all, drawer.Kicked) {
		t.Fatalf("events %v lack kicked", all)
	}
	kicks := f.Printer().Kicks()
	want := []drawertest.Kick{{Pin: 2, On: 2 * time.Millisecond, Off: 2 * time.Millisecond}}
	if !slices.Equal(kicks, want) {
		t.Fatalf("printer got ESC p %+v, want %+v", kicks, want)
	}
}

func TestKickByGPIOPulsesOnceAndSenseSwitchReportsOpenThenClosed(t *testing.T) {
	f := drawertest.New(nil)
	d := open(t, drawer.Wiring{KickPin: f.KickPin(), SensePin: f.SensePin()}, fast())
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	// Low at New (solenoid off), then exactly one pulse.
	if got, want := f.KickPin().Outs(), []gpio.Level{gpio.Low, gpio.High, gpio.Low}; !slices.Equal(got, want) {
		t.Fatalf("kick pin driven %v, want %v", got, want)
	}
	until(t, d, drawer.Opened)
	f.Push()
	_, ev := until(t, d, drawer.Closed)
	if ev.Status.State != drawer.StateClosed {
		t.Fatalf("status %v", ev.Status)
	}
	if f.Kicks() != 1 {
		t.Fatalf("solenoid fired %d times, want 1", f.Kicks())
	}
}

func TestInvertedKickAndSenseLevels(t *testing.T) {
	f := drawertest.New(&drawertest.Opts{KickActiveLow: true, OpenWhenLow: true})
	o := fast()
	o.KickActiveLow, o.OpenWhenLow = true, true
	d := open(t, drawer.Wiring{KickPin: f.KickPin(), SensePin: f.SensePin()}, o)
	if d.Status().State != drawer.StateClosed {
		t.Fatalf("status %v, want closed", d.Status())
	}
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	if got, want := f.KickPin().Outs(), []gpio.Level{gpio.High, gpio.Low, gpio.High}; !slices.Equal(got, want) {
		t.Fatalf("kick pin driven %v, want %v", got, want)
	}
	until(t, d, drawer.Opened)
}

func TestWaitClosed(t *testing.T) {
	f := drawertest.New(nil)
	d := open(t, drawer.Wiring{KickPin: f.KickPin(), SensePin: f.SensePin()}, fast())

	if err := d.WaitClosed(context.Background()); err != nil {
		t.Fatalf("WaitClosed on a closed drawer: %v", err)
	}
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	until(t, d, drawer.Opened)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	t.Cleanup(cancel)
	if err := d.WaitClosed(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitClosed on an open drawer = %v, want deadline exceeded", err)
	}

	done := make(chan error, 1)
	go func() { done <- d.WaitClosed(context.Background()) }()
	f.Push()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WaitClosed after push: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitClosed did not return after the drawer closed")
	}
}

func TestLeftOpenIsReportedOnceAndClearedOnClose(t *testing.T) {
	f := drawertest.New(nil)
	o := fast()
	o.LeftOpenAfter = 10 * time.Millisecond
	d := open(t, drawer.Wiring{Printer: f.Printer(), SensePin: f.SensePin()}, o)
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	seen, ev := until(t, d, drawer.LeftOpen)
	if !ev.Status.LeftOpen || ev.Status.State != drawer.StateOpen {
		t.Fatalf("left open event status %v", ev.Status)
	}
	if got, want := withoutKicked(seen), []drawer.EventKind{drawer.Opened, drawer.LeftOpen}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", seen, want)
	}
	f.Push()
	_, ev = until(t, d, drawer.Closed)
	if ev.Status.LeftOpen {
		t.Fatalf("closed drawer still left open: %v", ev.Status)
	}
	if left := rest(t, d); len(left) != 0 {
		t.Fatalf("events after close: %v", left)
	}
}

func TestDrawerClosedInTimeRaisesNoLeftOpen(t *testing.T) {
	f := drawertest.New(nil)
	d := open(t, drawer.Wiring{Printer: f.Printer(), SensePin: f.SensePin()}, fast())
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	until(t, d, drawer.Opened)
	f.Push()
	until(t, d, drawer.Closed)
	if left := rest(t, d); len(left) != 0 {
		t.Fatalf("events after a timely close: %v", left)
	}
}

func TestNoSenseSwitchReportsUnknownAndSaysSo(t *testing.T) {
	f := drawertest.New(nil)
	d := open(t, drawer.Wiring{Printer: f.Printer()}, fast())
	st := d.Status()
	if st.Sensed || st.State != drawer.StateUnknown {
		t.Fatalf("status %+v, want unsensed and unknown", st)
	}
	if got, want := st.String(), "unknown (no sense switch)"; got != want {
		t.Fatalf("status reads %q, want %q", got, want)
	}
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, d); ev.Kind != drawer.Kicked || ev.Status.Kicks != 1 || ev.Status.State != drawer.StateUnknown {
		t.Fatalf("event %v %+v, want kicked with state unknown", ev.Kind, ev.Status)
	}
	if f.Kicks() != 1 {
		t.Fatalf("solenoid fired %d times", f.Kicks())
	}
	if err := d.WaitClosed(context.Background()); !errors.Is(err, drawer.ErrNoSense) {
		t.Fatalf("WaitClosed = %v, want ErrNoSense", err)
	}
	if left := rest(t, d); len(left) != 0 {
		t.Fatalf("an unsensed drawer reported %v", left)
	}
}

func TestJammedDrawerIsReportedAndClearedByTheNextOpening(t *testing.T) {
	f := drawertest.New(nil)
	f.Jam(true)
	o := fast()
	o.OpenTimeout = 20 * time.Millisecond
	d := open(t, drawer.Wiring{KickPin: f.KickPin(), SensePin: f.SensePin()}, o)
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	seen, ev := until(t, d, drawer.Jammed)
	if got, want := seen, []drawer.EventKind{drawer.Kicked, drawer.Jammed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if !ev.Status.Jammed || ev.Status.State != drawer.StateClosed {
		t.Fatalf("status %v, want closed and jammed", ev.Status)
	}
	if f.Kicks() != 1 || f.IsOpen() {
		t.Fatalf("fake: kicks %d open %v", f.Kicks(), f.IsOpen())
	}

	// A jam check may also fire for this kick on a slow machine; opening clears it either way.
	f.Jam(false)
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	_, ev = until(t, d, drawer.Opened)
	if ev.Status.Jammed {
		t.Fatalf("opened drawer still jammed: %v", ev.Status)
	}
}

func TestKickOnTheWrongConnectorPinIsJammed(t *testing.T) {
	f := drawertest.New(&drawertest.Opts{PrinterPin: 5})
	o := fast()
	o.OpenTimeout = 20 * time.Millisecond
	d := open(t, drawer.Wiring{Printer: f.Printer(), PrinterSense: f.Printer()}, o)
	if err := d.Kick(); err != nil {
		t.Fatal(err)
	}
	until(t, d, drawer.Jammed)
	if f.Kicks() != 0 {
		t.Fatalf("solenoid on pin 5 fired by a pin 2 kick")
	}
}

func TestBouncingSwitchGivesOneEventPerMovement(t *testing.T) {
	f := drawertest.New(&drawertest.Opts{Bounces: 3, BounceGap: time.Millisecond})
	o := fast()
	o.Debounce = 25 * time.Millisecond // longer than the 6 ms of bouncing
	o.Poll = time.Hour                 // only edges drive the watcher here
	d := open(t, drawer.Wiring{KickPin: f.KickPin(), SensePin: f.SensePin()}, o)
	f.PullOpen()
	until(t, d, drawer.Opened)
	f.Push()
	until(t, d, drawer.Closed)
	if left := rest(t, d); len(left) != 0 {
		t.Fatalf("bounces leaked through as %v", left)
	}
}

func TestPrinterOfflineMakesStateUnknownUntilItAnswers(t *testing.T) {
	f := drawertest.New(nil)
	d := open(t, drawer.Wiring{Printer: f.Printer(), PrinterSense: f.Printer()}, fast())
	f.Printer().SetOffline(true)
	_, ev := until(t, d, drawer.SenseLost)
	if ev.Status.State != drawer.StateUnknown || !errors.Is(ev.Status.Err, drawertest.ErrOffline) {
		t.Fatalf("status %+v, want unknown with the printer's error", ev.Status)
	}
	if err := d.Kick(); !errors.Is(err, drawertest.ErrOffline) {
		t.Fatalf("Kick with the printer offline = %v, want ErrOffline", err)
	}
	f.Printer().SetOffline(false)
	_, ev = until(t, d, drawer.Closed)
	if ev.Status.Err != nil || ev.Status.State != drawer.StateClosed {
		t.Fatalf("status %+v, want closed and no error", ev.Status)
	}
}

func TestHaltStopsTheWatcherAndLaterCallsFail(t *testing.T) {
	f := drawertest.New(nil)
	o := fast()
	d, err := drawer.New(drawer.Wiring{KickPin: f.KickPin(), SensePin: f.SensePin()}, &o)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-d.Events(); ok {
		t.Fatal("events still open after Halt")
	}
	if err := d.Kick(); !errors.Is(err, drawer.ErrHalted) {
		t.Fatalf("Kick after Halt = %v", err)
	}
	if err := d.WaitClosed(context.Background()); !errors.Is(err, drawer.ErrHalted) {
		t.Fatalf("WaitClosed after Halt = %v", err)
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("second Halt = %v", err)
	}
	if f.KickPin().Read() != gpio.Low {
		t.Fatal("solenoid left energised after Halt")
	}
}

func TestNewRejectsBadWiringAndOptions(t *testing.T) {
	f := drawertest.New(nil)
	p, kick, sense := f.Printer(), f.KickPin(), f.SensePin()
	for _, tc := range []struct {
		name string
		w    drawer.Wiring
		o    drawer.Opts
	}{
		{"no way to kick", drawer.Wiring{SensePin: sense}, fast()},
		{"two ways to kick", drawer.Wiring{Printer: p, KickPin: kick}, fast()},
		{"two sense sources", drawer.Wiring{Printer: p, SensePin: sense, PrinterSense: p}, fast()},
		{"connector pin 3", drawer.Wiring{Printer: p}, func() drawer.Opts { o := fast(); o.PrinterPin = 3; return o }()},
		{"pulse longer than ESC p allows", drawer.Wiring{Printer: p}, func() drawer.Opts { o := fast(); o.Pulse = 600 * time.Millisecond; return o }()},
		{"pulse shorter than one unit", drawer.Wiring{KickPin: kick}, func() drawer.Opts { o := fast(); o.Pulse = time.Millisecond; return o }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := drawer.New(tc.w, &tc.o)
			if !errors.Is(err, drawer.ErrInvalidOpts) {
				if d != nil {
					d.Halt()
				}
				t.Fatalf("New = %v, want ErrInvalidOpts", err)
			}
		})
	}
}

func TestStringNamesTheWiring(t *testing.T) {
	f := drawertest.New(nil)
	d := open(t, drawer.Wiring{Printer: f.Printer(), SensePin: f.SensePin()}, fast())
	if got, want := d.String(), "drawer(kick printer pin 2, sense gpio SENSE(27))"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
