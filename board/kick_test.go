package board

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"tillbox/board/pty"
	"tillbox/drivers/drawer"
	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

// kickRig is a qemu-virt board with only its printer, a fake on a pty at 19200 baud so
// that a long receipt takes seconds on the line, and the drawer kicked and sensed through
// the printer.
type kickRig struct {
	s    *Set
	fake *printertest.Printer
	link *link
	pty  *pty.Pair
}

func newKickRig(t *testing.T) *kickRig {
	r := &kickRig{fake: printertest.New(&printertest.Options{Baud: 19200}), pty: openPty(t)}
	go r.fake.Serve(r.pty.Master)
	r.link = newLink(t, "printer", r.pty.SlavePath)
	p, err := Lookup("qemu-virt")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"printer": {"path": %q, "baud": 19200}, "scanner": null, "display": null, "keypad": null}`, r.link.path)
	if err := p.Override(overrides(t, cfg)); err != nil {
		t.Fatal(err)
	}
	if p.Drawer.Kick != KindPrinter || p.Drawer.Pin != 2 {
		t.Fatalf("qemu-virt drawer %+v, want kicked through the printer on pin 2", p.Drawer)
	}
	r.s = open(t, p, fastOptions(t))
	waitHealth(t, r.s, "printer", StateOK)
	waitFor(t, "drawer sensed closed", func() bool { return r.s.Drawer.Status().State == drawer.StateClosed })
	return r
}

// receipt has n item lines and a cut.
func receipt(n int) *printer.Doc {
	d := new(printer.Doc)
	for i := 1; i <= n; i++ {
		d.Add(printer.Columns(fmt.Sprintf("Item %03d", i), fmt.Sprintf("%d,%02d €", i, i%100)))
	}
	return d.Add(printer.Cut(false))
}

func TestPrinterKickedDrawerOpensWhileAReceiptPrints(t *testing.T) {
	r := newKickRig(t)
	const lines = 80 // about 2 s at 19200 baud
	type result struct {
		res printer.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := r.s.Printer.Print(printCtx(t), printer.Job{ID: "long", Doc: receipt(lines)})
		done <- result{res, err}
	}()
	if !r.fake.WaitFor(patience, func(it []printertest.Item) bool { return len(it) >= 5 }) {
		t.Fatal("the receipt did not start")
	}
	if err := r.s.Drawer.Kick(); err != nil {
		t.Fatal(err)
	}
	nextDrawer(t, r.s.Drawer, drawer.Opened)
	p := r.fake.Pulses()
	if len(p) != 1 || p[0].Pin != 2 {
		t.Fatalf("pulses %v, want one on pin 2", p)
	}
	if p[0].Printed >= lines+1 {
		t.Errorf("%v: the kick waited for the receipt's %d items", p[0], lines+1)
	}
	got := <-done
	if got.err != nil || !got.res.Done || len(got.res.InDoubt) != 0 {
		t.Fatalf("receipt: %+v %v", got.res, got.err)
	}
	if n := len(r.fake.Printed()); n != lines+1 {
		t.Errorf("printed %d items, want the receipt's %d", n, lines+1)
	}
}

func TestPrinterKickedDrawerWithThePrinterAwayFailsAndNeverOpensLater(t *testing.T) {
	tests := []struct {
		name       string
		lose, back func(*testing.T, *kickRig)
	}{
		{"unplugged",
			func(t *testing.T, r *kickRig) {
				r.link.point(filepath.Join(t.TempDir(), "gone"))
				r.pty.Close()
			},
			func(t *testing.T, r *kickRig) {
				np := openPty(t)
				go r.fake.Serve(np.Master)
				r.link.point(np.SlavePath)
			}},
		{"powered off",
			func(_ *testing.T, r *kickRig) { r.fake.Vanish() },
			func(_ *testing.T, r *kickRig) { r.fake.Return() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newKickRig(t)
			tt.lose(t, r)
			start := time.Now()
			err := r.s.Drawer.Kick()
			if !errors.Is(err, ErrOffline) || !errors.Is(err, printer.ErrOffline) {
				t.Fatalf("kick with the printer %s: %v, want ErrOffline", tt.name, err)
			}
			if took := time.Since(start); took > kickTimeout {
				t.Errorf("kick failed after %v, beyond its timeout %v", took, kickTimeout)
			}
			if st := r.s.Drawer.Status(); st.Kicks != 0 {
				t.Errorf("a failed kick counted: %+v", st)
			}

			tt.back(t, r)
			waitHealth(t, r.s, "printer", StateOK)
			// A receipt goes through after the printer is back: the line is clear, and the
			// refused kick did not wait in it.
			if _, err := r.s.Printer.Print(printCtx(t), printer.Job{ID: "after", Doc: receipt(3)}); err != nil {
				t.Fatal(err)
			}
			if p := r.fake.Pulses(); len(p) != 0 {
				t.Fatalf("the refused kick fired when the printer came back: %v", p)
			}
			// The drawer's sense reads through the printer: it is known again at the next
			// poll after the printer is back, not necessarily before this receipt ended.
			waitFor(t, "the drawer sensed closed after the printer came back", func() bool {
				return r.s.Drawer.Status().State == drawer.StateClosed
			})
			if err := r.s.Drawer.Kick(); err != nil {
				t.Fatal(err)
			}
			nextDrawer(t, r.s.Drawer, drawer.Opened)
		})
	}
}
