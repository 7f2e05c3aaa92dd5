package drivers_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"tillbox/drivers"
	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
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

// kind is one driver seen through the shared vocabulary: invalid returns what its New
// says to options it refuses, halted the errors of its calls after Halt (or, for a
// printer, of the job Halt ended), by call.
type kind struct {
	name    string
	invalid func(t *testing.T) error
	halted  func(t *testing.T) map[string]error
}

var kinds = []kind{
	{"printer",
		func(t *testing.T) error {
			_, err := printer.New(printerPort(t), &printer.Opts{Window: 65})
			return err
		},
		func(t *testing.T) map[string]error {
			fake := printertest.New(nil)
			port := fake.Port()
			t.Cleanup(func() { port.Close() })
			d, err := printer.New(port, &printer.Opts{Timeout: 200 * time.Millisecond, Poll: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			// A job waiting for the cover to close, halted: nothing of it is in the
			// printer, so Halt stops it at once. Halt is repeated until it has found the
			// job running.
			fake.SetCover(true)
			deadline := time.After(10 * time.Second)
			for !d.Status().CoverOpen {
				select {
				case <-deadline:
					t.Fatal("the driver did not see the cover open")
				case <-time.After(5 * time.Millisecond):
				}
			}
			done := make(chan error, 1)
			go func() {
				_, err := d.Print(context.Background(), printer.Job{ID: "halted", Doc: (&printer.Doc{}).Add(printer.Text("Bread"))})
				done <- err
			}()
			for {
				if err := d.Halt(); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-done:
					return map[string]error{"a waiting Print": err}
				case <-time.After(10 * time.Millisecond):
				case <-deadline:
					t.Fatal("Print did not return after Halt")
				}
			}
		}},
	{"scanner",
		func(t *testing.T) error {
			_, err := scanner.New(scannerPort(t), &scanner.Opts{PartialTimeout: -1})
			return err
		},
		func(t *testing.T) map[string]error {
			d, err := scanner.New(scannerPort(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Halt(); err != nil {
				t.Fatal(err)
			}
			return map[string]error{"Reattach": d.Reattach(scannerPort(t))}
		}},
	{"display",
		func(t *testing.T) error {
			_, err := display.New(&bytes.Buffer{}, &display.Opts{Cols: 4})
			return err
		},
		func(t *testing.T) map[string]error {
			d, err := display.New(displaytest.NewPole(20), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Halt(); err != nil {
				t.Fatal(err)
			}
			return map[string]error{
				"Show":     d.Show(display.Layout{Top: display.Line{Left: "Bread", Right: "2.10"}}),
				"Clear":    d.Clear(),
				"Reattach": d.Reattach(displaytest.NewPole(20)),
			}
		}},
	{"drawer",
		func(t *testing.T) error {
			f := drawertest.New(nil)
			d, err := drawer.New(drawer.Wiring{Printer: f.Printer()}, &drawer.Opts{PrinterPin: 3})
			if err == nil {
				d.Halt()
			}
			return err
		},
		func(t *testing.T) map[string]error {
			f := drawertest.New(nil)
			d, err := drawer.New(drawer.Wiring{KickPin: f.KickPin(), SensePin: f.SensePin()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Halt(); err != nil {
				t.Fatal(err)
			}
			return map[string]error{"Kick": d.Kick(), "WaitClosed": d.WaitClosed(context.Background())}
		}},
	{"keypad",
		func(t *testing.T) error {
			_, err := keypad.New(keypadPort(t), &keypad.Opts{Map: keypad.Map{}})
			return err
		},
		func(t *testing.T) map[string]error {
			d, err := keypad.New(keypadPort(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Halt(); err != nil {
				t.Fatal(err)
			}
			return map[string]error{"Reattach": d.Reattach(keypadPort(t))}
		}},
}

func TestEveryKindRefusesOptionsWithErrInvalidOpts(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			err := k.invalid(t)
			if !errors.Is(err, drivers.ErrInvalidOpts) || !strings.HasPrefix(err.Error(), k.name+": ") {
				t.Fatalf("New with options it refuses = %v, want %s: ... wrapping drivers.ErrInvalidOpts", err, k.name)
			}
		})
	}
}

func TestEveryKindReportsErrHaltedAfterHalt(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for call, err := range k.halted(t) {
				if !errors.Is(err, drivers.ErrHalted) || !strings.HasPrefix(err.Error(), k.name+": ") {
					t.Errorf("%s after Halt = %v, want %s: ... wrapping drivers.ErrHalted", call, err, k.name)
				}
			}
		})
	}
}

func printerPort(t *testing.T) io.ReadWriter {
	port := printertest.New(nil).Port()
	t.Cleanup(func() { port.Close() })
	return port
}

func scannerPort(t *testing.T) io.Reader {
	_, port := scannertest.Pipe(scanner.SuffixCR)
	t.Cleanup(func() { port.Close() })
	return port
}

func keypadPort(t *testing.T) io.Reader {
	_, port := keypadtest.Pipe(evdev.Native, keypad.DefaultMap())
	t.Cleanup(func() { port.Close() })
	return port
}
