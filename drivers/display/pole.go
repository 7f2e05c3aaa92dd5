package display

import (
	"fmt"
	"io"

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
}

// DefaultOpts suits an Epson-mode 2x20 pole display with the power-on table PC437.
var DefaultOpts = Opts{Cols: 20, CodePage: "cp437", Marker: '.'}

// New returns a 2-line pole display on port (a serial line at the display's baud, a pty,
// or a fake) and initialises it: ESC @ (reset), US MD1 (overwrite mode, so writing the
// last cell never scrolls), US C 0 (cursor hidden), ESC t n (code page), US X n
// (brightness, when set), CLR. Pole displays do not answer, so port need only be a
// Writer; a write error at New is returned.
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
	}
	if o.Cols < 8 || o.Cols > 40 {
		return nil, fmt.Errorf("display: new: %d columns: %w", o.Cols, ErrBadOpts)
	}
	if o.Brightness < 0 || o.Brightness > 4 {
		return nil, fmt.Errorf("display: new: brightness %d outside 1..4: %w", o.Brightness, ErrBadOpts)
	}
	page, err := codepage.Lookup(o.CodePage)
	if err != nil {
		return nil, fmt.Errorf("display: new: %w: %w", ErrBadOpts, err)
	}
	p := &pole{w: port, page: page, cols: o.Cols}
	if c, ok := p.cells(o.Marker); !ok || len(c) != 1 {
		return nil, fmt.Errorf("display: new: marker %q is not one cell on %s: %w", o.Marker, page, ErrBadOpts)
	}
	init := []byte{esc, '@', us, 0x01, us, 'C', 0, esc, 't', page.ESCPOS}
	if o.Brightness > 0 {
		init = append(init, us, 'X', byte(o.Brightness))
	}
	init = append(init, ff)
	if _, err := port.Write(init); err != nil {
		return nil, fmt.Errorf("display: new: init: %w", err)
	}
	return newDev(fmt.Sprintf("pole display %dx2 %s", o.Cols, page), o.Cols, 2, o.Marker, p), nil
}

type pole struct {
	w    io.Writer
	page *codepage.Page
	cols int
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
	_, err := p.w.Write(frame)
	return missing, err
}

func (p *pole) clear() error {
	_, err := p.w.Write([]byte{ff})
	return err
}

func (p *pole) halt() error { return p.clear() }
