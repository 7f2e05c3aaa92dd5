package display

import (
	"fmt"
	"strings"
	"sync"
	"unicode"

	"periph.io/x/conn/v3"
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

// Status is what the display last did.
type Status struct {
	// Cols and Rows are the size of the screen in character cells.
	Cols, Rows int
	// Shown is the last layout written successfully; zero after Clear.
	Shown Layout
	// Screen is the text of each row as the driver meant it to read, after truncation and
	// fallbacks (a transliterated rune reads as its transliteration).
	Screen []string
	// Missing lists the runes of Shown the display could not show exactly, each once, in
	// order: they read as their transliteration (ł as l, € as EUR) or as '?'.
	Missing []rune
	// Err is the last write failure, nil once a write succeeds again.
	Err error
}

// terminal is what differs between a pole display and an LCD: how a rune becomes cells,
// and how rows of cells reach the glass.
type terminal interface {
	// cells returns the runes, one cell each, that show r, and whether r shows exactly.
	cells(r rune) ([]rune, bool)
	// draw puts rows (each exactly the width of the display) on the screen and returns
	// the runes it had to fall back on after all.
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

	mu     sync.Mutex
	st     Status
	halted bool
}

var _ conn.Resource = (*Dev)(nil)

func newDev(desc string, cols, rows int, marker rune, t terminal) *Dev {
	return &Dev{desc: desc, cols: cols, rows: rows, marker: marker, term: t,
		st: Status{Cols: cols, Rows: rows, Screen: blankScreen(cols, rows)}}
}

// String implements conn.Resource.
func (d *Dev) String() string { return d.desc }

// Halt implements conn.Resource: it blanks the screen (an LCD also turns its backlight
// off) so that no stale price stays in front of the customer. Every later call returns
// ErrHalted; Halt itself may be called again.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return nil
	}
	d.halted = true
	if err := d.term.halt(); err != nil {
		return fmt.Errorf("display: halt: %w", err)
	}
	return nil
}

// Status returns what the display last did.
func (d *Dev) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	st.Screen = append([]string(nil), st.Screen...)
	st.Missing = append([]rune(nil), st.Missing...)
	return st
}

// Clear blanks the screen.
func (d *Dev) Clear() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return fmt.Errorf("display: clear: %w", ErrHalted)
	}
	if err := d.term.clear(); err != nil {
		d.st.Err = err
		return fmt.Errorf("display: clear: %w", err)
	}
	d.st = Status{Cols: d.cols, Rows: d.rows, Screen: blankScreen(d.cols, d.rows)}
	return nil
}

// Show puts l on the screen: Top on the first row, Bottom on the last, every other row
// blank. Each row is written whole, so nothing of the previous layout remains.
func (d *Dev) Show(l Layout) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return fmt.Errorf("display: show: %w", ErrHalted)
	}
	var missing []rune
	top, err := d.fit(l.Top, &missing)
	if err != nil {
		return fmt.Errorf("display: show: top: %w", err)
	}
	bottom, err := d.fit(l.Bottom, &missing)
	if err != nil {
		return fmt.Errorf("display: show: bottom: %w", err)
	}
	rows := make([][]rune, d.rows)
	for i := range rows {
		rows[i] = blank(d.cols)
	}
	rows[0], rows[d.rows-1] = top, bottom
	more, err := d.term.draw(rows)
	if err != nil {
		d.st.Err = err
		return fmt.Errorf("display: show: %w", err)
	}
	for _, r := range more {
		missing = addRune(missing, r)
	}
	d.st.Err = nil
	d.st.Shown = l
	d.st.Missing = missing
	d.st.Screen = d.st.Screen[:0]
	for _, r := range rows {
		d.st.Screen = append(d.st.Screen, string(r))
	}
	return nil
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
