package displaytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"tillbox/drivers/display"
)

// ErrNoAck is what the fake bus answers for an address no device holds, as a Linux I2C
// adapter does when nothing acknowledges.
var ErrNoAck = errors.New("displaytest: no acknowledge")

// PCF8574 backpack wiring the fake expects (the common one): P0 RS, P1 R/W, P2 E,
// P3 backlight, P4..P7 D4..D7.
const (
	pinRS = 0x01
	pinRW = 0x02
	pinE  = 0x04
	pinBL = 0x08
)

// LCD is a fake I2C bus with one HD44780 character LCD behind a PCF8574 backpack on it.
// It follows the port's pins byte by byte, latches a nibble on each falling edge of E,
// runs the controller's instructions (8-bit mode at power-on, 4-bit once a function set
// says so), and keeps DDRAM and CGRAM, from which it renders the screen. Timing rules it
// can see from the byte stream (RS changing while E is high or at its rising edge, data
// changing at its falling edge, writes before initialisation) are listed in Violations.
// It is safe for concurrent use.
type LCD struct {
	addr       uint16
	cols, rows int
	// Font reads CGRAM back: a custom character whose dots match a glyph shows as that
	// glyph's rune; any other shows as U+FFFD. NewLCD sets it to the driver's font.
	Font map[display.Glyph]rune

	mu         sync.Mutex
	port       byte
	fourBit    bool
	half       bool // a high nibble is waiting for its low half
	high, hRS  byte
	ready      bool // a 4-bit function set was seen
	twoLine    bool
	ddram      [0x80]byte
	cgram      [64]byte
	ac         int
	inCGRAM    bool
	increment  bool
	on         bool
	fail       error
	unplugged  bool
	txs        int
	history    [][]string
	violations []string
	changed    chan struct{}
}

var _ i2c.Bus = (*LCD)(nil)

// NewLCD returns a bus with a powered-on cols x rows LCD at addr: display off, DDRAM
// blank, controller in 8-bit mode.
func NewLCD(addr uint16, cols, rows int) *LCD {
	l := &LCD{addr: addr, cols: cols, rows: rows, changed: make(chan struct{})}
	l.powerOn()
	l.Font = map[display.Glyph]rune{}
	for r, g := range display.Glyphs() {
		l.Font[g] = r
	}
	return l
}

// String implements i2c.Bus.
func (l *LCD) String() string {
	return fmt.Sprintf("displaytest-i2c(lcd %dx%d at %#x)", l.cols, l.rows, l.addr)
}

// SetSpeed implements i2c.Bus; the PCF8574 runs at up to 100 kHz and the fake at any.
func (l *LCD) SetSpeed(physic.Frequency) error { return nil }

// Fail makes every later transaction fail with err (a pulled cable); nil mends it.
func (l *LCD) Fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail = err
}

// Unplug pulls the backpack's cable, which also powers it: the screen goes dark and
// nothing acknowledges its address (ErrNoAck) until Plug.
func (l *LCD) Unplug() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unplugged = true
	l.on = false
	l.snapshot()
}

// Plug plugs the backpack in again: it powers on as NewLCD's does, with the controller in
// 8-bit mode, the display off, DDRAM blank and CGRAM cleared, and needs initialising.
func (l *LCD) Plug() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unplugged {
		l.unplugged = false
		l.powerOn()
	}
}

// powerOn is the state of the PCF8574 and the HD44780 after power-on reset.
func (l *LCD) powerOn() {
	l.port, l.fourBit, l.half, l.ready, l.twoLine = 0, false, false, false, false
	for i := range l.ddram {
		l.ddram[i] = ' '
	}
	l.cgram = [64]byte{}
	l.ac, l.inCGRAM, l.increment, l.on = 0, false, true, false
}

// Tx implements i2c.Bus: w drives the PCF8574's port one byte at a time; a read returns
// the port's state.
func (l *LCD) Tx(addr uint16, w, r []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	if addr != l.addr || l.unplugged {
		return fmt.Errorf("%w at %#x", ErrNoAck, addr)
	}
	l.txs++
	for _, b := range w {
		l.pins(b)
	}
	for i := range r {
		r[i] = l.port
	}
	l.snapshot()
	return nil
}

// Lines returns the rows the customer sees: blank while the display is off.
func (l *LCD) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines()
}

// Backlight says whether the backlight transistor is on.
func (l *LCD) Backlight() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.port&pinBL != 0
}

// On says whether the display is switched on (display control D bit).
func (l *LCD) On() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.on
}

// History returns every distinct screen shown, oldest first, taken after each
// transaction.
func (l *LCD) History() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.history)
}

// Violations lists the protocol errors seen, oldest first.
func (l *LCD) Violations() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.violations)
}

// CGRAM returns custom character slot (0..7).
func (l *LCD) CGRAM(slot int) display.Glyph {
	l.mu.Lock()
	defer l.mu.Unlock()
	var g display.Glyph
	copy(g[:], l.cgram[slot*8:slot*8+8])
	return g
}

// Txs counts the transactions addressed to the backpack.
func (l *LCD) Txs() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.txs
}

// WaitFor returns nil once the screen reads want, or ctx's error with what it last saw.
func (l *LCD) WaitFor(ctx context.Context, want ...string) error {
	return waitScreen(ctx, func() ([]string, <-chan struct{}) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.lines(), l.changed
	}, want)
}

func (l *LCD) pins(b byte) {
	prev := l.port
	l.port = b
	eWas, eIs := prev&pinE != 0, b&pinE != 0
	switch {
	case eWas && (prev^b)&(pinRS|pinRW) != 0:
		l.violate("RS or R/W changed while E was high")
	case !eWas && eIs && (prev^b)&(pinRS|pinRW) != 0:
		l.violate("RS or R/W changed at the rising edge of E")
	}
	if !eWas || eIs {
		return
	}
	// Falling edge: the controller latches D4..D7 as they were while E was high.
	if (prev^b)&0xf0 != 0 {
		l.violate("data changed at the falling edge of E")
	}
	if prev&pinRW != 0 {
		l.violate("read cycle: the driver never reads")
		return
	}
	nib, rs := prev>>4, prev&pinRS
	if !l.fourBit {
		// 8-bit mode: one pulse is one instruction; D0..D3 are not wired and read low.
		l.exec(rs, nib<<4)
		return
	}
	if !l.half {
		l.high, l.hRS, l.half = nib, rs, true
		return
	}
	l.half = false
	if rs != l.hRS {
		l.violate("RS differs between the two nibbles of a byte")
	}
	l.exec(rs, l.high<<4|nib)
}

func (l *LCD) exec(rs, c byte) {
	if rs != 0 {
		if !l.ready {
			l.violate(fmt.Sprintf("data %#02x before initialisation", c))
		}
		if l.inCGRAM {
			l.cgram[l.ac&0x3f] = c & 0x1f
			l.ac = (l.ac + 1) & 0x3f
			return
		}
		l.ddram[l.ac] = c
		l.stepAC()
		return
	}
	switch {
	case c&0x80 != 0:
		l.ac, l.inCGRAM = int(c&0x7f), false
	case c&0x40 != 0:
		l.ac, l.inCGRAM = int(c&0x3f), true
	case c&0x20 != 0:
		l.fourBit = c&0x10 == 0
		l.half = false
		if l.fourBit {
			l.ready = true
			l.twoLine = c&0x08 != 0
		}
	case c&0x10 != 0: // cursor or display shift: the driver addresses cells directly
		l.violate(fmt.Sprintf("shift instruction %#02x", c))
	case c&0x08 != 0:
		l.on = c&0x04 != 0
	case c&0x04 != 0:
		l.increment = c&0x02 != 0
	case c&0x02 != 0:
		l.ac, l.inCGRAM = 0, false
	case c == 0x01:
		for i := range l.ddram {
			l.ddram[i] = ' '
		}
		l.ac, l.inCGRAM, l.increment = 0, false, true
	}
}

// stepAC moves the DDRAM address the way the controller does in two-line mode: 0x00..0x27
// then 0x40..0x67, wrapping.
func (l *LCD) stepAC() {
	if !l.increment {
		l.ac--
		if l.ac < 0 {
			l.ac = 0x67
		} else if l.ac == 0x3f {
			l.ac = 0x27
		}
		return
	}
	l.ac++
	switch l.ac {
	case 0x28:
		l.ac = 0x40
	case 0x68:
		l.ac = 0
	}
}

func (l *LCD) lines() []string {
	out := make([]string, l.rows)
	for y := range out {
		row := make([]rune, l.cols)
		for x := range row {
			row[x] = ' '
			if l.on && l.ready && l.twoLine {
				row[x] = l.glyph(l.ddram[l.addrOf(y)+x])
			}
		}
		out[y] = string(row)
	}
	return out
}

func (l *LCD) addrOf(y int) int {
	a := 0
	if y%2 == 1 {
		a = 0x40
	}
	if y >= 2 {
		a += l.cols
	}
	return a
}

// glyph reads a DDRAM code through the ROM A00 character table, or CGRAM for codes 0..15
// (8..15 mirror 0..7).
func (l *LCD) glyph(c byte) rune {
	if c < 0x10 {
		var g display.Glyph
		s := int(c&7) * 8
		copy(g[:], l.cgram[s:s+8])
		if r, ok := l.Font[g]; ok {
			return r
		}
		return '\uFFFD'
	}
	switch {
	case c == 0x5c:
		return '¥'
	case c == 0x7e:
		return '→'
	case c == 0x7f:
		return '←'
	case c >= 0x20 && c < 0x7e:
		return rune(c)
	}
	switch c {
	case 0xdf:
		return '°'
	case 0xe1:
		return 'ä'
	case 0xe2:
		return 'ß'
	case 0xe4:
		return 'µ'
	case 0xef:
		return 'ö'
	case 0xf5:
		return 'ü'
	}
	return '\uFFFD'
}

func (l *LCD) violate(s string) {
	if len(l.violations) < 100 {
		l.violations = append(l.violations, s)
	}
}

func (l *LCD) snapshot() {
	cur := l.lines()
	if n := len(l.history); n > 0 && slices.Equal(l.history[n-1], cur) {
		return
	}
	if len(l.history) == 0 && slices.Equal(cur, blankLines(l.cols, l.rows)) {
		return
	}
	l.history = append(l.history, cur)
	close(l.changed)
	l.changed = make(chan struct{})
}
