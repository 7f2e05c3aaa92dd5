package drawer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"tillbox/drivers"
	"tillbox/drivers/drawer"
	"tillbox/drivers/drawer/drawertest"
)

func TestErrorsMatchTheDriversSentinels(t *testing.T) {
	t.Run("invalid options", func(t *testing.T) {
		f := drawertest.New(nil)
		o := fast()
		o.PrinterPin = 3
		d, err := drawer.New(drawer.Wiring{Printer: f.Printer()}, &o)
		if !errors.Is(err, drivers.ErrInvalidOpts) || !strings.HasPrefix(err.Error(), "drawer: ") {
			if d != nil {
				d.Halt()
			}
			t.Fatalf("New with printer pin 3 = %v, want drawer: ... wrapping drivers.ErrInvalidOpts", err)
		}
	})
	t.Run("halted", func(t *testing.T) {
		f := drawertest.New(nil)
		o := fast()
		d, err := drawer.New(drawer.Wiring{KickPin: f.KickPin(), SensePin: f.SensePin()}, &o)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Halt(); err != nil {
			t.Fatal(err)
		}
		for op, err := range map[string]error{
			"Kick":       d.Kick(),
			"WaitClosed": d.WaitClosed(context.Background()),
		} {
			if !errors.Is(err, drivers.ErrHalted) {
				t.Errorf("%s after Halt = %v, want drivers.ErrHalted", op, err)
			}
		}
	})
}
