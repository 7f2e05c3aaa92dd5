package display

import (
	"fmt"
	"strings"
	"sync"
	"unicode"

	"periph.io/x/conn/v3"

	"tillbox/drivers"
)

// Line is one line of the customer display: text on the left, an amount on the right.
type Line struct {
	// Left is the item name or a label ("SUMA", "RESZTA", "TOTAL"). When it does not fit
	// beside Right it is cut and ends with the marker.
	Left string
	// Right is a price or amount, already formatted by the caller ("12,99", "€ 4.50"). It
	// is never cut: a Right wider than the display is refused with ErrNoRoom.
	Right string
}

// Layout is what the customer sees: the item just rung up on the first line and the
// running total or the change on the last one.
type Layout struct {
	Top    Line
	Bottom Line
}

// Status is where the display stands and what it shows.
type Status struct {
	// State is drivers.Online while the last write to the display succeeded, and
	// drivers.Offline once a write failed or timed out (or the display did not take its
	// initialisation): Err says how, and nothing is written until Reattach. It is
	// drivers.Halted after Halt; the Dev is done.
	State drivers.State
	// Cols and Rows are the size of the screen in character cells.
	Cols, Rows int
	// Shown is the current layout: the last one Show accepted, zero after Clear. While the
	// display is Offline it is what Reattach puts back on the screen.
	Shown Layout
	// Screen is the text of each row of Shown as the driver means it to read, after
	// truncation and fallbacks (a transliterated rune reads as its transliteration).
	Screen []string
	// Missing lists the runes of Shown the display cannot show exactly, each once, in
	// order: they read as their transliteration (ł as l, € as EUR) or as '?'.
	Missing []rune
	// Err is why the display is Offline, "display: operation: cause"; nil otherwise.
	Err error
}

// terminal is what differs between a pole display and an LCD: how a rune becomes cells,
// and how rows of cells reach the glass. Its methods are called with Dev.op held.
type terminal interface {
	// cells returns the runes, one cell each, that show r, and whether r shows exactly.
	cells(r rune) ([]rune, bool)
	// init brings a display that may just have been powered on into the state draw
	// expects, with a blank screen.
	init() error
	// draw puts rows (each exactly the width of the display) on the screen and returns
	// the runes it had to fall back on after all. It may replace a rune of rows by the
	// one it showed instead.
	draw(rows [][]rune) (missing []rune, err error)
	clear() error
	halt() error
}

// Dev is a customer display: a pole display or a character LCD behind the same API.
// It is safe for concurrent use.
type Dev struct {
	desc       string
	cols, rows int
	marker     rune
	term       terminal

	// op serialises the operations that use the port (Show, Clear, Reattach, Halt), so
	// frames never interleave. mu guards st and is never held across a write, so Status
	// never waits for the display.
	op sync.Mutex
	mu sync.Mutex
	st Status
}

var _ conn.Resource = (*Dev)(nil)

// newDev returns a Dev on t and initialises the display. A display that does not take
// the initialisation leaves the Dev Offline rather than failing: the port is the
// caller's, and Reattach brings the display in when it is back.
func newDev(desc string, cols, rows int, marker rune, t terminal) *Dev {
	d := &Dev{desc: desc, cols: cols, rows: rows, marker: marker, term: t,
		st: Status{State: drivers.Online, Cols: cols, Rows: rows, Screen: blankScreen(cols, rows)}}
	d.op.Lock()
	defer d.op.Unlock()
	d.restart("new")
	return d
}

// String implements conn.Resource.
func (d *Dev) String() string { return d.desc }

// Halt implements conn.Resource: it blanks the screen (an LCD also turns its backlight
// off) so that no stale price stays in front of the customer. An Offline display is not
// written to. Every later call returns ErrHalted; Halt itself may be called again.
func (d *Dev) Halt() error {
	d.op.Lock()
	defer d.op.Unlock()
	d.mu.Lock()
	was := d.st.State
	d.st.State, d.st.Err = drivers.Halted, nil
	d.mu.Unlock()
	if was != drivers.Online {
		return nil
	}
	if err := d.term.halt(); err != nil {
		return fmt.Errorf("display: halt: %w", err)
	}
	return nil
}

// Status returns where the display stands and what it shows. It never waits for the
// display, not even while a write to it is stalled.
func (d *Dev) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	st.Screen = append([]string(nil), st.Screen...)
	st.Missing = append([]rune(nil), st.Missing...)
	return st
}

// Clear blanks the screen. While the display is Offline it returns ErrOffline and the
// screen is blank once Reattach has brought the display back.
func (d *Dev) Clear() error {
	d.op.Lock()
	defer d.op.Unlock()
	if err := d.usable("clear"); err != nil {
		return err
	}
	d.mu.Lock()
	d.st.Shown, d.st.Screen, d.st.Missing = Layout{}, blankScreen(d.cols, d.rows), nil
	offline := d.offline("clear")
	d.mu.Unlock()
	if offline != nil {
		return offline
	}
	if err := d.term.clear(); err != nil {
		return d.lost("clear", err)
	}
	return nil
}

// Show puts l on the screen: Top on the first row, Bottom on the last, every other row
// blank. Each row is written whole, so nothing of the previous layout remains. While the
// display is Offline, Show returns ErrOffline and keeps l as the current layout, which
// Reattach shows; a layout refused with ErrNoRoom is not kept.
func (d *Dev) Show(l Layout) error {
	d.op.Lock()
	defer d.op.Unlock()
	if err := d.usable("show"); err != nil {
		return err
	}
	rows, missing, err := d.layout(l)
	if err != nil {
		return fmt.Errorf("display: show: %w", err)
	}
	d.mu.Lock()
	d.st.Shown = l
	d.setScreen(rows, missing)
	offline := d.offline("show")
	d.mu.Unlock()
	if offline != nil {
		return offline
	}
	return d.draw("show", rows, missing)
}

// restart initialises the display on its (new) port and puts the current layout back.
// It leaves the Dev Online, or Offline with the cause, which it returns. d.op is held.
func (d *Dev) restart(op string) error {
	if err := d.term.init(); err != nil {
		return d.lost(op, fmt.Errorf("init: %w", err))
	}
	d.mu.Lock()
	shown := d.st.Shown
	d.mu.Unlock()
	if shown != (Layout{}) {
		rows, missing, err := d.layout(shown)
		if err != nil { // Show accepted it, and the display has not changed size
			return d.lost(op, err)
		}
		if err := d.draw(op, rows, missing); err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.st.State, d.st.Err = drivers.Online, nil
	d.mu.Unlock()
	return nil
}

// usable refuses every operation after Halt. d.op is held.
func (d *Dev) usable(op string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.State == drivers.Halted {
		return fmt.Errorf("display: %s: %w", op, ErrHalted)
	}
	return nil
}

// offline is the error of op on an Offline display, nil on an Online one. d.mu is held.
func (d *Dev) offline(op string) error {
	if d.st.State != drivers.Offline {
		return nil
	}
	return fmt.Errorf("display: %s: %w (%w)", op, ErrOffline, d.st.Err)
}

// draw writes a frame laid out by layout and records what it showed. d.op is held.
func (d *Dev) draw(op string, rows [][]rune, missing []rune) error {
	more, err := d.term.draw(rows)
	if err != nil {
		return d.lost(op, err)
	}
	for _, r := range more {
		missing = addRune(missing, r)
	}
	d.mu.Lock()
	d.setScreen(rows, missing)
	d.mu.Unlock()
	return nil
}

// lost takes the display Offline after op failed with cause and returns op's error.
func (d *Dev) lost(op string, cause error) error {
	err := fmt.Errorf("display: %s: %w", op, cause)
	d.mu.Lock()
	d.st.State, d.st.Err = drivers.Offline, err
	d.mu.Unlock()
	return err
}

// setScreen records rows as the screen. d.mu is held.
func (d *Dev) setScreen(rows [][]rune, missing []rune) {
	d.st.Screen = d.st.Screen[:0]
	for _, r := range rows {
		d.st.Screen = append(d.st.Screen, string(r))
	}
	d.st.Missing = missing
}

// layout lays l out on the whole screen: Top on the first row, Bottom on the last.
func (d *Dev) layout(l Layout) ([][]rune, []rune, error) {
	var missing []rune
	top, err := d.fit(l.Top, &missing)
	if err != nil {
		return nil, nil, fmt.Errorf("top: %w", err)
	}
	bottom, err := d.fit(l.Bottom, &missing)
	if err != nil {
		return nil, nil, fmt.Errorf("bottom: %w", err)
	}
	rows := make([][]rune, d.rows)
	for i := range rows {
		rows[i] = blank(d.cols)
	}
	rows[0], rows[d.rows-1] = top, bottom
	return rows, missing, nil
}

// fit lays a line out in exactly d.cols cells: Right flush right and whole, Left flush
// left, cut with the marker when it would come closer to Right than one blank cell.
func (d *Dev) fit(l Line, missing *[]rune) ([]rune, error) {
	left := d.toCells(l.Left, missing)
	right := d.toCells(l.Right, missing)
	row := blank(d.cols)
	if len(right) > d.cols {
		return nil, fmt.Errorf("%q needs %d cells of %d: %w", l.Right, len(right), d.cols, ErrNoRoom)
	}
	copy(row[d.cols-len(right):], right)
	room := d.cols
	if len(right) > 0 {
		room = d.cols - len(right) - 1
	}
	if len(left) > room {
		left = cut(left, room, d.marker)
	}
	copy(row, left)
	return row, nil
}

// cut shortens cells to n, the last one being the marker. Blanks before the marker are
// dropped so that "Coca Cola Zero" reads "Coca Cola." and not "Coca Cola .".
func cut(cells []rune, n int, marker rune) []rune {
	if n <= 0 {
		return nil
	}
	c := cells[:n-1]
	for len(c) > 0 && c[len(c)-1] == ' ' {
		c = c[:len(c)-1]
	}
	return append(append([]rune(nil), c...), marker)
}

// toCells turns text into display cells. Control characters become blanks (an item name
// with a tab or newline must not move the cursor) and combining marks are dropped (a
// decomposed "a\u0328" shows as its base letter rather than as "a?").
func (d *Dev) toCells(s string, missing *[]rune) []rune {
	var out []rune
	for _, r := range strings.TrimSpace(s) {
		switch {
		case unicode.IsControl(r):
			r = ' '
		case unicode.Is(unicode.Mn, r):
			*missing = addRune(*missing, r)
			continue
		}
		c, ok := d.term.cells(r)
		if !ok {
			*missing = addRune(*missing, r)
		}
		out = append(out, c...)
	}
	return out
}

func addRune(rs []rune, r rune) []rune {
	for _, x := range rs {
		if x == r {
			return rs
		}
	}
	return append(rs, r)
}

func blank(n int) []rune {
	r := make([]rune, n)
	for i := range r {
		r[i] = ' '
	}
	return r
}

func blankScreen(cols, rows int) []string {
	s := make([]string, rows)
	for i := range s {
		s[i] = strings.Repeat(" ", cols)
	}
	return s
}

// reattach swaps the port in and initialises the display on it. The old port is not
// written again, not even by a write still stalled on it: that one ends with its port.
func (d *Dev) reattach(swap func()) error {
	d.op.Lock()
	defer d.op.Unlock()
	if err := d.usable("reattach"); err != nil {
		return err
	}
	swap()
	return d.restart("reattach")
}
