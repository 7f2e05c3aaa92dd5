package board

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tillbox/board/pty"
	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
)

// servePole plugs the pole fake into the master of a new pty and returns the pair and a
// channel closed when the fake stops serving it.
func servePole(t *testing.T, f *displaytest.Pole) (*pty.Pair, <-chan struct{}) {
	t.Helper()
	p := openPty(t)
	served := make(chan struct{})
	go func() { f.Serve(p.Master); close(served) }()
	return p, served
}

// showWithin runs Show and fails the test if it has not returned within patience.
func showWithin(t *testing.T, d *display.Dev, l display.Layout) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- d.Show(l) }()
	select {
	case err := <-done:
		return err
	case <-time.After(patience):
		t.Fatalf("Show still blocked after %v", patience)
		return nil
	}
}

func TestPoleDisplayThatStopsDrainingTimesOutAndComesBackWithTheLastText(t *testing.T) {
	pole := displaytest.NewPole(20)
	first, firstServed := servePole(t, pole)
	tty := newLink(t, "display", first.SlavePath)
	p, _ := Lookup("qemu-virt")
	cfg := fmt.Sprintf(`{"printer": null, "scanner": null, "keypad": null, "drawer": null, "display": {"path": %q}}`, tty.path)
	if err := p.Override(overrides(t, cfg)); err != nil {
		t.Fatal(err)
	}
	s := open(t, p, fastOptions(t))
	waitHealth(t, s, "display", StateOK)
	sale := display.Layout{Top: display.Line{Left: "Brötchen", Right: "0,45 €"}, Bottom: display.Line{Left: "SUMME", Right: "3,15 €"}}
	if err := s.Display.Show(sale); err != nil {
		t.Fatal(err)
	}
	if err := pole.WaitFor(waitCtx(t), "Brötchen      0,45 €", "SUMME         3,15 €"); err != nil {
		t.Fatal(err)
	}

	// The USB-serial adapter stops draining: the pty's buffer fills and a write to the tty
	// blocks in the kernel. The till must get an error within the driver's write timeout,
	// not hang at the customer display.
	pole.Stall()
	var err error
	for i := 0; err == nil; i++ {
		sale.Bottom.Right = fmt.Sprintf("%d,%02d €", 3+i/100, i%100)
		err = showWithin(t, s.Display, sale)
	}
	if !errors.Is(err, display.ErrTimeout) {
		t.Fatalf("Show on a stalled line = %v, want display.ErrTimeout", err)
	}
	h := waitHealth(t, s, "display", StateOffline)
	if !strings.Contains(h.Detail, "timed out") {
		t.Errorf("offline health %+v does not say the write timed out", h)
	}
	// The cashier rings up the next item while the display is away: Show fails at once
	// and the layout is kept.
	sale.Top = display.Line{Left: "Käsebrot", Right: "2,10 €"}
	sale.Bottom.Right = "5,25 €"
	if err := showWithin(t, s.Display, sale); !errors.Is(err, display.ErrOffline) {
		t.Fatalf("Show while offline = %v, want display.ErrOffline", err)
	}

	// The adapter is replugged: its old tty goes (which ends the writes blocked in it) and
	// a new one appears behind the same name. The display powers on blank on PC437; the
	// board reopens the name and the driver sets the display up and shows the last text.
	tty.point(t.TempDir() + "/gone")
	first.Close()
	pole.Unplug()
	<-firstServed
	second, _ := servePole(t, pole)
	tty.point(second.SlavePath)
	waitHealth(t, s, "display", StateOK)
	if err := pole.WaitFor(waitCtx(t), "Käsebrot      2,10 €", "SUMME         5,25 €"); err != nil {
		t.Fatal(err)
	}
	if got := pole.Page(); got != "cp858" {
		t.Errorf("page %s after replug, want the profile's cp858", got)
	}
	if u := pole.Unknown(); len(u) != 0 {
		t.Errorf("the display did not understand %q", u)
	}
}

func TestSimDisplayUnpluggedReadsOfflineAndReplugShowsTheLastText(t *testing.T) {
	s := openSim(t)
	waitHealth(t, s, "display", StateOK)
	s.Sim.Display.Unplug()
	sale := display.Layout{Top: display.Line{Left: "Kaffee", Right: "2,80 €"}, Bottom: display.Line{Left: "SUMME", Right: "2,80 €"}}
	if err := s.Display.Show(sale); err == nil {
		t.Fatal("Show on an unplugged display succeeded")
	}
	h := waitHealth(t, s, "display", StateOffline)
	if !strings.Contains(h.Detail, "unplugged") {
		t.Errorf("offline health %+v does not say why", h)
	}
	s.Sim.Display.Plug()
	waitHealth(t, s, "display", StateOK)
	if err := s.Sim.Display.WaitFor(waitCtx(t), "Kaffee        2,80 €", "SUMME         2,80 €"); err != nil {
		t.Fatal(err)
	}
}
