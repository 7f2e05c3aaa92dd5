package display

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"tillbox/drivers/codepage"
)

// PCF8574 backpack wiring, as on the common "I2C LCD1602" boards: P0 RS, P1 R/W, P2 E,
// P3 backlight transistor, P4..P7 the HD44780's D4..D7.
const (
	bitRS        = 0x01
	bitE         = 0x04
	bitBacklight = 0x08
)

// HD44780U instructions (datasheet table 6).
const (
	cmdClear      = 0x01
	cmdEntryMode  = 0x04 // | 0x02 increment
	cmdDisplay    = 0x08 // | 0x04 display on, 0x02 cursor, 0x01 blink
	cmdFunction   = 0x20 // | 0x10 8-bit, 0x08 two lines, 0x04 5x10 dots
	cmdSetCGRAM   = 0x40
	cmdSetDDRAM   = 0x80
	clearDuration = 2 * time.Millisecond // 1.52 ms at 270 kHz, with margin for a slow oscillator
)

// LCDOpts configures an HD44780 LCD behind a PCF8574 backpack. Zero values take the
// DefaultLCDOpts value.
type LCDOpts struct {
	// Addr is the backpack's I2C address: 0x20..0x27 for a PCF8574, 0x38..0x3F for a
	// PCF8574A, set by its A0..A2 jumpers.
	Addr uint16
	// Cols and Rows: 16x2, 20x2, 16x4 or 20x4.
	Cols, Rows int
	// Marker ends an item name that was cut. It must be in the LCD's ROM.
	Marker rune
	// NoBacklight leaves the backlight off.
	NoBacklight bool
	// NoGlyphs shows every letter the ROM lacks as its transliteration (ą as a) instead
	// of loading custom characters into CGRAM.
	NoGlyphs bool
	// Sleep waits out the controller's execution times (power-on, init, clear); default
	// time.Sleep. Tests pass a no-op: a fake controller is never busy.
	Sleep func(time.Duration)
}

// DefaultLCDOpts suits a 16x2 module on a PCF8574 backpack at 0x27.
var DefaultLCDOpts = LCDOpts{Addr: 0x27, Cols: 16, Rows: 2, Marker: '.'}

// NewLCD returns an HD44780 LCD behind a PCF8574 on bus and initialises it by instruction
// (HD44780U datasheet figure 24, 4-bit interface): after 50 ms, 0x3 three times with the
// prescribed waits, 0x2 to enter 4-bit mode, then function set (two display lines, 5x8
// dots), display off, clear, entry mode (increment, no shift), display on with the cursor
// hidden. NewLCD fails only for options it refuses or a nil bus: a backpack that does not
// acknowledge its address gives a Dev that is Offline, with the cause in Status().Err,
// until ReattachLCD. The first transaction fails at once then, without the 50 ms wait.
//
// Each I2C transaction is bounded by the bus adapter (Linux's i2c core times a transfer
// out, one second by default); the driver adds no timeout of its own.
func NewLCD(bus i2c.Bus, opts *LCDOpts) (*Dev, error) {
	o := DefaultLCDOpts
	if opts != nil {
		o = *opts
		if o.Addr == 0 {
			o.Addr = DefaultLCDOpts.Addr
		}
		if o.Cols == 0 && o.Rows == 0 {
			o.Cols, o.Rows = DefaultLCDOpts.Cols, DefaultLCDOpts.Rows
		}
		if o.Marker == 0 {
			o.Marker = DefaultLCDOpts.Marker
		}
	}
	if o.Sleep == nil {
		o.Sleep = time.Sleep
	}
	if (o.Cols != 16 && o.Cols != 20) || (o.Rows != 2 && o.Rows != 4) {
		return nil, fmt.Errorf("display: new lcd: %dx%d: %w (16x2, 20x2, 16x4, 20x4)", o.Cols, o.Rows, ErrInvalidOpts)
	}
	if o.Addr > 0x7f {
		return nil, fmt.Errorf("display: new lcd: address %#x: %w", o.Addr, ErrInvalidOpts)
	}
	if _, ok := romByte(o.Marker); !ok {
		return nil, fmt.Errorf("display: new lcd: marker %q is not in the ROM: %w", o.Marker, ErrInvalidOpts)
	}
	if bus == nil {
		return nil, fmt.Errorf("display: new lcd: %w", ErrBadPort)
	}
	l := &lcd{dev: i2c.Dev{Bus: bus, Addr: o.Addr}, o: o}
	desc := fmt.Sprintf("lcd %dx%d hd44780 at %#x", o.Cols, o.Rows, o.Addr)
	return newDev(desc, o.Cols, o.Rows, o.Marker, l), nil
}

// ReattachLCD gives an LCD its bus back after it went Offline (a loose cable seated
// again, a bus reopened), or a new one. A backpack that lost power has put the
// controller back in 8-bit mode with the display off and CGRAM lost, so ReattachLCD
// initialises it as NewLCD does and then writes the current layout (Status().Shown)
// again, reloading its custom characters. It returns the first transaction's failure,
// and the Dev stays Offline then; on success the Dev is Online. ReattachLCD returns
// ErrBadPort on a pole display Dev, ErrHalted after Halt.
func (d *Dev) ReattachLCD(bus i2c.Bus) error {
	l, ok := d.term.(*lcd)
	if !ok || bus == nil {
		return fmt.Errorf("display: reattach lcd: %w", ErrBadPort)
	}
	return d.reattach(func() { l.dev.Bus = bus })
}

type lcd struct {
	dev   i2c.Dev
	o     LCDOpts
	bl    byte
	slots [8]rune // what CGRAM holds; 0 = nothing yet
}

func (l *lcd) init() error {
	// Whatever CGRAM held is gone with a power loss, or in doubt after a failure.
	l.slots = [8]rune{}
	l.bl = 0
	if !l.o.NoBacklight {
		l.bl = bitBacklight
	}
	// The first byte both probes the backpack and drives E low before anything is latched.
	if err := l.dev.Tx([]byte{l.bl}, nil); err != nil {
		return fmt.Errorf("probe %s: %w", &l.dev, err)
	}
	l.o.Sleep(50 * time.Millisecond)
	// Until 0x2 the controller may be in 8-bit mode, where each E pulse is a whole
	// instruction: send single nibbles (figure 24).
	for _, step := range []struct {
		nibble byte
		wait   time.Duration
	}{{0x3, 5 * time.Millisecond}, {0x3, time.Millisecond}, {0x3, time.Millisecond}, {0x2, time.Millisecond}} {
		b := step.nibble<<4 | l.bl
		if err := l.dev.Tx([]byte{b, b | bitE, b}, nil); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		l.o.Sleep(step.wait)
	}
	var w txBuf
	w.instr(l.bl, cmdFunction|0x08, cmdDisplay, cmdClear)
	if err := l.dev.Tx(w.b, nil); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	l.o.Sleep(clearDuration)
	w = txBuf{}
	w.instr(l.bl, cmdEntryMode|0x02, cmdDisplay|0x04)
	if err := l.dev.Tx(w.b, nil); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}

func (l *lcd) cells(r rune) ([]rune, bool) {
	if _, ok := romByte(r); ok {
		return []rune{r}, true
	}
	if _, ok := glyphs[r]; ok && !l.o.NoGlyphs {
		return []rune{r}, true
	}
	t, ok := codepage.Transliterate(r)
	if !ok {
		return []rune{'?'}, false
	}
	var out []rune
	for _, tr := range t {
		if _, ok := romByte(tr); !ok {
			tr = '?'
		}
		out = append(out, tr)
	}
	return out, false
}

// draw loads the custom characters the frame needs and writes every row, in one I2C
// transaction so that the frame changes at once.
func (l *lcd) draw(rows [][]rune) ([]rune, error) {
	var missing []rune
	var want []rune // glyph runes in order of first appearance
	for _, row := range rows {
		for _, r := range row {
			if _, rom := romByte(r); !rom && addRuneNew(&want, r) && len(want) > 8 {
				want = want[:8] // CGRAM holds eight; later ones fall back below
			}
		}
	}
	slot := map[rune]byte{}
	// Keep glyphs already loaded where they are, so that only new ones cost a write.
	for i, r := range l.slots {
		if r != 0 && contains(want, r) {
			slot[r] = byte(i)
		}
	}
	var w txBuf
	free := 0
	for _, r := range want {
		if _, ok := slot[r]; ok {
			continue
		}
		for free < 8 && l.slots[free] != 0 && contains(want, l.slots[free]) {
			free++
		}
		g := glyphs[r]
		w.instr(l.bl, cmdSetCGRAM|byte(free)<<3)
		w.data(l.bl, g[:]...)
		l.slots[free] = r
		slot[r] = byte(free)
		free++
	}
	for y, row := range rows {
		w.instr(l.bl, cmdSetDDRAM|l.rowAddr(y))
		data := make([]byte, len(row))
		for x, r := range row {
			if b, ok := romByte(r); ok {
				data[x] = b
			} else if s, ok := slot[r]; ok {
				data[x] = s
			} else {
				missing = addRune(missing, r)
				data[x] = l.oneCell(r)
				row[x] = rune(data[x])
			}
		}
		w.data(l.bl, data...)
	}
	if err := l.dev.Tx(w.b, nil); err != nil {
		// CGRAM may or may not hold the new glyphs now: forget them all.
		l.slots = [8]rune{}
		return nil, err
	}
	return missing, nil
}

// oneCell is the fallback for a glyph that found no CGRAM slot: the first letter of its
// transliteration keeps the row's width.
func (l *lcd) oneCell(r rune) byte {
	if t, ok := codepage.Transliterate(r); ok {
		if b, ok := romByte([]rune(t)[0]); ok {
			return b
		}
	}
	return '?'
}

// rowAddr is the DDRAM address of row y's first cell: rows 0 and 1 start at 0x00 and
// 0x40, and a 4-row module continues them at +cols (datasheet, "Display Data RAM").
func (l *lcd) rowAddr(y int) byte {
	a := byte(0)
	if y%2 == 1 {
		a = 0x40
	}
	if y >= 2 {
		a += byte(l.o.Cols)
	}
	return a
}

func (l *lcd) clear() error {
	var w txBuf
	w.instr(l.bl, cmdClear)
	if err := l.dev.Tx(w.b, nil); err != nil {
		return err
	}
	l.o.Sleep(clearDuration)
	return nil
}

func (l *lcd) halt() error {
	if err := l.clear(); err != nil {
		return err
	}
	l.bl = 0
	var w txBuf
	w.instr(0, cmdDisplay)
	w.b = append(w.b, 0)
	return l.dev.Tx(w.b, nil)
}

// txBuf builds the PCF8574 port bytes for 4-bit transfers. Each byte goes out as two
// nibbles, high first, each latched by E going high then low (the controller reads on
// the falling edge). RS must be stable before E rises (tAS), so a run starts with one
// byte that sets RS with E low.
type txBuf struct{ b []byte }

func (w *txBuf) instr(bl byte, cmds ...byte) { w.run(bl, cmds) }

func (w *txBuf) data(bl byte, data ...byte) { w.run(bl|bitRS, data) }

func (w *txBuf) run(ctl byte, bs []byte) {
	if len(bs) == 0 {
		return
	}
	w.b = append(w.b, bs[0]&0xf0|ctl)
	for _, c := range bs {
		hi, lo := c&0xf0|ctl, c<<4|ctl
		w.b = append(w.b, hi|bitE, hi, lo|bitE, lo)
	}
}

func contains(rs []rune, r rune) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// addRuneNew appends r unless present and says whether it did.
func addRuneNew(rs *[]rune, r rune) bool {
	if contains(*rs, r) {
		return false
	}
	*rs = append(*rs, r)
	return true
}
