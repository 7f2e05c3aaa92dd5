package board

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"tillbox/drivers"
	"tillbox/drivers/drawer"
	"tillbox/drivers/keypad"
	"tillbox/drivers/printer"
	"tillbox/drivers/scanner"
)

func TestSimOpensEveryDeviceOverItsFake(t *testing.T) {
	s := openSim(t)
	if s.Printer == nil || s.Scanner == nil || s.Drawer == nil || s.Keypad == nil {
		t.Fatalf("a device is nil: %+v", s)
	}
	if s.Sim == nil || s.Sim.Printer == nil || s.Sim.Scanner == nil || s.Sim.Keypad == nil || s.Sim.Drawer == nil {
		t.Fatalf("a fake is nil: %+v", s.Sim)
	}
	for _, name := range []string{"printer", "scanner", "drawer", "keypad"} {
		waitHealth(t, s, name, StateOK)
	}
}

func TestSimScanReachesTheScannerDriver(t *testing.T) {
	s := openSim(t)
	if err := s.Sim.Scanner.Scan("4006381333931"); err != nil {
		t.Fatal(err)
	}
	sc := nextScan(t, s.Scanner)
	if !sc.Good() || sc.GTIN != "4006381333931" || sc.Symbology != scanner.EAN13 {
		t.Fatalf("scan = %v", sc)
	}
	// A bad check digit is the driver's to reject: the sim does not bypass it.
	if err := s.Sim.Scanner.Scan("4006381333932"); err != nil {
		t.Fatal(err)
	}
	if sc := nextScan(t, s.Scanner); sc.Reason != scanner.ReasonCheckDigit {
		t.Fatalf("scan of a bad check digit = %v", sc)
	}
}

func TestSimKeyReachesTheKeypadDriver(t *testing.T) {
	s := openSim(t)
	if err := s.Sim.Keypad.Press(keypad.KeyCash); err != nil {
		t.Fatal(err)
	}
	if p := nextPress(t, s.Keypad); p.Key != keypad.KeyCash {
		t.Fatalf("press = %+v, want CASH", p)
	}
	if err := s.Sim.Keypad.Digits("42"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []keypad.Key{keypad.Key4, keypad.Key2} {
		if p := nextPress(t, s.Keypad); p.Key != want {
			t.Fatalf("press = %v, want %v", p.Key, want)
		}
	}
}

func TestSimPrintedDocumentAppearsDecodedInTheFake(t *testing.T) {
	s := openSim(t)
	doc := new(printer.Doc).Add(
		printer.Text("Sklep Żabka").Center().Bold(),
		printer.Columns("Zażółć gęślą jaźń", "12,50 €"),
		printer.Text("Grüße, ağaç"),
		printer.Cut(true),
	)
	res, err := s.Printer.Print(printCtx(t), printer.Job{ID: "sim-1", Doc: doc})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done || len(res.InDoubt) != 0 {
		t.Fatalf("result %+v", res)
	}
	text := s.Sim.Printer.Text()
	for _, want := range []string{"Sklep Żabka", "Zażółć gęślą jaźń", "12,50 €", "Grüße, ağaç"} {
		if !strings.Contains(text, want) {
			t.Errorf("printout lacks %q:\n%s", want, text)
		}
	}
	if n := len(s.Sim.Printer.Unknown()); n != 0 {
		t.Errorf("the fake did not understand %v", s.Sim.Printer.Unknown())
	}
}

func TestSimDrawerKickOpensTheFakeAndPushCloses(t *testing.T) {
	s := openSim(t)
	if st := s.Drawer.Status(); !st.Sensed || st.State != drawer.StateClosed {
		t.Fatalf("drawer at start: %v", st)
	}
	if err := s.Drawer.Kick(); err != nil {
		t.Fatal(err)
	}
	ev := nextDrawer(t, s.Drawer, drawer.Opened)
	if ev.Status.State != drawer.StateOpen || !s.Sim.Drawer.IsOpen() || s.Sim.Drawer.Kicks() != 1 {
		t.Fatalf("after a kick: event %v, fake open %v, kicks %d", ev.Status, s.Sim.Drawer.IsOpen(), s.Sim.Drawer.Kicks())
	}
	if h := health(t, s, "drawer"); h.State != StateDrawerOpen {
		t.Errorf("health %+v, want drawer-open", h)
	}
	s.Sim.Drawer.Push()
	if ev := nextDrawer(t, s.Drawer, drawer.Closed); ev.Status.State != drawer.StateClosed {
		t.Fatalf("after push: %v", ev.Status)
	}
	if err := s.Drawer.WaitClosed(printCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, s, "drawer", StateOK)
}

func TestSimDrawerLeftOpenShowsInHealth(t *testing.T) {
	p, _ := Lookup("sim")
	o := fastOptions(t)
	o.DrawerLeftOpen = 30 * time.Millisecond // the alert itself is the driver's, tested there
	s := open(t, p, o)
	if err := s.Drawer.Kick(); err != nil {
		t.Fatal(err)
	}
	nextDrawer(t, s.Drawer, drawer.LeftOpen)
	waitHealth(t, s, "drawer", StateDrawerLeftOpen)
	s.Sim.Drawer.Push()
	waitHealth(t, s, "drawer", StateOK)
}

func TestSimHealthReflectsPaperOutAndRefill(t *testing.T) {
	s := openSim(t)
	waitHealth(t, s, "printer", StateOK)
	s.Sim.Printer.RunOutAfter(1)
	doc := new(printer.Doc).Add(printer.Text("one"), printer.Text("two"), printer.Text("three"))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { _, err := s.Printer.Print(ctx, printer.Job{ID: "paper", Doc: doc}); done <- err }()
	h := waitHealth(t, s, "printer", StatePaperOut)
	if !strings.Contains(h.Detail, "paper out") {
		t.Errorf("detail %q", h.Detail)
	}
	s.Sim.Printer.Refill()
	waitHealth(t, s, "printer", StateOK)
	if err := <-done; err != nil {
		t.Fatalf("the job did not finish after the refill: %v", err)
	}
	if text := s.Sim.Printer.Text(); !strings.Contains(text, "three") {
		t.Fatalf("printout after refill:\n%s", text)
	}
}

func TestSimHealthReflectsCoverAndNearEnd(t *testing.T) {
	s := openSim(t)
	waitHealth(t, s, "printer", StateOK)
	s.Sim.Printer.SetNearEnd(true)
	waitHealth(t, s, "printer", StatePaperLow)
	s.Sim.Printer.SetCover(true)
	waitHealth(t, s, "printer", StateCoverOpen)
	s.Sim.Printer.SetCover(false)
	s.Sim.Printer.SetNearEnd(false)
	waitHealth(t, s, "printer", StateOK)
}

func TestSimScannerUnpluggedComesBackOnANewCable(t *testing.T) {
	s := openSim(t)
	next(t, "online", s.Scanner.Events(), func(e scanner.Event) bool { return e.Status.State == drivers.Online })
	if err := s.Sim.Scanner.Close(); err != nil {
		t.Fatal(err)
	}
	next(t, "offline", s.Scanner.Events(), func(e scanner.Event) bool { return e.Status.State == drivers.Offline })
	next(t, "online again", s.Scanner.Events(), func(e scanner.Event) bool { return e.Status.State == drivers.Online })
	if err := s.Sim.Scanner.Scan("4006381333931"); err != nil {
		t.Fatal(err)
	}
	if sc := nextScan(t, s.Scanner); !sc.Good() {
		t.Fatalf("scan after replug = %v", sc)
	}
}

func TestSimPrinterUnpluggedComesBackOnANewCable(t *testing.T) {
	s := openSim(t)
	waitHealth(t, s, "printer", StateOK)
	l := s.lines["printer"]
	waitFor(t, "first attach", func() bool { return l.attaches() == 1 })
	s.Sim.Printer.Unplug()
	// The board notices the failed read and plugs a new cable in, usually before the
	// driver's status poll has seen the printer gone.
	waitFor(t, "a new cable", func() bool { return l.attaches() == 2 })
	waitHealth(t, s, "printer", StateOK)
	doc := new(printer.Doc).Add(printer.Text("after replug"))
	if _, err := s.Printer.Print(printCtx(t), printer.Job{ID: "replug", Doc: doc}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Sim.Printer.Text(), "after replug") {
		t.Fatalf("printout:\n%s", s.Sim.Printer.Text())
	}
}

func TestSimPrinterPowerLossShowsOffline(t *testing.T) {
	s := openSim(t)
	waitHealth(t, s, "printer", StateOK)
	s.Sim.Printer.Vanish()
	h := waitHealth(t, s, "printer", StateOffline)
	if !strings.Contains(h.Detail, "not answering") {
		t.Errorf("detail %q", h.Detail)
	}
	s.Sim.Printer.Return()
	waitHealth(t, s, "printer", StateOK)
}

func TestSimDrawerThroughThePrinterFake(t *testing.T) {
	p, _ := Lookup("sim")
	if err := p.Override(overrides(t, `{"drawer": {"kick": "printer", "pin": 2, "sense": "printer"}}`)); err != nil {
		t.Fatal(err)
	}
	s := open(t, p, fastOptions(t))
	if s.Sim.Drawer != nil {
		t.Fatalf("a drawertest fake with a drawer wired to the printer")
	}
	waitFor(t, "drawer sensed closed", func() bool { return s.Drawer.Status().State == drawer.StateClosed })
	if err := s.Drawer.Kick(); err != nil {
		t.Fatal(err)
	}
	nextDrawer(t, s.Drawer, drawer.Opened)
	if p, items := s.Sim.Printer.Pulses(), s.Sim.Printer.Printed(); len(p) != 1 || p[0].Pin != 2 || len(items) != 0 {
		t.Fatalf("printer fake pulsed %v and printed %v, want one real-time pulse on pin 2 and no job", p, items)
	}
	s.Sim.Printer.SetDrawer(false)
	nextDrawer(t, s.Drawer, drawer.Closed)
}

func TestCloseStopsEverything(t *testing.T) {
	p, _ := Lookup("sim")
	s, err := Open(p, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	fake := s.Sim.Scanner
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The drivers' channels are closed and the fakes are unplugged, not blocked.
	drained := make(chan struct{})
	go func() {
		for range s.Scanner.Events() {
		}
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(patience):
		t.Fatal("the scanner's events were not closed")
	}
	if err := fake.Scan("4006381333931"); err == nil {
		t.Fatal("a scan after Close went somewhere")
	}
	_, err = s.Printer.Print(context.Background(), printer.Job{ID: "x", Doc: new(printer.Doc).Add(printer.Text("x"))})
	if !errors.Is(err, printer.ErrClosed) {
		t.Fatalf("Print after Close: %v", err)
	}
}

func TestDrawerOnAGPIOLineThatDoesNotExistIsOfflineNamingIt(t *testing.T) {
	for _, tc := range []struct {
		use, line string
		spec      DrawerSpec
	}{
		{"kick", "NO_SUCH_LINE_17", DrawerSpec{Kick: KindGPIO, KickGPIO: "NO_SUCH_LINE_17", Sense: KindSim}},
		{"sense", "NO_SUCH_LINE_27", DrawerSpec{Kick: KindSim, Sense: KindGPIO, SenseGPIO: "NO_SUCH_LINE_27"}},
	} {
		t.Run(tc.use, func(t *testing.T) {
			p, _ := Lookup("sim")
			p.Drawer = &tc.spec
			s := open(t, p, fastOptions(t))
			if s.Drawer != nil {
				t.Fatal("a drawer wired to a line that does not exist has a driver")
			}
			h := health(t, s, "drawer")
			if h.State != StateOffline || !strings.HasPrefix(h.Detail, tc.use+": ") || !strings.Contains(h.Detail, tc.line) {
				t.Fatalf("drawer health %+v, want offline with the %s line's error naming %s", h, tc.use, tc.line)
			}
			waitHealth(t, s, "printer", StateOK) // the till runs without its drawer
		})
	}
}
