package displaytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"tillbox/drivers/codepage"
)

// ErrUnplugged is what Write returns while the display is unplugged, as a write to the
// tty of a USB-serial adapter that was pulled fails (EIO).
var ErrUnplugged = errors.New("displaytest: display unplugged")

// Pole is a fake Epson-mode pole display: it decodes the customer display command set
// into its grid of characters, using the code page last selected with ESC t n. Bytes
// reach it through Write (in-process) or Serve (the master side of a pty). It is safe for
// concurrent use.
//
// Like a USB-powered pole display, it can be unplugged (Unplug: dark, every write fails)
// and plugged in again (Plug: powered on blank, on PC437, with the cursor on, having
// forgotten what the till set up), and its line can stop draining (Stall: writes block).
type Pole struct {
	cols, rows int

	mu         sync.Mutex
	plugged    bool
	gen        int // counts power-ons, so an old Serve cannot unplug a new cable
	stalled    bool
	unstall    chan struct{} // closed when a stall ends
	grid       [][]rune
	x, y       int
	page       *codepage.Page
	mode       byte // 1 overwrite, 2 vertical scroll, 3 horizontal scroll (US MD1..3)
	cursor     bool
	brightness int
	pending    []byte
	history    [][]string
	unknown    []string
	changed    chan struct{}
}

// NewPole returns a plugged-in, powered-on pole display of cols x 2 cells, blank, on
// PC437.
func NewPole(cols int) *Pole {
	p := &Pole{cols: cols, rows: 2, plugged: true, changed: make(chan struct{})}
	p.reset()
	return p
}

// Plug plugs the display in. An unplugged display powers on as NewPole's does: blank, on
// PC437, cursor on, overwrite mode. A display already plugged in is left as it is (a
// stalled one stays stalled).
func (p *Pole) Plug() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plug()
}

func (p *Pole) plug() int {
	if !p.plugged {
		p.plugged = true
		p.gen++
		p.reset()
	}
	return p.gen
}

// Unplug pulls the cable, and the display, powered through it, goes dark: Lines reads
// blank, a write blocked by Stall and every later one fail with ErrUnplugged, and Serve
// returns after its current read.
func (p *Pole) Unplug() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unplug()
}

func (p *Pole) unplug() {
	if !p.plugged {
		return
	}
	p.plugged = false
	p.endStall()
	for i := range p.grid {
		p.grid[i] = blankRow(p.cols)
	}
	p.pending = nil
	p.snapshot()
}

// Stall makes the display stop taking bytes, as a USB-serial adapter that stopped
// draining does: Write blocks and Serve stops reading (so the pty's buffer fills and the
// driver's writes block in the kernel). Only Unplug ends a stall.
func (p *Pole) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.plugged && !p.stalled {
		p.stalled = true
		p.unstall = make(chan struct{})
	}
}

func (p *Pole) endStall() {
	if p.stalled {
		p.stalled = false
		close(p.unstall)
	}
}

// waitDraining blocks while the display is stalled, then says whether the power-on gen
// is still plugged in. p.mu is held, and released while blocked.
func (p *Pole) waitDraining(gen int) bool {
	for p.stalled {
		ch := p.unstall
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
	}
	return p.plugged && p.gen == gen
}

func (p *Pole) reset() {
	p.grid = make([][]rune, p.rows)
	for i := range p.grid {
		p.grid[i] = blankRow(p.cols)
	}
	p.x, p.y = 0, 0
	p.page, _ = codepage.ByESCPOS(0)
	p.mode = 1
	p.cursor = true
	p.brightness = 4
}

// Write decodes b. A display swallows what it does not understand, and the fake lists
// it in Unknown; Write fails only while the display is unplugged (ErrUnplugged), and
// blocks while it is stalled.
func (p *Pole) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.feed(p.gen, b)
}

// feed decodes b if the power-on gen is still plugged in. p.mu is held.
func (p *Pole) feed(gen int, b []byte) (int, error) {
	if !p.waitDraining(gen) {
		return 0, ErrUnplugged
	}
	p.pending = append(p.pending, b...)
	for len(p.pending) > 0 {
		n := p.step(p.pending)
		if n == 0 {
			break
		}
		p.pending = p.pending[n:]
	}
	if len(p.pending) == 0 {
		p.snapshot()
	}
	return len(b), nil
}

// Serve plugs the display in (see Plug) and feeds it from r until r fails (a closed pty
// reads EIO or EOF) or Unplug is called, and returns nil then: the cable was pulled, and
// the display is unplugged. While the display is stalled, Serve does not read r.
func (p *Pole) Serve(r io.Reader) error {
	p.mu.Lock()
	gen := p.plug()
	p.mu.Unlock()
	buf := make([]byte, 256)
	for {
		p.mu.Lock()
		ok := p.waitDraining(gen)
		p.mu.Unlock()
		if !ok {
			return nil
		}
		n, err := r.Read(buf)
		p.mu.Lock()
		if n > 0 {
			p.feed(gen, buf[:n])
		}
		if err != nil && p.gen == gen {
			p.unplug()
		}
		p.mu.Unlock()
		if err != nil {
			return nil
		}
	}
}

// Lines returns the rows as the customer sees them, each exactly cols wide.
func (p *Pole) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines()
}

func (p *Pole) lines() []string {
	out := make([]string, p.rows)
	for i, r := range p.grid {
		out[i] = string(r)
	}
	return out
}

// History returns every distinct screen shown, oldest first. A screen is taken each time
// the bytes received so far end on a command boundary, so a frame written in one Write
// is one entry; through a pty the kernel may split a frame and leave a partial one.
func (p *Pole) History() [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.history)
}

// Unknown lists the commands and bytes the display did not understand, oldest first.
func (p *Pole) Unknown() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.unknown)
}

// Page is the code page selected now.
func (p *Pole) Page() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.page.Name
}

// Mode returns the write mode (1 overwrite, 2 vertical scroll, 3 horizontal scroll),
// whether the cursor shows, and the brightness (1..4).
func (p *Pole) Mode() (mode int, cursor bool, brightness int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.mode), p.cursor, p.brightness
}

// WaitFor returns nil once the screen reads want, row by row, or ctx's error with the
// screen it last saw.
func (p *Pole) WaitFor(ctx context.Context, want ...string) error {
	return waitScreen(ctx, func() ([]string, <-chan struct{}) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.lines(), p.changed
	}, want)
}

func (p *Pole) snapshot() {
	cur := p.lines()
	if n := len(p.history); n > 0 && slices.Equal(p.history[n-1], cur) {
		return
	}
	if len(p.history) == 0 && slices.Equal(cur, blankLines(p.cols, p.rows)) {
		return
	}
	p.history = append(p.history, cur)
	close(p.changed)
	p.changed = make(chan struct{})
}

// step executes the command at the start of b and returns its length, or 0 when b holds
// only the start of one.
func (p *Pole) step(b []byte) int {
	need := func(n int) bool { return len(b) >= n }
	switch c := b[0]; {
	case c >= 0x20 && c != 0x7f:
		p.put(p.page.Rune(c))
		return 1
	case c == 0x08: // BS
		p.x--
		if p.x < 0 {
			p.x, p.y = p.cols-1, (p.y+p.rows-1)%p.rows
		}
		return 1
	case c == 0x09: // HT
		p.advance()
		return 1
	case c == 0x0a: // LF
		p.down()
		return 1
	case c == 0x0b: // HOM
		p.x, p.y = 0, 0
		return 1
	case c == 0x0c: // CLR
		for i := range p.grid {
			p.grid[i] = blankRow(p.cols)
		}
		p.x, p.y = 0, 0
		return 1
	case c == 0x0d: // CR
		p.x = 0
		return 1
	case c == 0x18: // CAN
		p.grid[p.y] = blankRow(p.cols)
		p.x = 0
		return 1
	case c == 0x1b: // ESC
		if !need(2) {
			return 0
		}
		switch b[1] {
		case '@':
			p.reset()
			return 2
		case 't', 'R', '=', '?':
			if !need(3) {
				return 0
			}
			if b[1] == 't' {
				pg, err := codepage.ByESCPOS(b[2])
				if err != nil {
					p.unknown = append(p.unknown, fmt.Sprintf("ESC t %d", b[2]))
				} else {
					p.page = pg
				}
			}
			return 3
		}
		p.unknown = append(p.unknown, fmt.Sprintf("ESC %#02x", b[1]))
		return 2
	case c == 0x1f: // US
		if !need(2) {
			return 0
		}
		switch b[1] {
		case 0x01, 0x02, 0x03:
			p.mode = b[1]
			return 2
		case 0x0a: // up
			p.y = (p.y + p.rows - 1) % p.rows
			return 2
		case 0x0d: // rightmost
			p.x = p.cols - 1
			return 2
		case 'B': // bottom left
			p.x, p.y = 0, p.rows-1
			return 2
		case '$':
			if !need(4) {
				return 0
			}
			x, y := int(b[2]), int(b[3])
			if x < 1 || x > p.cols || y < 1 || y > p.rows {
				p.unknown = append(p.unknown, fmt.Sprintf("US $ %d %d", x, y))
			} else {
				p.x, p.y = x-1, y-1
			}
			return 4
		case 'C', 'X', 'E', 'r':
			if !need(3) {
				return 0
			}
			switch b[1] {
			case 'C':
				p.cursor = b[2] == 1
			case 'X':
				if b[2] < 1 || b[2] > 4 {
					p.unknown = append(p.unknown, fmt.Sprintf("US X %d", b[2]))
				} else {
					p.brightness = int(b[2])
				}
			}
			return 3
		}
		p.unknown = append(p.unknown, fmt.Sprintf("US %#02x", b[1]))
		return 2
	default:
		p.unknown = append(p.unknown, fmt.Sprintf("%#02x", c))
		return 1
	}
}

func (p *Pole) put(r rune) {
	p.grid[p.y][p.x] = r
	p.advance()
}

// advance moves right; past the last cell overwrite mode wraps to the start of the next
// row (the bottom row wraps to the top) and vertical scroll mode scrolls.
func (p *Pole) advance() {
	p.x++
	if p.x < p.cols {
		return
	}
	p.x = 0
	p.down()
}

func (p *Pole) down() {
	if p.y < p.rows-1 {
		p.y++
		return
	}
	if p.mode == 2 {
		copy(p.grid, p.grid[1:])
		p.grid[p.rows-1] = blankRow(p.cols)
		return
	}
	p.y = 0
}

func blankRow(n int) []rune { return []rune(strings.Repeat(" ", n)) }

func blankLines(cols, rows int) []string {
	s := make([]string, rows)
	for i := range s {
		s[i] = strings.Repeat(" ", cols)
	}
	return s
}
