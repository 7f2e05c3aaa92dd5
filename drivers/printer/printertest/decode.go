package printertest

import (
	"fmt"
	"strings"
	"time"

	"tillbox/drivers/codepage"
)

const (
	lf  = 0x0a
	esc = 0x1b
	gs  = 0x1d
	dle = 0x10
	eot = 0x04
	dc4 = 0x14
)

// cmd is one ESC/POS command or one text byte, as received.
type cmd []byte

// cmdLen returns the length of the command at the start of b, or errNeedMore when b ends
// inside it. Lengths depend only on the bytes, never on the printer's state, which is
// what lets the fake split the stream as it arrives and execute it later.
func cmdLen(b []byte) (int, error) {
	need := func(n int) (int, error) {
		if len(b) < n {
			return 0, errNeedMore
		}
		return n, nil
	}
	switch b[0] {
	case dle:
		if len(b) < 2 {
			return 0, errNeedMore
		}
		switch b[1] {
		case eot, 0x05: // EOT n, ENQ n
			return need(3)
		case dc4: // DC4 fn m t: fn 1 (pulse) and fn 2 (power off) are five bytes
			return need(5)
		}
		return 2, nil
	case esc:
		if len(b) < 2 {
			return 0, errNeedMore
		}
		switch b[1] {
		case '@', '2', '<':
			return 2, nil
		case 't', 'E', '-', 'M', 'a', 'd', 'J', '!', 'G', 'R', 'V', '{', 'U', '3', 'e', 'r', 'S', 'L', ' ':
			return need(3)
		case 'c':
			return need(4)
		case 'p':
			return need(5)
		}
		return 2, nil
	case gs:
		if len(b) < 2 {
			return 0, errNeedMore
		}
		switch b[1] {
		case '!', 'h', 'w', 'H', 'f', 'a', 'r', 'B', 'I':
			return need(3)
		case 'L', 'W':
			return need(4)
		case 'V':
			if len(b) < 3 {
				return 0, errNeedMore
			}
			if b[2] == 65 || b[2] == 66 {
				return need(4)
			}
			return 3, nil
		case 'k':
			if len(b) < 3 {
				return 0, errNeedMore
			}
			if b[2] <= 6 { // function A: NUL-terminated
				for i := 3; i < len(b); i++ {
					if b[i] == 0 {
						return i + 1, nil
					}
				}
				return 0, errNeedMore
			}
			if len(b) < 4 {
				return 0, errNeedMore
			}
			return need(4 + int(b[3]))
		case '(':
			if len(b) < 5 {
				return 0, errNeedMore
			}
			return need(5 + int(b[3]) + int(b[4])<<8)
		}
		return 2, nil
	}
	return 1, nil
}

// receive takes bytes off the line: real-time commands act at once, everything else
// queues for execute. The caller must not hold mu.
func (p *Printer) receive(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.vanished {
		return
	}
	p.rxBytes += int64(len(b))
	p.rx = append(p.rx, b...)
	for len(p.rx) > 0 {
		n, err := cmdLen(p.rx)
		if err != nil {
			break
		}
		c := cmd(append([]byte(nil), p.rx[:n]...))
		p.rx = p.rx[n:]
		if c[0] == dle && len(c) >= 2 {
			// Print speed is infinite: what arrived before the command has printed,
			// unless printing is stopped.
			p.execute()
			p.realtime(c)
			continue
		}
		p.queue = append(p.queue, c)
	}
	p.execute()
	p.notify()
}

// realtime executes a real-time command as it arrives, even while printing is stopped:
// it answers DLE EOT n from the current state and fires DLE DC4 pulses.
func (p *Printer) realtime(c cmd) {
	switch c[1] {
	case eot:
		if !p.opts.NoRealTime {
			p.answerStatus(c[2])
		}
	case dc4:
		p.pulse(c[2], c[3], c[4])
	}
}

// pulse executes DLE DC4 fn m t. Like the printer it ignores a function other than 1, a
// pin selector other than 0 (pin 2) or 1 (pin 5), a time outside 1-8, and every pulse
// while the printer is in an error; paper out and an open cover do not stop it.
func (p *Printer) pulse(fn, m, t byte) {
	if fn != 1 || m > 1 || t < 1 || t > 8 || p.errState {
		return
	}
	pin := 2
	if m == 1 {
		pin = 5
	}
	p.pulses = append(p.pulses, Pulse{Pin: pin, On: time.Duration(t) * 100 * time.Millisecond, Printed: len(p.printed)})
	p.openDrawer()
}

// openDrawer is the solenoid releasing the drawer: the sense switch reads open.
func (p *Printer) openDrawer() {
	if !p.drawerOpen {
		p.drawerOpen = true
		p.statusChanged()
	}
}

func (p *Printer) answerStatus(n byte) {
	r := byte(0x12)
	switch n {
	case 1:
		if p.drawerOpen {
			r |= 0x04
		}
		if p.offline() {
			r |= 0x08
		}
	case 2:
		if p.coverOpen {
			r |= 0x04
		}
		if p.paperOut {
			r |= 0x20
		}
		if p.errState {
			r |= 0x40
		}
	case 3:
		if p.errState {
			r |= 0x20
		}
	case 4:
		if p.nearEnd {
			r |= 0x0c
		}
		if p.paperOut {
			r |= 0x60
		}
	default:
		return
	}
	p.send(r)
}

func (p *Printer) offline() bool { return p.coverOpen || p.paperOut || p.errState }

// statusChanged sends an automatic status back when it is enabled and the status
// differs from the last one sent. The caller holds mu.
func (p *Printer) statusChanged() {
	defer p.notify()
	if p.asb == 0 || p.vanished {
		return
	}
	var s [4]byte
	s[0] = 0x10
	if p.drawerOpen {
		s[0] |= 0x04
	}
	if p.offline() {
		s[0] |= 0x08
	}
	if p.coverOpen {
		s[0] |= 0x20
	}
	if p.errState {
		s[1] |= 0x20
	}
	if p.nearEnd {
		s[2] |= 0x03
	}
	if p.paperOut {
		s[2] |= 0x0c
	}
	if p.asbSent && s == p.lastASB {
		return
	}
	p.lastASB, p.asbSent = s, true
	p.send(s[:]...)
}

// usesPaper reports whether c moves paper, so that it cannot run without it.
func usesPaper(c cmd) bool {
	switch {
	case len(c) == 1:
		return c[0] == lf
	case c[0] == esc:
		return c[1] == 'd'
	case c[0] == gs && c[1] == 'k':
		return true
	case c[0] == gs && c[1] == '(' && len(c) >= 7 && c[2] == 'k':
		return c[5] == '1' && c[6] == 'Q'
	}
	return false
}

// execute runs queued commands until the queue is empty or the printer stops. The
// caller holds mu.
func (p *Printer) execute() {
	for len(p.queue) > 0 && !p.coverOpen && !p.paperOut && !p.vanished && !p.errState {
		c := p.queue[0]
		if usesPaper(c) {
			if p.paperLeft == 0 {
				p.paperOut = true
				p.statusChanged()
				return
			}
			if p.paperLeft > 0 {
				p.paperLeft--
			}
		}
		p.queue = p.queue[1:]
		p.exec(c)
	}
}

func (p *Printer) exec(c cmd) {
	if len(c) == 1 {
		switch b := c[0]; {
		case b == lf:
			p.printLine()
		case b == '\t':
			p.addByte(' ')
		case b < 0x20 || b == 0x7f:
		default:
			p.addByte(b)
		}
		return
	}
	switch c[0] {
	case esc:
		p.execESC(c)
	case gs:
		p.execGS(c)
	}
}

func (p *Printer) addByte(b byte) {
	name := "?"
	r := '?'
	if p.page != nil {
		name = p.page.Name
		r = p.page.Rune(b)
	}
	if len(p.pages) == 0 || p.pages[len(p.pages)-1] != name {
		p.pages = append(p.pages, name)
	}
	p.line = append(p.line, r)
}

func (p *Printer) execESC(c cmd) {
	switch c[1] {
	case '@':
		p.reset()
	case 't':
		pg, err := codepage.ByESCPOS(c[2])
		if err != nil {
			p.unknown = append(p.unknown, fmt.Sprintf("ESC t %d", c[2]))
		}
		p.page = pg
	case 'E':
		p.bold = c[2]&1 != 0
	case '-':
		p.ul = c[2]&3 != 0
	case 'M':
		p.fontB = c[2]&1 != 0
	case 'a':
		p.align = c[2] & 3
	case '!':
		p.fontB, p.bold, p.ul = c[2]&0x01 != 0, c[2]&0x08 != 0, c[2]&0x80 != 0
		p.size = 0
		if c[2]&0x20 != 0 {
			p.size |= 0x10
		}
		if c[2]&0x10 != 0 {
			p.size |= 0x01
		}
	case 'd':
		if len(p.line) > 0 {
			p.printLine()
		}
		p.emit(Item{Kind: "feed", Lines: int(c[2])})
	case 'p':
		pin := 2
		if c[2]&1 == 1 {
			pin = 5
		}
		p.emit(Item{Kind: "kick", Pin: pin})
		p.openDrawer()
	case '2', '3', 'J', 'G', 'R', 'V', '{', 'U', 'e', 'r', 'S', 'L', ' ', 'c', '<':
		// Spacing, rotation and other modes the transcript does not show.
	default:
		p.unknown = append(p.unknown, fmt.Sprintf("ESC %q", c[1]))
	}
}

func (p *Printer) execGS(c cmd) {
	switch c[1] {
	case '!':
		p.size = c[2] & 0x77
	case 'a':
		p.asb = c[2]
		p.asbSent = false
		p.statusChanged()
	case 'r':
		if p.opts.NoInOrder {
			return
		}
		r := byte(0)
		if c[2] == 1 || c[2] == 49 {
			if p.nearEnd {
				r |= 0x03
			}
			if p.paperOut {
				r |= 0x0c
			}
		}
		p.send(r)
	case 'V':
		p.emit(Item{Kind: "cut", Partial: c[2] == 1 || c[2] == 49 || c[2] == 66})
	case 'k':
		p.barcode(c)
	case '(':
		p.qrCmd(c)
	case 'h', 'w', 'H', 'f', 'B', 'L', 'W', 'I':
	default:
		p.unknown = append(p.unknown, fmt.Sprintf("GS %q", c[1]))
	}
}

func (p *Printer) barcode(c cmd) {
	m := c[2]
	var data []byte
	if m <= 6 {
		data = c[3 : len(c)-1]
	} else {
		data = c[4:]
	}
	it := Item{Kind: "barcode", Align: alignName(p.align)}
	switch m {
	case 2, 67:
		it.Symbology = "ean13"
		s := string(data)
		if len(s) == 12 {
			s += string(ean13Check(s))
		}
		it.Text = s
	case 73:
		it.Symbology = "code128"
		s := string(data)
		if len(s) >= 2 && s[0] == '{' && s[1] != '{' {
			s = s[2:]
		}
		it.Text = strings.ReplaceAll(s, "{{", "{")
	default:
		it.Symbology = fmt.Sprintf("m=%d", m)
		it.Text = string(data)
	}
	p.emit(it)
}

func (p *Printer) qrCmd(c cmd) {
	if c[2] != 'k' || len(c) < 7 || c[5] != '1' {
		return
	}
	switch c[6] {
	case 'P':
		if len(c) >= 8 {
			p.qr = string(c[8:])
		}
	case 'Q':
		p.emit(Item{Kind: "qr", Text: p.qr, Align: alignName(p.align)})
	}
}

func ean13Check(d string) byte {
	sum := 0
	for i := 0; i < 12; i++ {
		v := int(d[i] - '0')
		if i%2 == 1 {
			v *= 3
		}
		sum += v
	}
	return byte('0' + (10-sum%10)%10)
}

func alignName(a byte) string {
	switch a {
	case 1:
		return "center"
	case 2:
		return "right"
	}
	return "left"
}

func (p *Printer) printLine() {
	p.emit(Item{
		Kind: "text", Text: string(p.line), Bold: p.bold, Underline: p.ul,
		DoubleW: p.size&0x70 != 0, DoubleH: p.size&0x07 != 0, Small: p.fontB,
		Align: alignName(p.align), Pages: p.pages,
	})
	p.line, p.pages = nil, nil
}

func (p *Printer) emit(it Item) {
	p.printed = append(p.printed, it)
	p.notify()
}
