package display_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"tillbox/board/pty"
	"tillbox/drivers"
	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
)

// patience bounds every wait for something that should happen in milliseconds; it only
// turns a hang into a failure.
const patience = 10 * time.Second

// writeTimeout is short so that the tests of stalled lines take a fraction of a second.
const writeTimeout = 200 * time.Millisecond

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// within runs f and fails the test if it has not returned within patience: a write that
// hangs is the failure these tests exist to catch.
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(patience):
		t.Fatalf("%s still blocked after %v", what, patience)
		panic("unreachable")
	}
}

// poleLine is a pole display fake on the master side of a pty, and the slave opened at
// 9600 baud through go.bug.st/serial as the board opens a tty.
type poleLine struct {
	fake   *displaytest.Pole
	pair   *pty.Pair
	port   serial.Port
	served chan struct{}
}

func plugPTY(t *testing.T, f *displaytest.Pole) *poleLine {
	t.Helper()
	pair, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	port, err := serial.Open(pair.SlavePath, &serial.Mode{BaudRate: 9600})
	if err != nil {
		pair.Close()
		t.Fatalf("serial open %s: %v", pair.SlavePath, err)
	}
	l := &poleLine{fake: f, pair: pair, port: port, served: make(chan struct{})}
	go func() { f.Serve(pair.Master); close(l.served) }()
	t.Cleanup(l.pull)
	return l
}

// pull is the cable pulled: the master closes, which hangs up the slave (a write blocked
// in it returns EIO), and the display loses power (a stalled Serve reads no more, so it
// learns of the pull from Unplug rather than from its read).
func (l *poleLine) pull() {
	l.pair.Close()
	l.port.Close()
	select {
	case <-l.served:
	default:
		l.fake.Unplug()
		<-l.served
	}
}

var groceries = display.Layout{
	Top:    display.Line{Left: "Żurek śląski 500 ml", Right: "7,49"},
	Bottom: display.Line{Left: "SUMA", Right: "31,07"},
}

var groceriesScreen = []string{"Żurek śląski 5. 7,49", "SUMA           31,07"}

// fill shows frames until one fails and returns that failure. A line that stopped
// draining takes frames into its buffers for a while and then blocks.
func fill(t *testing.T, d *display.Dev) (err error, took time.Duration) {
	t.Helper()
	return within(t, "Show on a stalled line", func() error {
		for i := 0; ; i++ {
			l := groceries
			l.Bottom.Right = strings.Repeat("9", 1+i%8)
			start := time.Now()
			if err := d.Show(l); err != nil {
				took = time.Since(start)
				return err
			}
		}
	}), took
}

func TestPoleOverAPTYWhoseOtherEndStopsReadingTimesOut(t *testing.T) {
	f := displaytest.NewPole(20)
	line := plugPTY(t, f)
	d, err := display.New(line.port, &display.Opts{CodePage: "cp852", WriteTimeout: writeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Show(groceries); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitFor(waitCtx(t), groceriesScreen...); err != nil {
		t.Fatal(err)
	}

	// The display stops reading: the kernel's pty buffer fills and the next write to the
	// slave blocks in the kernel. Show must give up after the write timeout.
	f.Stall()
	err, took := fill(t, d)
	if !errors.Is(err, display.ErrTimeout) || !strings.HasPrefix(err.Error(), "display: show: ") {
		t.Fatalf("Show = %v, want display: show: wrapping ErrTimeout", err)
	}
	if took < writeTimeout {
		t.Errorf("the failing Show took %v, less than the write timeout %v: it did not wait for the write", took, writeTimeout)
	}
	st := d.Status()
	if st.State != drivers.Offline || !errors.Is(st.Err, display.ErrTimeout) {
		t.Fatalf("Status = %v %v, want Offline with ErrTimeout", st.State, st.Err)
	}
	// Nothing more goes to a line that stalled: later calls fail at once.
	err = within(t, "Show on an offline display", func() error { return d.Show(groceries) })
	if !errors.Is(err, display.ErrOffline) || !errors.Is(err, display.ErrTimeout) {
		t.Fatalf("Show while offline = %v, want ErrOffline wrapping ErrTimeout", err)
	}
	if err := within(t, "Halt of an offline display", d.Halt); err != nil {
		t.Fatalf("Halt = %v", err)
	}
}

func TestPoleInProcessStallTimesOutAndUnplugEndsTheStalledWrite(t *testing.T) {
	f := displaytest.NewPole(20)
	d, err := display.New(f, &display.Opts{CodePage: "cp852", WriteTimeout: writeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	f.Stall()
	err = within(t, "Show on a stalled fake", func() error { return d.Show(groceries) })
	if !errors.Is(err, display.ErrTimeout) {
		t.Fatalf("Show = %v, want ErrTimeout", err)
	}
	f.Unplug()
	f.Plug()
	if err := d.Reattach(f); err != nil {
		t.Fatal(err)
	}
	if got := f.Lines(); !slices.Equal(got, groceriesScreen) {
		t.Fatalf("screen after Reattach %q, want %q", got, groceriesScreen)
	}
}

// TestPoleStaysStalledLeavesBoundedWrites: retrying a display that stays stalled leaves at
// most a few blocked writes behind; then attempts fail at once, saying why, and once the
// stalled writes return the display comes back.
func TestPoleStaysStalledLeavesBoundedWrites(t *testing.T) {
	f := displaytest.NewPole(20)
	d, err := display.New(f, &display.Opts{CodePage: "cp852", WriteTimeout: writeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	f.Stall()
	d.Show(groceries)
	var refused error
	for i := 0; i < 10 && refused == nil; i++ {
		err := within(t, "Reattach to a stalled fake", func() error { return d.Reattach(f) })
		if !errors.Is(err, display.ErrTimeout) {
			t.Fatalf("Reattach %d = %v, want ErrTimeout", i, err)
		}
		if strings.Contains(err.Error(), "earlier writes have not returned") {
			refused = err
		}
	}
	if refused == nil {
		t.Fatal("ten retries on a stalled display each left a blocked write behind")
	}
	f.Unplug() // the stalled writes fail and return
	f.Plug()
	deadline := time.Now().Add(10 * time.Second)
	for d.Reattach(f) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the display never came back after the stalled writes returned: %v", refused)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.Lines(); !slices.Equal(got, groceriesScreen) {
		t.Fatalf("screen after Reattach %q, want %q", got, groceriesScreen)
	}
}

func TestPoleReattachToANewPTYShowsTheLastText(t *testing.T) {
	f := displaytest.NewPole(20)
	first := plugPTY(t, f)
	d, err := display.New(first.port, &display.Opts{CodePage: "cp852", Brightness: 2, WriteTimeout: writeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Halt() })
	if err := d.Show(display.Layout{Top: display.Line{Left: "Chleb", Right: "4,20"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitFor(waitCtx(t), "Chleb           4,20", strings.Repeat(" ", 20)); err != nil {
		t.Fatal(err)
	}

	// The adapter is pulled: its tty goes away and the display, powered by it, goes dark.
	first.pull()
	if got := f.Lines(); strings.TrimSpace(strings.Join(got, "")) != "" {
		t.Fatalf("an unplugged display shows %q", got)
	}
	err = within(t, "Show on a hung-up tty", func() error { return d.Show(groceries) })
	if err == nil {
		t.Fatal("Show on a closed tty succeeded")
	}
	if st := d.Status(); st.State != drivers.Offline || st.Err == nil || st.Shown != groceries {
		t.Fatalf("Status = %+v, want Offline keeping the last layout", st)
	}

	// Plugged back in, it gets a new tty and powers on blank on PC437. Reattach must set
	// it up again (a Polish letter on the wrong page reads as another letter) and show
	// the last layout, the one the failed Show asked for.
	second := plugPTY(t, f)
	if err := within(t, "Reattach", func() error { return d.Reattach(second.port) }); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitFor(waitCtx(t), groceriesScreen...); err != nil {
		t.Fatal(err)
	}
	if got := f.Page(); got != "cp852" {
		t.Fatalf("page %s after Reattach, want cp852", got)
	}
	if mode, cursor, brightness := f.Mode(); mode != 1 || cursor || brightness != 2 {
		t.Fatalf("mode %d cursor %v brightness %d after Reattach, want 1 false 2", mode, cursor, brightness)
	}
	if st := d.Status(); st.State != drivers.Online || st.Err != nil || !slices.Equal(st.Screen, groceriesScreen) {
		t.Fatalf("Status = %+v after Reattach", st)
	}
	if u := f.Unknown(); len(u) != 0 {
		t.Fatalf("display did not understand %q", u)
	}
}

func TestPoleReattachAfterAStallOnTheSamePathShowsTheLastText(t *testing.T) {
	// The adapter stops draining, the till gives up on it, then the adapter is replugged:
	// the same fake on a new pty.
	f := displaytest.NewPole(20)
	first := plugPTY(t, f)
	d, err := display.New(first.port, &display.Opts{CodePage: "cp852", WriteTimeout: writeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	f.Stall()
	if err, _ := fill(t, d); !errors.Is(err, display.ErrTimeout) {
		t.Fatalf("Show = %v, want ErrTimeout", err)
	}
	last := d.Status().Shown
	first.pull() // also ends the write blocked in the kernel
	second := plugPTY(t, f)
	if err := within(t, "Reattach", func() error { return d.Reattach(second.port) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"Żurek śląski 5. 7,49", "SUMA" + strings.Repeat(" ", 16-len(last.Bottom.Right)) + last.Bottom.Right}
	if err := f.WaitFor(waitCtx(t), want...); err != nil {
		t.Fatal(err)
	}
}

func TestPoleReattachRepeatsOddTextExactly(t *testing.T) {
	long := strings.Repeat("Długa nazwa towaru ", 600) // about 11 000 cells
	for _, tc := range []struct {
		name    string
		layout  display.Layout
		want    []string
		missing string
	}{
		{"very long item beside a price",
			display.Layout{Top: display.Line{long, "1,00"}, Bottom: display.Line{long, ""}},
			[]string{"Długa nazwa to. 1,00", "Długa nazwa towaru. "}, ""},
		{"Cyrillic, Greek, CJK and emoji",
			display.Layout{Top: display.Line{"Хлеб Ψωμί 面包 🍞", "2,00"}, Bottom: display.Line{"SUMA", "2,00"}},
			[]string{"???? ???? ?? ?  2,00", "SUMA            2,00"}, "ХлебΨωμί面包🍞"},
		{"control characters and invalid UTF-8",
			display.Layout{Top: display.Line{"Mleko\x1b@\x0c\xff\xfe", "3,49"}, Bottom: display.Line{"\x1f$\x01\x01SUMA", "3,49"}},
			[]string{"Mleko @ ??      3,49", " $  SUMA        3,49"}, "\uFFFD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := displaytest.NewPole(20)
			d, err := display.New(f, &display.Opts{CodePage: "cp852"})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Show(tc.layout); err != nil {
				t.Fatal(err)
			}
			before := f.Lines()
			st := d.Status()
			if !slices.Equal(before, tc.want) || !slices.Equal(st.Screen, tc.want) {
				t.Fatalf("screen %q, Status().Screen %q, want %q", before, st.Screen, tc.want)
			}
			if got := string(st.Missing); got != tc.missing {
				t.Fatalf("missing %q, want %q", got, tc.missing)
			}
			f.Unplug()
			f.Plug()
			if err := d.Reattach(f); err != nil {
				t.Fatal(err)
			}
			if got := f.Lines(); !slices.Equal(got, before) {
				t.Fatalf("after Reattach %q, before %q", got, before)
			}
			if got := d.Status().Missing; !slices.Equal(got, st.Missing) {
				t.Fatalf("missing after Reattach %q, before %q", string(got), string(st.Missing))
			}
			if u := f.Unknown(); len(u) != 0 {
				t.Fatalf("display did not understand %q", u)
			}
		})
	}
}

func TestPoleNewOnADisplayThatIsNotThereStartsOffline(t *testing.T) {
	f := displaytest.NewPole(20)
	f.Unplug()
	d, err := display.New(f, &display.Opts{CodePage: "cp852"})
	if err != nil {
		t.Fatalf("New = %v, want an Offline Dev", err)
	}
	if st := d.Status(); st.State != drivers.Offline || !errors.Is(st.Err, displaytest.ErrUnplugged) {
		t.Fatalf("Status = %v %v, want Offline with the write's error", st.State, st.Err)
	}
	if err := d.Show(groceries); !errors.Is(err, display.ErrOffline) {
		t.Fatalf("Show = %v, want ErrOffline", err)
	}
	f.Plug()
	if err := d.Reattach(f); err != nil {
		t.Fatal(err)
	}
	if got := f.Lines(); !slices.Equal(got, groceriesScreen) {
		t.Fatalf("screen %q, want %q", got, groceriesScreen)
	}
}

func TestLCDReattachAfterAPowerCycleReinitialisesAndReloadsGlyphs(t *testing.T) {
	d, f := newLCD(t, 20, 4, display.LCDOpts{})
	layout := display.Layout{Top: display.Line{"Łódź Śródmieście", "1,00"}, Bottom: display.Line{"Çay İçecek", "€ 5"}}
	if err := d.Show(layout); err != nil {
		t.Fatal(err)
	}
	before := f.Lines()
	f.Unplug()
	layout.Top.Right = "2,00"
	if err := d.Show(layout); !errors.Is(err, displaytest.ErrNoAck) {
		t.Fatalf("Show on an unplugged LCD = %v, want ErrNoAck", err)
	}
	f.Plug() // 8-bit mode, display off, CGRAM blank
	if err := d.ReattachLCD(f); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(before)
	want[0] = strings.Replace(want[0], "1,00", "2,00", 1)
	if got := f.Lines(); !slices.Equal(got, want) {
		t.Fatalf("screen after ReattachLCD\n%q\nwant\n%q", got, want)
	}
}

func TestReattachRefusesTheWrongPortAndAfterHalt(t *testing.T) {
	pole, _ := newPole(t, "cp437")
	lcd, bus := newLCD(t, 16, 2, display.LCDOpts{})
	for _, err := range []error{
		pole.Reattach(nil),
		pole.ReattachLCD(bus),
		lcd.ReattachLCD(nil),
		lcd.Reattach(displaytest.NewPole(20)),
	} {
		if !errors.Is(err, display.ErrBadPort) {
			t.Errorf("got %v, want ErrBadPort", err)
		}
	}
	if _, err := display.New(nil, nil); !errors.Is(err, display.ErrBadPort) {
		t.Errorf("New(nil) = %v, want ErrBadPort", err)
	}
	pole.Halt()
	if err := pole.Reattach(displaytest.NewPole(20)); !errors.Is(err, display.ErrHalted) {
		t.Errorf("Reattach after Halt = %v, want ErrHalted", err)
	}
	if st := pole.Status(); st.State != drivers.Halted {
		t.Errorf("State after Halt = %v", st.State)
	}
}
