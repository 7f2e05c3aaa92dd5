package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"tillbox/drivers/display"
	"tillbox/drivers/keypad"
	"tillbox/firmware/till"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// terminalKeys maps the simulator's keyboard to POS keys. They are pressed on the sim
// board's fake keypad, so every key travels the real keypad driver's path.
var terminalKeys = map[byte]keypad.Key{
	'0': keypad.Key0, '1': keypad.Key1, '2': keypad.Key2, '3': keypad.Key3, '4': keypad.Key4,
	'5': keypad.Key5, '6': keypad.Key6, '7': keypad.Key7, '8': keypad.Key8, '9': keypad.Key9,
	'.': keypad.KeyDecimal, ',': keypad.KeyDecimal, '\r': keypad.KeyEnter, '\n': keypad.KeyEnter,
	0x7f: keypad.KeyClear, 0x08: keypad.KeyClear, 0x1b: keypad.KeyClear,
	'q': keypad.KeyQty, '*': keypad.KeyQty, 'p': keypad.KeyPLU, 'v': keypad.KeyVoid, '-': keypad.KeyVoid,
	's': keypad.KeySubtotal, '+': keypad.KeySubtotal, 'c': keypad.KeyCash, 'k': keypad.KeyCard,
	'n': keypad.KeyNoSale, 'r': keypad.KeyReturn, 'P': keypad.KeyPark, 'o': keypad.KeySignOnOff,
	'm': keypad.KeyMenu, 'y': keypad.KeySync,
}

const keyHelp = ` keys  0-9 . digits  Enter ENTER  Bksp/Esc CLEAR  q QTY  p PLU  v VOID  s SUBTOTAL
       c CASH  k CARD  n NO SALE  r RETURN  P PARK  o SIGN ON/OFF  m MENU (next page of a
       long prompt)  y SYNC  b scan a barcode  D push the drawer shut  O paper out/in  Ctrl-C quit`

// readTerminal turns the terminal's keys into fake keypad presses and scans. The caller put
// the terminal in raw mode.
func (a *App) readTerminal(ctx context.Context, in io.Reader, quit func()) {
	sim := a.set.Sim
	if sim == nil {
		return
	}
	r := bufio.NewReader(in)
	paperOut := false
	for ctx.Err() == nil {
		b, err := r.ReadByte()
		if err != nil {
			quit()
			return
		}
		switch b {
		case 0x03, 0x04: // Ctrl-C, Ctrl-D
			quit()
			return
		case 'b':
			code := a.readScanField(r)
			if code != "" && sim.Scanner != nil {
				sim.Scanner.Scan(code)
			}
		case 'D':
			if sim.Drawer != nil {
				sim.Drawer.Push()
			}
		case 'O':
			if sim.Printer != nil {
				if paperOut {
					sim.Printer.Refill()
				} else {
					sim.Printer.RunOutAfter(0)
				}
				paperOut = !paperOut
			}
		default:
			if k, ok := terminalKeys[b]; ok && sim.Keypad != nil {
				sim.Keypad.Press(k)
			}
		}
	}
}

// readScanField reads the barcode typed in the scan field; Esc abandons it.
func (a *App) readScanField(r *bufio.Reader) string {
	var sb strings.Builder
	a.setScanField(true, "")
	for {
		b, err := r.ReadByte()
		if err != nil || b == 0x1b || b == 0x03 {
			a.setScanField(false, "")
			return ""
		}
		if b == '\r' || b == '\n' {
			a.setScanField(false, "")
			return sb.String()
		}
		if b == 0x7f || b == 0x08 {
			s := sb.String()
			if len(s) > 0 {
				sb.Reset()
				sb.WriteString(s[:len(s)-1])
			}
		} else if b >= 0x20 && b < 0x7f && sb.Len() < 64 {
			sb.WriteByte(b)
		}
		a.setScanField(true, sb.String())
	}
}

func (a *App) setScanField(open bool, s string) { a.screen.SetScanField(open, s) }

// showCustomer puts the customer view on the board's customer display.
func (a *App) showCustomer(cv till.CustomerView) {
	if a.set.Display == nil {
		return
	}
	if err := a.set.Display.Show(displayLayout(cv)); err != nil {
		a.log.Warn("customer display", "err", err)
	}
}

// draw paints the simulator's screen: both displays, the drawer, the sync state, the sale
// and the end of the receipt roll.
func (a *App) draw(w io.Writer) {
	v := a.screen.View()
	op, cv, scanning, scan := v.Operator, v.Customer, v.Scanning, v.ScanText
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	cashier := "-"
	if c := a.eng.Cashier(); c != nil {
		cashier = c.Name
	}
	fmt.Fprintf(&b, " tillbox %s  %s  board %s  cashier %s  unsynced %d receipts  %s\r\n", a.version, a.led.Prefix(), a.cfg.Board, cashier, a.unsynced.count(a.led), a.now().Format("15:04"))
	fmt.Fprintf(&b, " %s\r\n", a.syncLine())
	fmt.Fprintf(&b, " ┌ operator %s┐  ┌ customer %s┐\r\n", strings.Repeat("─", 39), strings.Repeat("─", 12))
	for i := 0; i < 2; i++ {
		fmt.Fprintf(&b, " │ %s │  │ %s │\r\n", pad(op[i], 47), pad(twoColumns(cv.Left[i], cv.Right[i], 20), 20))
	}
	fmt.Fprintf(&b, " └%s┘  └%s┘\r\n", strings.Repeat("─", 49), strings.Repeat("─", 22))
	for _, h := range a.set.Health() {
		fmt.Fprintf(&b, " %s: %s", h.Name, h.State)
		if h.Detail != "" {
			fmt.Fprintf(&b, " (%s)", h.Detail)
		}
	}
	b.WriteString("\r\n")
	if s := a.eng.Sale(); s != nil {
		fmt.Fprintf(&b, " open %s, %d lines:\r\n", s.Kind, len(s.Lines))
		from := max(0, len(s.Lines)-5)
		for i, l := range s.Lines[from:] {
			fmt.Fprintf(&b, "   %2d %s\r\n", from+i+1, twoColumns(l.Name, a.eng.Money(l.Amount), 44))
		}
	} else if p := a.eng.Parked(); len(p) > 0 {
		fmt.Fprintf(&b, " parked sales: %v\r\n", p)
	}
	if a.set.Sim != nil && a.set.Sim.Printer != nil {
		b.WriteString(" ── receipt roll " + strings.Repeat("─", 32) + "\r\n")
		lines := strings.Split(strings.TrimRight(a.set.Sim.Printer.Text(), "\n"), "\n")
		for _, l := range lines[max(0, len(lines)-16):] {
			b.WriteString("   " + l + "\r\n")
		}
	}
	b.WriteString(strings.ReplaceAll(keyHelp, "\n", "\r\n") + "\r\n")
	if scanning {
		fmt.Fprintf(&b, " scan> %s_   (Enter: scan, Esc: cancel)\r\n", scan)
	}
	io.WriteString(w, b.String())
}

// unsyncedCount counts the receipts head office has not acknowledged, recounted only when
// the ledger's last seq or the watermark moved.
type unsyncedCount struct {
	mu       sync.Mutex
	last, wm uint64
	n        int
}

func (u *unsyncedCount) count(l *ledger.Ledger) int {
	last, _ := l.LastSeq()
	wm, _ := l.Watermark()
	u.mu.Lock()
	defer u.mu.Unlock()
	if last == u.last && wm == u.wm {
		return u.n
	}
	n := 0
	if err := l.After(wm, 0, func(e *journal.Entry, _ []byte) bool {
		if e.Receipt != "" {
			n++
		}
		return true
	}); err != nil {
		return u.n
	}
	u.last, u.wm, u.n = last, wm, n
	return n
}

func pad(s string, n int) string {
	c := utf8.RuneCountInString(s)
	if c > n {
		r := []rune(s)
		return string(r[:n-1]) + "…"
	}
	return s + strings.Repeat(" ", n-c)
}

// twoColumns puts left and right on a line of width n, cutting left when both do not fit.
func twoColumns(left, right string, n int) string {
	rr := utf8.RuneCountInString(right)
	if rr >= n {
		return right
	}
	room := n - rr - 1
	if right == "" {
		room = n
	}
	l := []rune(left)
	if len(l) > room {
		l = l[:max(0, room)]
	}
	gap := n - len(l) - rr
	return string(l) + strings.Repeat(" ", max(0, gap)) + right
}

// displayLayout turns the engine's customer view into the display driver's layout.
func displayLayout(cv till.CustomerView) display.Layout {
	return display.Layout{
		Top:    display.Line{Left: cv.Left[0], Right: cv.Right[0]},
		Bottom: display.Line{Left: cv.Left[1], Right: cv.Right[1]},
	}
}
