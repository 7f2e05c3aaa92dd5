package printer

import (
	"fmt"
	"slices"
	"strings"

	"tillbox/drivers/codepage"
)

// ESC/POS bytes used by the encoder and the device.
const (
	esc = 0x1b
	gs  = 0x1d
	dle = 0x10
	eot = 0x04
	lf  = 0x0a
)

// Profile describes one printer model: what it prints and which status it answers. The
// board picks a profile per printer; nothing in it is discovered at run time, because
// cheap clones misreport what they support.
type Profile struct {
	// Name names the profile in logs and errors.
	Name string `json:"name"`
	// CodePages lists the code pages the printer has, preferred first. Text is printed in
	// the first page that has its letters, switching pages within a line where needed
	// (a Polish word followed by a euro amount needs CP852 then CP858).
	CodePages []string `json:"code_pages"`
	// Columns is the line width in characters of font A; ColumnsB of font B.
	// 80 mm paper: 48 and 64; 58 mm paper: 32 and 42.
	Columns  int `json:"columns"`
	ColumnsB int `json:"columns_b"`
	// RealTimeStatus: the printer answers DLE EOT 1-4 at once, even while paused. Without
	// it the driver cannot tell paper out from a dead cable.
	RealTimeStatus bool `json:"realtime_status"`
	// AutoStatus: the printer sends automatic status back (GS a) on every change.
	AutoStatus bool `json:"auto_status"`
	// InOrderStatus: the printer answers GS r 1 after it has processed every byte sent
	// before it. The driver uses that answer to confirm that a chunk printed; without it a
	// chunk counts as printed once written (see the package doc).
	InOrderStatus bool `json:"inorder_status"`
	// DrawerPins are the kick-out pins wired to a drawer (2, 5, or both).
	DrawerPins []int `json:"drawer_pins"`
	// DrawerOpenHigh: the drawer sense switch (connector pin 3) reads high when the
	// drawer is open. Drawers differ; the board profile sets it.
	DrawerOpenHigh bool `json:"drawer_open_high"`
	// CutFeed is the number of lines fed before a cut so that the last line clears the
	// cutter.
	CutFeed int `json:"cut_feed"`
}

// DefaultProfile is an Epson TM-T20-class 80 mm printer on a serial or USB line.
var DefaultProfile = Profile{
	Name:           "epson-80mm",
	CodePages:      []string{"cp858", "cp852", "cp857", "cp437"},
	Columns:        48,
	ColumnsB:       64,
	RealTimeStatus: true,
	AutoStatus:     true,
	InOrderStatus:  true,
	DrawerPins:     []int{2, 5},
	DrawerOpenHigh: true,
	CutFeed:        3,
}

// WriteOnlyProfile is a printer reached by a one-way path (a USB printer class file that
// does not read back, a TCP 9100 box that never answers): jobs print, status is unknown.
var WriteOnlyProfile = Profile{
	Name:       "write-only-80mm",
	CodePages:  []string{"cp858", "cp852", "cp857"},
	Columns:    48,
	ColumnsB:   64,
	DrawerPins: []int{2},
	CutFeed:    3,
}

func (p *Profile) validate() ([]*codepage.Page, error) {
	if len(p.CodePages) == 0 {
		return nil, fmt.Errorf("printer: profile %q: %w: no code pages", p.Name, ErrInvalidOpts)
	}
	pages := make([]*codepage.Page, len(p.CodePages))
	for i, n := range p.CodePages {
		pg, err := codepage.Lookup(n)
		if err != nil {
			return nil, fmt.Errorf("printer: profile %q: %w: %w", p.Name, ErrInvalidOpts, err)
		}
		pages[i] = pg
	}
	if p.Columns < 8 || p.Columns > 255 || p.ColumnsB < 8 || p.ColumnsB > 255 {
		return nil, fmt.Errorf("printer: profile %q: %w: columns %d/%d (8-255)", p.Name, ErrInvalidOpts, p.Columns, p.ColumnsB)
	}
	for _, pin := range p.DrawerPins {
		if pin != 2 && pin != 5 {
			return nil, fmt.Errorf("printer: profile %q: %w: drawer pin %d (2 or 5)", p.Name, ErrInvalidOpts, pin)
		}
	}
	if p.CutFeed < 0 || p.CutFeed > 255 {
		return nil, fmt.Errorf("printer: profile %q: %w: cut feed %d", p.Name, ErrInvalidOpts, p.CutFeed)
	}
	return pages, nil
}

// Chunk is the unit of printing and of progress: the bytes of one printed line, one
// barcode, one QR code, one feed, one cut or one kick. A chunk either has been printed or
// has not; a job resumes at a chunk boundary.
type Chunk struct {
	// Item is the index of the Doc item the chunk comes from.
	Item int
	// Data is the chunk's bytes, mode changes included. Data assumes the printer is in the
	// modes Pre describes; Resume gives the bytes that put it there after ESC @.
	Data []byte
	pre  mode
}

// Rendered is a document encoded for one profile.
type Rendered struct {
	Chunks []Chunk
	// Missing lists runes that no code page of the profile has, each once; they printed
	// as their transliteration or '?'.
	Missing []rune
}

// Bytes returns the whole job as one stream: ESC @, then every chunk. It is what a
// write-only printer receives and what the golden test pins.
func (r *Rendered) Bytes() []byte {
	b := []byte{esc, '@'}
	for _, c := range r.Chunks {
		b = append(b, c.Data...)
	}
	return b
}

// Resume returns the bytes that put a freshly initialised printer (after ESC @) into the
// modes chunk i expects, so that printing can start at chunk i.
func (r *Rendered) Resume(i int) []byte {
	return transition(nil, resetMode, r.Chunks[i].pre)
}

// mode is the printer state the encoder tracks across chunks.
type mode struct {
	page  int // ESC t n, -1 when unknown (after ESC @ the printer's default page is unknown)
	align byte
	bold  bool
	ul    bool
	size  byte // GS ! n
	fontB bool
}

var resetMode = mode{page: -1}

func transition(b []byte, from, to mode) []byte {
	if to.page >= 0 && to.page != from.page {
		b = append(b, esc, 't', byte(to.page))
	}
	if to.align != from.align {
		b = append(b, esc, 'a', to.align)
	}
	if to.bold != from.bold {
		b = append(b, esc, 'E', bit(to.bold))
	}
	if to.ul != from.ul {
		b = append(b, esc, '-', bit(to.ul))
	}
	if to.size != from.size {
		b = append(b, gs, '!', to.size)
	}
	if to.fontB != from.fontB {
		b = append(b, esc, 'M', bit(to.fontB))
	}
	return b
}

func bit(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// Render encodes d for profile p. It is pure: the same document and profile give the same
// bytes, which is what lets a job resume, and a reprint look the same, years later.
func Render(d *Doc, p *Profile) (*Rendered, error) {
	pages, err := p.validate()
	if err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	e := &encoder{p: p, pages: pages, cur: resetMode, r: &Rendered{}}
	for i, it := range d.Items {
		if err := e.item(i, it); err != nil {
			return nil, fmt.Errorf("printer: render item %d (%s): %w", i, it.Kind, err)
		}
	}
	return e.r, nil
}

type encoder struct {
	p     *Profile
	pages []*codepage.Page
	cur   mode
	r     *Rendered
}

// chunk starts a chunk in mode want and returns its bytes so far.
func (e *encoder) start(want mode) (pre mode, b []byte) {
	pre = e.cur
	if want.page < 0 {
		want.page = e.cur.page
	}
	b = transition(nil, e.cur, want)
	e.cur = want
	return pre, b
}

func (e *encoder) emit(item int, pre mode, b []byte) {
	e.r.Chunks = append(e.r.Chunks, Chunk{Item: item, Data: b, pre: pre})
}

func alignByte(a Align, def Align) byte {
	if a == "" {
		a = def
	}
	switch a {
	case Center:
		return 1
	case Right:
		return 2
	}
	return 0
}

func (e *encoder) item(i int, it Item) error {
	switch it.Kind {
	case KindText, KindColumns:
		m := e.cur
		m.align = alignByte(it.Align, Left)
		if it.Kind == KindColumns {
			m.align = 0
		}
		m.bold, m.ul, m.fontB = it.Style.Bold, it.Style.Underline, it.Style.Small
		m.size = 0
		if it.Style.DoubleWidth {
			m.size |= 0x10
		}
		if it.Style.DoubleHeight {
			m.size |= 0x01
		}
		cols := e.p.Columns
		if it.Style.Small {
			cols = e.p.ColumnsB
		}
		if it.Style.DoubleWidth {
			cols /= 2
		}
		var lines [][]rune
		if it.Kind == KindText {
			lines = wrap([]rune(it.Text), cols, e.width)
		} else {
			lines = [][]rune{e.columns([]rune(it.Text), []rune(it.Right), cols)}
		}
		for _, ln := range lines {
			pre, b := e.start(m)
			b = e.text(b, ln)
			b = append(b, lf)
			e.emit(i, pre, b)
		}
	case KindBarcode:
		m := e.cur
		m.align = alignByte(it.Align, Center)
		pre, b := e.start(m)
		// Height 80 dots, module width 2, human-readable digits below.
		b = append(b, gs, 'h', 80, gs, 'w', 2, gs, 'H', 2)
		switch it.Symbology {
		case EAN13Code:
			digits, _ := ean13Digits(it.Text)
			b = append(b, gs, 'k', 67, 12)
			b = append(b, digits...)
		case Code128Code:
			data := "{B" + strings.ReplaceAll(it.Text, "{", "{{")
			if len(data) > 255 {
				return fmt.Errorf("%w: Code 128 data too long after escaping", ErrInvalidDoc)
			}
			b = append(b, gs, 'k', 73, byte(len(data)))
			b = append(b, data...)
		}
		e.emit(i, pre, b)
	case KindQR:
		m := e.cur
		m.align = alignByte(it.Align, Center)
		pre, b := e.start(m)
		size := it.Size
		if size == 0 {
			size = 6
		}
		b = append(b, gs, '(', 'k', 4, 0, '1', 'A', '2', 0) // model 2
		b = append(b, gs, '(', 'k', 3, 0, '1', 'C', byte(size))
		b = append(b, gs, '(', 'k', 3, 0, '1', 'E', '1') // error correction M
		n := len(it.Text) + 3
		b = append(b, gs, '(', 'k', byte(n), byte(n>>8), '1', 'P', '0')
		b = append(b, it.Text...)
		b = append(b, gs, '(', 'k', 3, 0, '1', 'Q', '0')
		e.emit(i, pre, b)
	case KindFeed:
		pre, b := e.start(e.cur)
		b = append(b, esc, 'd', byte(it.Lines))
		e.emit(i, pre, b)
	case KindCut:
		pre, b := e.start(e.cur)
		m := byte(65) // feed n lines, then full cut
		if it.Partial {
			m = 66
		}
		b = append(b, gs, 'V', m, byte(e.p.CutFeed))
		e.emit(i, pre, b)
	case KindKick:
		if !slices.Contains(e.p.DrawerPins, it.Pin) {
			return fmt.Errorf("%w: drawer pin %d is not wired on profile %q", ErrInvalidDoc, it.Pin, e.p.Name)
		}
		pre, b := e.start(e.cur)
		m := byte(0)
		if it.Pin == 5 {
			m = 1
		}
		// 50 ms on, 500 ms off (units of 2 ms): long enough for every solenoid we know.
		b = append(b, esc, 'p', m, 25, 250)
		e.emit(i, pre, b)
	}
	return nil
}

// width is the number of printed characters r takes: 1 when a page has it, else the
// length of its fallback.
func (e *encoder) width(r rune) int {
	for _, p := range e.pages {
		if p.Has(r) {
			return 1
		}
	}
	return len(e.pages[0].Fallback(r))
}

func (e *encoder) widthOf(rs []rune) int {
	n := 0
	for _, r := range rs {
		n += e.width(r)
	}
	return n
}

// columns lays out left and right on one line of cols characters.
func (e *encoder) columns(left, right []rune, cols int) []rune {
	for e.widthOf(right) > cols {
		right = right[:len(right)-1]
	}
	room := cols - e.widthOf(right) - 1
	if len(right) == 0 {
		room = cols
	}
	for len(left) > 0 && e.widthOf(left) > room {
		left = left[:len(left)-1]
	}
	pad := cols - e.widthOf(left) - e.widthOf(right)
	out := append([]rune{}, left...)
	for range pad {
		out = append(out, ' ')
	}
	return append(out, right...)
}

// text appends the bytes of one line, switching code pages where a rune needs it.
func (e *encoder) text(b []byte, rs []rune) []byte {
	if e.cur.page < 0 || !e.covers(e.cur.page, rs) {
		if p := e.bestPage(rs); p.ESCPOS != byte(e.cur.page) || e.cur.page < 0 {
			b = append(b, esc, 't', p.ESCPOS)
			e.cur.page = int(p.ESCPOS)
		}
	}
	for _, r := range rs {
		cur := e.page(e.cur.page)
		if c, ok := cur.Byte(r); ok {
			b = append(b, c)
			continue
		}
		switched := false
		for _, p := range e.pages {
			if c, ok := p.Byte(r); ok {
				b = append(b, esc, 't', p.ESCPOS, c)
				e.cur.page = int(p.ESCPOS)
				switched = true
				break
			}
		}
		if !switched {
			if !slices.Contains(e.r.Missing, r) {
				e.r.Missing = append(e.r.Missing, r)
			}
			b = append(b, cur.Fallback(r)...)
		}
	}
	return b
}

func (e *encoder) page(n int) *codepage.Page {
	for _, p := range e.pages {
		if int(p.ESCPOS) == n {
			return p
		}
	}
	return e.pages[0]
}

func (e *encoder) covers(n int, rs []rune) bool {
	p := e.page(n)
	if int(p.ESCPOS) != n {
		return false
	}
	for _, r := range rs {
		if !p.Has(r) && e.width(r) == 1 {
			return false
		}
	}
	return true
}

// bestPage is the profile page that prints most of rs, the earlier page on a tie, so
// that a line switches pages as rarely as possible.
func (e *encoder) bestPage(rs []rune) *codepage.Page {
	best, bestN := e.pages[0], -1
	for _, p := range e.pages {
		n := 0
		for _, r := range rs {
			if p.Has(r) {
				n++
			}
		}
		if n > bestN {
			best, bestN = p, n
		}
	}
	return best
}

// wrap breaks rs into lines of at most cols printed characters, at spaces where it can.
func wrap(rs []rune, cols int, width func(rune) int) [][]rune {
	var lines [][]rune
	for {
		w, cut, lastSpace := 0, len(rs), -1
		for i, r := range rs {
			if r == ' ' {
				lastSpace = i
			}
			w += width(r)
			if w > cols {
				cut = i
				if lastSpace > 0 {
					cut = lastSpace
				}
				break
			}
		}
		if cut == 0 { // a single character wider than the line
			cut = 1
		}
		lines = append(lines, rs[:cut])
		if cut == len(rs) {
			return lines
		}
		rs = rs[cut:]
		for len(rs) > 0 && rs[0] == ' ' {
			rs = rs[1:]
		}
		if len(rs) == 0 {
			return lines
		}
	}
}
