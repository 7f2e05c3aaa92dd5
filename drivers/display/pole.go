package display

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"tillbox/drivers/codepage"
)

// Epson customer display command set (DM-D series "ESC/POS customer display commands";
// the same codes are the "Epson mode" of most 2x20 pole displays).
const (
	ff  = 0x0c // CLR: clear the screen, cursor home
	esc = 0x1b
	us  = 0x1f
)

// Opts configures a pole display. Zero values take the DefaultOpts value.
type Opts struct {
	// Cols is the width of each of the two lines; Epson-mode pole displays are 20.
	Cols int
	// CodePage names the display's character table, selected with ESC t n: "cp437",
	// "cp852" (Polish), "cp857" (Turkish), "cp858" (Western European with €). The display
	// must have it; see drivers/codepage.
	CodePage string
	// Marker ends an item name that was cut. It must show as one cell on the code page.
	Marker rune
	// Brightness is 1 (dimmest) to 4, sent with US X n; 0 leaves the display's setting.
	Brightness int
	// WriteTimeout bounds every write to port. A write that has not returned by then (a
	// USB-serial adapter that stopped draining, a line held by flow control) fails with
	// ErrTimeout and the Dev goes Offline. A 2x40 frame takes under 100 ms at 9600 baud.
	WriteTimeout time.Duration
}

// DefaultOpts suits an Epson-mode 2x20 pole display with the power-on table PC437.
var DefaultOpts = Opts{Cols: 20, CodePage: "cp437", Marker: '.', WriteTimeout: time.Second}

// New returns a 2-line pole display on port (a serial line at the display's baud, a pty,
// or a fake) and initialises it: ESC @ (reset), US MD1 (overwrite mode, so writing the
// last cell never scrolls), US C 0 (cursor hidden), ESC t n (code page), US X n
// (brightness, when set), CLR. Pole displays do not answer, so port need only be a
// Writer. New fails only for options it refuses or a nil port: a display that does not
// take the initialisation (a write error or timeout) gives a Dev that is Offline, with
// the cause in Status().Err, until Reattach.
func New(port io.Writer, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
		if o.Cols == 0 {
			o.Cols = DefaultOpts.Cols
		}
		if o.CodePage == "" {
			o.CodePage = DefaultOpts.CodePage
		}
		if o.Marker == 0 {
			o.Marker = DefaultOpts.Marker
		}
		if o.WriteTimeout == 0 {
			o.WriteTimeout = DefaultOpts.WriteTimeout
		}
	}
	if o.Cols < 8 || o.Cols > 40 {
		return nil, fmt.Errorf("display: new: %d columns: %w", o.Cols, ErrInvalidOpts)
	}
	if o.Brightness < 0 || o.Brightness > 4 {
		return nil, fmt.Errorf("display: new: brightness %d outside 1..4: %w", o.Brightness, ErrInvalidOpts)
	}
	if o.WriteTimeout < 0 {
		return nil, fmt.Errorf("display: new: write timeout %v: %w", o.WriteTimeout, ErrInvalidOpts)
	}
	page, err := codepage.Lookup(o.CodePage)
	if err != nil {
		return nil, fmt.Errorf("display: new: %w: %w", ErrInvalidOpts, err)
	}
	if port == nil {
		return nil, fmt.Errorf("display: new: %w", ErrBadPort)
	}
	p := &pole{w: port, page: page, cols: o.Cols, timeout: o.WriteTimeout}
	if c, ok := p.cells(o.Marker); !ok || len(c) != 1 {
		return nil, fmt.Errorf("display: new: marker %q is not one cell on %s: %w", o.Marker, page, ErrInvalidOpts)
	}
	p.initSeq = []byte{esc, '@', us, 0x01, us, 'C', 0, esc, 't', page.ESCPOS}
	if o.Brightness > 0 {
		p.initSeq = append(p.initSeq, us, 'X', byte(o.Brightness))
	}
	p.initSeq = append(p.initSeq, ff)
	return newDev(fmt.Sprintf("pole display %dx2 %s", o.Cols, page), o.Cols, 2, o.Marker, p), nil
}

// Reattach gives a pole display its port back after it went Offline (a USB-serial
// adapter plugged in again, a tty reopened), or a new one. A display that was unplugged
// may have lost power and with it its code page and modes, so Reattach initialises it
// as New does and then writes the current layout (Status().Shown) again: the customer
// sees the current line without the caller showing it. It returns the first write's
// failure, and the Dev stays Offline then; on success the Dev is Online. Reattach
// returns ErrBadPort on an LCD Dev, ErrHalted after Halt.
func (d *Dev) Reattach(port io.Writer) error {
	p, ok := d.term.(*pole)
	if !ok || port == nil {
		return fmt.Errorf("display: reattach: %w", ErrBadPort)
	}
	return d.reattach(func() { p.w = port })
}

type pole struct {
	w       io.Writer
	page    *codepage.Page
	cols    int
	timeout time.Duration
	initSeq []byte
	stuck   atomic.Int32 // writes under way, including those given up on
}

func (p *pole) init() error { return p.write(p.initSeq) }

// maxStuckWrites bounds the writes left behind in ports that stopped taking bytes. A
// display that stays stalled for a weekend, re-attached on every retry, would otherwise
// leave a blocked goroutine per retry.
const maxStuckWrites = 4

// write writes b in a goroutine of its own and waits for it at most p.timeout, so that a
// port that never returns from Write costs the caller the timeout, never a hang. The
// goroutine of a stalled write lingers until the port's Write returns (an unplugged tty
// is hung up; the board closes a port it gives up on); the Dev is Offline by then and
// does not write to that port again. While maxStuckWrites of them linger, write fails at
// once with ErrTimeout rather than leave another.
func (p *pole) write(b []byte) error {
	if n := p.stuck.Load(); n >= maxStuckWrites {
		return fmt.Errorf("write: %d earlier writes have not returned: %w", n, ErrTimeout)
	}
	done := make(chan error, 1)
	p.stuck.Add(1)
	go func(w io.Writer) {
		_, err := w.Write(b)
		p.stuck.Add(-1)
		done <- err
	}(p.w)
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("write: not taken within %v: %w", p.timeout, ErrTimeout)
	}
}

func (p *pole) cells(r rune) ([]rune, bool) {
	if p.page.Has(r) {
		return []rune{r}, true
	}
	fb := p.page.Fallback(r)
	out := make([]rune, len(fb))
	for i, b := range fb {
		out[i] = p.page.Rune(b)
	}
	return out, false
}

// draw writes the whole frame in one Write so a reader of the line never sees half of it.
// Each row is addressed with US $ 1 y and written over in full.
func (p *pole) draw(rows [][]rune) ([]rune, error) {
	frame := make([]byte, 0, len(rows)*(4+p.cols))
	var missing []rune
	for y, row := range rows {
		frame = append(frame, us, '$', 1, byte(y+1))
		for _, r := range row {
			b, ok := p.page.Byte(r)
			if !ok {
				missing = addRune(missing, r)
				b = '?'
			}
			frame = append(frame, b)
		}
	}
	return missing, p.write(frame)
}

func (p *pole) clear() error { return p.write([]byte{ff}) }

func (p *pole) halt() error { return p.clear() }
