package printer_test

import (
	"errors"
	"strings"
	"testing"

	"tillbox/drivers"
	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

func TestErrorsMatchTheDriversSentinels(t *testing.T) {
	t.Run("invalid options", func(t *testing.T) {
		port := printertest.New(nil).Port()
		t.Cleanup(func() { port.Close() })
		noPages := printer.DefaultProfile
		noPages.Name, noPages.CodePages = "no-pages", nil
		narrow := printer.DefaultProfile
		narrow.Columns = 4
		for name, o := range map[string]printer.Opts{
			"window beyond the reply buffer": {Window: 65},
			"profile without code pages":     {Profile: noPages},
			"profile with 4 columns":         {Profile: narrow},
		} {
			d, err := printer.New(port, &o)
			if !errors.Is(err, drivers.ErrInvalidOpts) || !strings.HasPrefix(err.Error(), "printer: ") {
				if d != nil {
					d.Close()
				}
				t.Errorf("New with %s = %v, want printer: ... wrapping drivers.ErrInvalidOpts", name, err)
			}
		}
	})
	t.Run("halted", func(t *testing.T) {
		fake, d := newInProcess(t, &printertest.Options{Baud: 19200}, fastOpts())
		_, done := startLongJob(t, d, fake, "halted", 40, 5)
		if err := d.Halt(); err != nil {
			t.Fatal(err)
		}
		if got := <-done; !errors.Is(got.err, drivers.ErrHalted) || !strings.HasPrefix(got.err.Error(), "printer: print halted: ") {
			t.Errorf("Print halted by Halt = %v, want printer: print halted: ... wrapping drivers.ErrHalted", got.err)
		}
	})
}
