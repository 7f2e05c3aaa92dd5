package board

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"

	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
)

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

func TestSimDisplayShowsOnThePoleFake(t *testing.T) {
	s := openSim(t)
	if s.Display == nil || s.Sim.Display == nil {
		t.Fatalf("display %v, fake %v", s.Display, s.Sim.Display)
	}
	// Right after Open the display may still be initialising: the layout is kept and
	// shown once it is.
	err := s.Display.Show(display.Layout{
		Top:    display.Line{Left: "Masło ekstra", Right: "7,99"},
		Bottom: display.Line{Left: "SUMA", Right: "12,50 €"},
	})
	if err != nil && !errors.Is(err, display.ErrOffline) {
		t.Fatal(err)
	}
	if err := s.Sim.Display.WaitFor(waitCtx(t), "Maslo ekstra    7,99", "SUMA         12,50 €"); err != nil {
		t.Fatal(err)
	}
	h := waitHealth(t, s, "display", StateOK)
	if h.Port != "sim" {
		t.Errorf("health %+v", h)
	}
	if u := s.Sim.Display.Unknown(); len(u) != 0 {
		t.Errorf("the fake did not understand %v", u)
	}
}

// registerLCD puts a fake HD44780 behind a named I2C bus in periph's registry, so that the
// board opens it by name through i2creg exactly as it opens bus "1" on a Raspberry Pi.
func registerLCD(t *testing.T, lcd *displaytest.LCD) string {
	t.Helper()
	name := fmt.Sprintf("tillbox-test-%s", t.Name())
	opener := func() (i2c.BusCloser, error) { return lcdCloser{lcd}, nil }
	if err := i2creg.Register(name, nil, -1, opener); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { i2creg.Unregister(name) })
	return name
}

type lcdCloser struct{ *displaytest.LCD }

func (lcdCloser) Close() error { return nil }

func lcdProfile(t *testing.T, bus string) Profile {
	t.Helper()
	p, _ := Lookup("sim")
	cfg := fmt.Sprintf(`{"display": {"kind": "hd44780", "bus": %q, "addr": "0x27", "cols": 20, "rows": 4}}`, bus)
	if err := p.Override(overrides(t, cfg)); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHD44780OpenedThroughI2CRegistryAndReinitialisedAfterAFault(t *testing.T) {
	lcd := displaytest.NewLCD(0x27, 20, 4)
	s := open(t, lcdProfile(t, registerLCD(t, lcd)), fastOptions(t))
	waitHealth(t, s, "display", StateOK)
	layout := display.Layout{
		Top:    display.Line{Left: "Çay", Right: "12,50"},
		Bottom: display.Line{Left: "TOPLAM", Right: "30,00"},
	}
	if err := s.Display.Show(layout); err != nil {
		t.Fatal(err)
	}
	blank := strings.Repeat(" ", 20)
	want := []string{"Çay            12,50", blank, blank, "TOPLAM         30,00"}
	if err := lcd.WaitFor(waitCtx(t), want...); err != nil {
		t.Fatal(err)
	}
	// The cable works loose: the backpack loses power and stops acknowledging, the next
	// Show fails and the display reads offline. Once the cable is back the module is in
	// its power-on state (8-bit mode, display off): the board reopens the bus, and the
	// driver's ReattachLCD initialises it again and puts the last layout back without
	// being asked.
	lcd.Unplug()
	layout.Top = display.Line{Left: "Simit", Right: "5,00"}
	if err := s.Display.Show(layout); err == nil {
		t.Fatal("Show on a failing bus succeeded")
	}
	h := waitHealth(t, s, "display", StateOffline)
	if !strings.Contains(h.Detail, "acknowledge") {
		t.Errorf("offline health %+v does not say why", h)
	}
	lcd.Plug()
	waitHealth(t, s, "display", StateOK)
	want[0] = "Simit           5,00"
	if err := lcd.WaitFor(waitCtx(t), want...); err != nil {
		t.Fatal(err)
	}
	if v := lcd.Violations(); len(v) != 0 {
		t.Errorf("protocol violations: %v", v)
	}
}

func TestHD44780MissingAtOpenStartsOffline(t *testing.T) {
	lcd := displaytest.NewLCD(0x3f, 20, 4) // jumpered to another address than the profile's
	s := open(t, lcdProfile(t, registerLCD(t, lcd)), fastOptions(t))
	var h DeviceHealth
	waitFor(t, "display offline for want of an acknowledge", func() bool {
		h = health(t, s, "display")
		return h.State == StateOffline && strings.Contains(h.Detail, "acknowledge")
	})
	if err := s.Display.Show(display.Layout{Top: display.Line{Left: "x"}}); !errors.Is(err, display.ErrOffline) {
		t.Fatalf("Show = %v, want display.ErrOffline", err)
	}
}
