package display_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"tillbox/drivers"
	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
)

func TestErrorsMatchTheDriversSentinels(t *testing.T) {
	t.Run("invalid options", func(t *testing.T) {
		if _, err := display.New(&bytes.Buffer{}, &display.Opts{Cols: 4}); !errors.Is(err, drivers.ErrInvalidOpts) || !strings.HasPrefix(err.Error(), "display: ") {
			t.Errorf("New with 4 columns = %v, want display: ... wrapping drivers.ErrInvalidOpts", err)
		}
		o := display.LCDOpts{Cols: 17, Rows: 2, Sleep: noSleep}
		if _, err := display.NewLCD(displaytest.NewLCD(0x27, 16, 2), &o); !errors.Is(err, drivers.ErrInvalidOpts) || !strings.HasPrefix(err.Error(), "display: ") {
			t.Errorf("NewLCD 17x2 = %v, want display: ... wrapping drivers.ErrInvalidOpts", err)
		}
	})
	t.Run("halted pole", func(t *testing.T) {
		d, _ := newPole(t, "cp437")
		if err := d.Halt(); err != nil {
			t.Fatal(err)
		}
		for op, err := range map[string]error{
			"Show":     d.Show(display.Layout{Top: display.Line{"Bread", "2.10"}}),
			"Clear":    d.Clear(),
			"Reattach": d.Reattach(displaytest.NewPole(20)),
		} {
			if !errors.Is(err, drivers.ErrHalted) {
				t.Errorf("%s after Halt = %v, want drivers.ErrHalted", op, err)
			}
		}
	})
	t.Run("halted lcd", func(t *testing.T) {
		d, _ := newLCD(t, 16, 2, display.LCDOpts{})
		if err := d.Halt(); err != nil {
			t.Fatal(err)
		}
		for op, err := range map[string]error{
			"Show":        d.Show(display.Layout{Top: display.Line{"Bread", "2.10"}}),
			"Clear":       d.Clear(),
			"ReattachLCD": d.ReattachLCD(displaytest.NewLCD(0x27, 16, 2)),
		} {
			if !errors.Is(err, drivers.ErrHalted) {
				t.Errorf("%s after Halt = %v, want drivers.ErrHalted", op, err)
			}
		}
	})
}
