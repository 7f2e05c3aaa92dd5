package printer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

// waitPulses waits until the fake has fired n drawer pulses and returns them.
func waitPulses(t *testing.T, fake *printertest.Printer, n int) []printertest.Pulse {
	t.Helper()
	deadline := time.After(testWait)
	for {
		ch := fake.Changed()
		if p := fake.Pulses(); len(p) >= n {
			return p
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("pulses %v, want %d", fake.Pulses(), n)
		}
	}
}

func pulseCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return ctx
}

func TestPulseOvertakesAReceiptThatIsPrinting(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			// 19200 baud: the receipt takes about two seconds on the line.
			r := tr.open(t, &printertest.Options{Baud: 19200}, fastOpts())
			want, done := startLongJob(t, r.dev, r.fake, "long", 60, 5)
			if err := r.dev.PulseDrawer(pulseCtx(t), 2, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			p := waitPulses(t, r.fake, 1)
			if p[0].Pin != 2 || p[0].On != 100*time.Millisecond {
				t.Errorf("pulse %v, want pin 2 for 100ms", p[0])
			}
			if p[0].Printed >= len(want) {
				t.Errorf("%v: the pulse waited for the receipt's %d items", p[0], len(want))
			}
			waitStatus(t, r.dev, func(s printer.Status) bool { return s.DrawerOpen })
			got := <-done
			if got.err != nil {
				t.Fatalf("print: %v", got.err)
			}
			checkOnce(t, r.fake.Printed(), want, got.res)
		})
	}
}

func TestPulseFiresWhilePaused(t *testing.T) {
	tests := []struct {
		name          string
		pause, resume func(*printertest.Printer)
		paused        func(printer.Status) bool
	}{
		{"paper out", func(f *printertest.Printer) { f.RunOutAfter(5) }, (*printertest.Printer).Refill,
			func(s printer.Status) bool { return s.PaperOut }},
		{"cover open", func(f *printertest.Printer) { f.SetCover(true) }, func(f *printertest.Printer) { f.SetCover(false) },
			func(s printer.Status) bool { return s.CoverOpen }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, d := newInProcess(t, nil, fastOpts())
			doc := longReceipt(20)
			want := expected(t, doc, &printer.DefaultProfile)
			tt.pause(fake)
			done := printAsync(d, printer.Job{ID: "paused", Doc: doc})
			waitStatus(t, d, tt.paused)
			if err := d.PulseDrawer(pulseCtx(t), 5, 200*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if p := waitPulses(t, fake, 1); p[0].Pin != 5 || p[0].Printed >= len(want) {
				t.Errorf("pulse %v, want pin 5 before the receipt's %d items", p[0], len(want))
			}
			tt.resume(fake)
			got := <-done
			if got.err != nil {
				t.Fatalf("print: %v", got.err)
			}
			checkOnce(t, fake.Printed(), want, got.res)
		})
	}
}

func TestPulseToAnAbsentPrinterFailsAndNeverFiresLater(t *testing.T) {
	tests := []struct {
		name       string
		lose, back func(*rig)
	}{
		{"unplugged", func(r *rig) { r.unplug() }, func(r *rig) { r.replug() }},
		{"powered off", func(r *rig) { r.fake.Vanish() }, func(r *rig) { r.fake.Return() }},
	}
	for _, tt := range tests {
		for _, tr := range transports {
			t.Run(tt.name+"/"+tr.name, func(t *testing.T) {
				o := fastOpts()
				r := tr.open(t, &printertest.Options{Baud: 19200}, o)
				want, done := startLongJob(t, r.dev, r.fake, "lost", 40, 10)
				tt.lose(r)
				// Each of the pulse's waits is bounded by Timeout: it must give up
				// well before a deadline of ten of them.
				ctx, cancel := context.WithTimeout(context.Background(), 10*o.Timeout)
				defer cancel()
				err := r.dev.PulseDrawer(ctx, 2, 100*time.Millisecond)
				if !errors.Is(err, printer.ErrOffline) || ctx.Err() != nil {
					t.Fatalf("pulse to an absent printer: %v (context: %v), want ErrOffline before the deadline", err, ctx.Err())
				}
				if !strings.HasPrefix(err.Error(), "printer: pulse drawer pin 2: printer offline") {
					t.Errorf("error %q does not say what failed", err)
				}
				tt.back(r)
				got := <-done
				if got.err != nil {
					t.Fatalf("print: %v", got.err)
				}
				checkOnce(t, r.fake.Printed(), want, got.res)
				if p := r.fake.Pulses(); len(p) != 0 {
					t.Fatalf("a refused pulse fired later: %v", p)
				}
				if err := r.dev.PulseDrawer(pulseCtx(t), 2, 100*time.Millisecond); err != nil {
					t.Fatalf("pulse after the printer came back: %v", err)
				}
				waitPulses(t, r.fake, 1)
			})
		}
	}
}

func TestPulseIsRefusedWhileThePrinterReportsAnError(t *testing.T) {
	fake, d := newInProcess(t, nil, fastOpts())
	fake.SetError(true)
	waitStatus(t, d, func(s printer.Status) bool { return s.Error })
	if err := d.PulseDrawer(pulseCtx(t), 2, 100*time.Millisecond); !errors.Is(err, printer.ErrPaused) {
		t.Fatalf("pulse during an error: %v, want ErrPaused", err)
	}
	fake.SetError(false)
	waitStatus(t, d, func(s printer.Status) bool { return !s.Error })
	if err := d.PulseDrawer(pulseCtx(t), 2, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if p := waitPulses(t, fake, 1); len(p) != 1 {
		t.Errorf("pulses %v, want only the one sent after the error", p)
	}
}

func TestPulseTimeAndPin(t *testing.T) {
	tests := []struct {
		name    string
		profile printer.Profile
		fake    *printertest.Options
		pin     int
		on      time.Duration
		want    printertest.Pulse
		err     error
	}{
		{"100 ms on pin 2", printer.DefaultProfile, nil, 2, 100 * time.Millisecond, printertest.Pulse{Pin: 2, On: 100 * time.Millisecond}, nil},
		{"shortest is one unit", printer.DefaultProfile, nil, 5, 2 * time.Millisecond, printertest.Pulse{Pin: 5, On: 100 * time.Millisecond}, nil},
		{"rounded to the nearest unit", printer.DefaultProfile, nil, 2, 510 * time.Millisecond, printertest.Pulse{Pin: 2, On: 500 * time.Millisecond}, nil},
		{"longest is eight units", printer.DefaultProfile, nil, 2, 2 * time.Second, printertest.Pulse{Pin: 2, On: 800 * time.Millisecond}, nil},
		{"write-only printer", printer.WriteOnlyProfile, &printertest.Options{NoRealTime: true, NoInOrder: true}, 2, 100 * time.Millisecond,
			printertest.Pulse{Pin: 2, On: 100 * time.Millisecond}, nil},
		{"pin 3", printer.DefaultProfile, nil, 3, 100 * time.Millisecond, printertest.Pulse{}, printer.ErrInvalidOpts},
		{"pin the profile does not wire", printer.WriteOnlyProfile, &printertest.Options{NoRealTime: true, NoInOrder: true}, 5, 100 * time.Millisecond,
			printertest.Pulse{}, printer.ErrInvalidOpts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fastOpts()
			o.Profile = tt.profile
			fake, d := newInProcess(t, tt.fake, o)
			err := d.PulseDrawer(pulseCtx(t), tt.pin, tt.on)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				if p := fake.Pulses(); len(p) != 0 {
					t.Errorf("a refused pulse fired: %v", p)
				}
				return
			}
			if p := waitPulses(t, fake, 1); !slices.Equal(p, []printertest.Pulse{tt.want}) {
				t.Errorf("pulses %v, want %v", p, tt.want)
			}
		})
	}
}

// The printer ignores a pulse that arrives while the previous one is on or in its pause
// (as long again): the second waits for it.
func TestSecondPulseWaitsForThePause(t *testing.T) {
	fake, d := newInProcess(t, nil, fastOpts())
	const on = 200 * time.Millisecond
	if err := d.PulseDrawer(pulseCtx(t), 2, on); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.PulseDrawer(pulseCtx(t), 2, on); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 2*on-20*time.Millisecond {
		t.Errorf("second pulse sent after %v, before the first one's on and off times (%v)", waited, 2*on)
	}
	waitPulses(t, fake, 2)
}
