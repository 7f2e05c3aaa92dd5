package board

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/board/pty"
	"tillbox/drivers"
	"tillbox/drivers/display"
	"tillbox/drivers/display/displaytest"
	"tillbox/drivers/drawer"
	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
	"tillbox/drivers/scanner"
	"tillbox/drivers/scanner/scannertest"
)

// openPty opens a pty pair and closes its master at the end of the test.
func openPty(t *testing.T) *pty.Pair {
	t.Helper()
	p, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// link is a stable device name, as udev gives one (/dev/serial/by-id/...): the board opens
// the link, and a test repoints it at another pty, as a replugged adapter gets a new
// ttyUSBn behind the same name.
type link struct {
	t    *testing.T
	path string
}

func newLink(t *testing.T, name, target string) *link {
	l := &link{t: t, path: filepath.Join(t.TempDir(), name)}
	l.point(target)
	return l
}

// point moves the link atomically, so the supervisor never sees it missing half-way.
func (l *link) point(target string) {
	l.t.Helper()
	tmp := l.path + ".new"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		l.t.Fatal(err)
	}
}

// serialRig is a qemu-virt board whose serial devices are fakes on pty pairs, opened by
// the board through go.bug.st/serial at the profile's baud rates.
type serialRig struct {
	s                *Set
	printer          *printertest.Printer
	pole             *displaytest.Pole
	printerLink      *link
	scannerLink      *link
	printerPty       *pty.Pair
	scannerPty       *pty.Pair
	scannerFake      *scannertest.Serial
	keypadMissingErr string
}

func newSerialRig(t *testing.T) *serialRig {
	r := &serialRig{printer: printertest.New(&printertest.Options{Baud: 115200}), pole: displaytest.NewPole(20)}
	r.printerPty, r.scannerPty = openPty(t), openPty(t)
	displayPty := openPty(t)
	go r.printer.Serve(r.printerPty.Master)
	go r.pole.Serve(displayPty.Master)
	r.scannerFake = scannertest.NewSerial(r.scannerPty.Master, scanner.SuffixCR)
	r.printerLink = newLink(t, "printer", r.printerPty.SlavePath)
	r.scannerLink = newLink(t, "scanner", r.scannerPty.SlavePath)

	p, err := Lookup("qemu-virt")
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "event0")
	cfg := fmt.Sprintf(`{"printer": {"path": %q}, "scanner": {"path": %q}, "display": {"path": %q}, "keypad": {"path": %q}}`,
		r.printerLink.path, r.scannerLink.path, displayPty.SlavePath, missing)
	if err := p.Override(overrides(t, cfg)); err != nil {
		t.Fatal(err)
	}
	r.s = open(t, p, fastOptions(t))
	return r
}

func (r *serialRig) print(t *testing.T, id, text string) {
	t.Helper()
	doc := new(printer.Doc).Add(printer.Text(text))
	if _, err := r.s.Printer.Print(printCtx(t), printer.Job{ID: id, Doc: doc}); err != nil {
		t.Fatal(err)
	}
	if !r.printer.WaitFor(patience, func(items []printertest.Item) bool {
		return strings.Contains(printertest.Text(items), text)
	}) {
		t.Fatalf("%q never printed:\n%s", text, r.printer.Text())
	}
}

func (r *serialRig) scan(t *testing.T, fake *scannertest.Serial) {
	t.Helper()
	if err := fake.Scan("5901234123457"); err != nil {
		t.Fatal(err)
	}
	if sc := nextScan(t, r.s.Scanner); !sc.Good() || sc.GTIN != "5901234123457" {
		t.Fatalf("scan = %v", sc)
	}
}

func TestSerialDevicesWorkOverPtys(t *testing.T) {
	r := newSerialRig(t)
	s := r.s
	for _, name := range []string{"printer", "scanner", "display"} {
		waitHealth(t, s, name, StateOK)
	}
	r.scan(t, r.scannerFake)
	r.print(t, "pty-1", "Zażółć gęślą jaźń")

	if err := s.Display.Show(display.Layout{Top: display.Line{Left: "Brot", Right: "2,50 €"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.pole.WaitFor(waitCtx(t), "Brot          2,50 €", strings.Repeat(" ", 20)); err != nil {
		t.Fatal(err)
	}

	// The drawer on this board is kicked and sensed through the printer on the same pty.
	waitFor(t, "drawer sensed", func() bool { return s.Drawer.Status().State == drawer.StateClosed })
	if err := s.Drawer.Kick(); err != nil {
		t.Fatal(err)
	}
	nextDrawer(t, s.Drawer, drawer.Opened)
	waitHealth(t, s, "drawer", StateDrawerOpen)
	r.printer.SetDrawer(false)
	nextDrawer(t, s.Drawer, drawer.Closed)

	// The keypad's device file does not exist: the till runs without it, and says why.
	h := health(t, s, "keypad")
	if h.State != StateOffline || !strings.Contains(h.Detail, "no such file") {
		t.Errorf("keypad health %+v", h)
	}
}

func TestSerialUnplugGoesOfflineAndReplugReattaches(t *testing.T) {
	r := newSerialRig(t)
	s := r.s
	waitHealth(t, s, "printer", StateOK)
	waitHealth(t, s, "scanner", StateOK)
	r.print(t, "before", "before unplug")
	r.scan(t, r.scannerFake)
	attaches := s.lines["printer"].attaches()

	// Unplug: udev removes the stable name, the adapter's tty goes away.
	gone := filepath.Join(t.TempDir(), "gone")
	r.printerLink.point(gone)
	r.scannerLink.point(gone)
	r.printerPty.Close()
	r.scannerFake.Close()
	h := waitHealth(t, s, "printer", StateOffline)
	if h.Detail == "" {
		t.Errorf("printer offline without a reason: %+v", h)
	}
	h = waitHealth(t, s, "scanner", StateOffline)
	if !strings.Contains(h.Detail, "scanner") && !strings.Contains(h.Detail, "closed") {
		t.Errorf("scanner offline reason %q names neither the device nor the failure", h.Detail)
	}
	waitHealth(t, s, "drawer", StateOffline) // kicked through the printer

	// Replug: new ptys behind the same names. The supervisors reopen them and the drivers
	// carry on with their Events channels and counters.
	np, ns := openPty(t), openPty(t)
	go r.printer.Serve(np.Master)
	newScanner := scannertest.NewSerial(ns.Master, scanner.SuffixCR)
	r.printerLink.point(np.SlavePath)
	r.scannerLink.point(ns.SlavePath)
	waitHealth(t, s, "printer", StateOK)
	waitHealth(t, s, "scanner", StateOK)
	// Health counts a port being handed to the driver as open, so it can read OK before
	// the supervisor has counted the attach.
	waitFor(t, "the printer's port reattached", func() bool { return s.lines["printer"].attaches() > attaches })
	r.print(t, "after", "after replug")
	r.scan(t, newScanner)
	if st := s.Scanner.Status(); st.Scans != 2 {
		t.Errorf("scanner counters lost across reattach: %+v", st)
	}
}

func TestMissingDevicesAtOpenDoNotStopTheTill(t *testing.T) {
	dir := t.TempDir()
	p, _ := Lookup("qemu-virt")
	notAnEventDevice := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notAnEventDevice, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"printer": {"path": %q}, "scanner": {"path": %q}, "display": {"path": %q}, "keypad": {"path": %q}}`,
		filepath.Join(dir, "ttyS0"), filepath.Join(dir, "ttyS1"), filepath.Join(dir, "ttyS2"), notAnEventDevice)
	if err := p.Override(overrides(t, cfg)); err != nil {
		t.Fatal(err)
	}
	s := open(t, p, fastOptions(t))
	if s.Printer == nil || s.Scanner == nil || s.Keypad == nil || s.Display == nil || s.Drawer == nil {
		t.Fatalf("a missing device is nil; the firmware needs its Events from the start: %+v", s)
	}
	want := map[string]string{
		"printer": "ttyS0",
		"scanner": "ttyS1",
		"display": "ttyS2",
		"keypad":  "EVIOCGRAB", // opened, but not an input device: the grab fails
		"drawer":  "printer",
	}
	for _, h := range s.Health() {
		if h.State != StateOffline || !strings.Contains(h.Detail, want[h.Name]) {
			t.Errorf("%s: %+v, want offline mentioning %q", h.Name, h, want[h.Name])
		}
	}
	// The devices exist and fail softly.
	if err := s.Display.Show(display.Layout{Top: display.Line{Left: "x"}}); err == nil {
		t.Error("Show on a missing display succeeded")
	}
	waitFor(t, "the scanner driver offline", func() bool { return s.Scanner.Status().State == drivers.Offline })
	if err := s.Drawer.Kick(); !errors.Is(err, ErrOffline) {
		t.Errorf("kick through a missing printer = %v, want ErrOffline at once", err)
	}
}

func TestTCPPrinterIsDialledAndRedialledAfterTheConnectionDrops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	fake := printertest.New(nil)
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go fake.Serve(c)
		}
	}()
	p, _ := Lookup("qemu-virt")
	cfg := fmt.Sprintf(`{"printer": {"kind": "tcp", "address": %q}, "scanner": null, "display": null, "keypad": null}`, ln.Addr())
	if err := p.Override(overrides(t, cfg)); err != nil {
		t.Fatal(err)
	}
	s := open(t, p, fastOptions(t))
	waitHealth(t, s, "printer", StateOK)
	doc := new(printer.Doc).Add(printer.Text("over tcp"))
	if _, err := s.Printer.Print(printCtx(t), printer.Job{ID: "tcp-1", Doc: doc}); err != nil {
		t.Fatal(err)
	}
	first := <-conns
	t.Cleanup(func() { first.Close() })
	// The printer reboots: its end of the connection closes. The board dials again.
	first.Close()
	waitFor(t, "a second connection", func() bool { return len(conns) > 0 })
	second := <-conns
	t.Cleanup(func() { second.Close() })
	waitHealth(t, s, "printer", StateOK)
	doc = new(printer.Doc).Add(printer.Text("over tcp again"))
	if _, err := s.Printer.Print(printCtx(t), printer.Job{ID: "tcp-2", Doc: doc}); err != nil {
		t.Fatal(err)
	}
	if text := fake.Text(); !strings.Contains(text, "over tcp again") {
		t.Fatalf("printout:\n%s", text)
	}
}
