package board

import (
	"context"
	"errors"
	"io"
	"sync"

	"tillbox/drivers/display/displaytest"
	"tillbox/drivers/drawer/drawertest"
	"tillbox/drivers/keypad/keypadtest"
	"tillbox/drivers/printer/printertest"
	"tillbox/drivers/scanner/scannertest"
)

// Sim holds the fakes behind the devices of a sim board, for `make run` and for tests
// that play the customer and the cashier. A field is nil when the profile does not put a
// fake there (a sim board whose drawer is overridden to kick through the printer has no
// drawertest.Drawer: the printer fake's own drawer switch answers, and opens on the
// real-time pulse the board kicks with, which Printer.Pulses records).
//
// Each fake reaches its driver the way the hardware would: the printer driver talks
// ESC/POS to Printer over an in-process cable, the scanner driver reads the bytes Scanner
// sends, the keypad driver reads the input_event records Keypad writes, and the drawer
// driver drives Drawer's GPIO kick line and reads its sense line, and the display driver
// writes Epson display commands that Display decodes into its screen. The cables are the
// board's, so the supervisor treats them as it treats real ports: Printer.Unplug, or
// closing Scanner or Keypad, unplugs the device, and the board plugs a new cable in after
// its retry delay, as a technician would.
type Sim struct {
	Printer *printertest.Printer
	Scanner *scannertest.Serial
	Keypad  *keypadtest.Fake
	Drawer  *drawertest.Drawer
	Display *displaytest.Pole
}

// simCable is the cable between a fake that writes (a scanner, a keyboard) and its
// driver: an in-process pipe, replaced by a new one each time the board reopens the
// device. While no cable is plugged in, the fake's writes fail as they would into a
// pulled connector, instead of blocking.
type simCable struct {
	mu sync.Mutex
	w  *io.PipeWriter
}

var errUnplugged = errors.New("sim: cable unplugged")

// Write is the fake's side. It blocks until the driver has read the bytes, as a pipe
// does; the lock is not held meanwhile, so Close can always unplug.
func (c *simCable) Write(b []byte) (int, error) {
	c.mu.Lock()
	w := c.w
	c.mu.Unlock()
	if w == nil {
		return 0, errUnplugged
	}
	return w.Write(b)
}

// Close is the fake unplugging itself: the driver reads EOF.
func (c *simCable) Close() error {
	c.mu.Lock()
	w := c.w
	c.w = nil
	c.mu.Unlock()
	if w != nil {
		w.Close()
	}
	return nil
}

// plug connects a new cable and returns the driver's end.
func (c *simCable) plug(context.Context) (io.ReadWriteCloser, error) {
	r, w := io.Pipe()
	c.mu.Lock()
	old := c.w
	c.w = w
	c.mu.Unlock()
	if old != nil {
		old.CloseWithError(errUnplugged)
	}
	return &simEnd{r: r, cable: c, w: w}, nil
}

// simEnd is the driver's end of a simCable. Closing it (the board letting go of the port)
// also unplugs the fake's end, so the fake does not block writing into a cable nobody
// reads.
type simEnd struct {
	r     *io.PipeReader
	w     *io.PipeWriter
	cable *simCable
}

func (e *simEnd) Read(b []byte) (int, error) { return e.r.Read(b) }
func (e *simEnd) Write([]byte) (int, error)  { return 0, errors.New("sim: read-only device") }
func (e *simEnd) Close() error {
	e.cable.mu.Lock()
	if e.cable.w == e.w {
		e.cable.w = nil
	}
	e.cable.mu.Unlock()
	e.w.CloseWithError(errUnplugged)
	return e.r.Close()
}
