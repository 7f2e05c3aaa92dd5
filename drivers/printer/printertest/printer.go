package printertest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"tillbox/drivers/codepage"
)

// Options configure a fake printer.
type Options struct {
	// Baud is the line speed the fake consumes bytes at (10 bits per byte). Zero means as
	// fast as they come.
	Baud int
	// NoRealTime makes the fake ignore DLE EOT, like a printer behind a one-way path.
	NoRealTime bool
	// NoInOrder makes the fake ignore GS r.
	NoInOrder bool
	// DefaultPage is the code page after power-up and ESC @ (cp437 on most printers).
	DefaultPage string
}

// Item is one thing the fake printed.
type Item struct {
	Kind string // "text", "barcode", "qr", "feed", "cut", "kick"
	// Text is the decoded line, the barcode or QR data.
	Text      string
	Bold      bool
	Underline bool
	DoubleW   bool
	DoubleH   bool
	Small     bool
	Align     string // "left", "center", "right"
	Symbology string // "ean13", "code128", other: "m=<n>"
	Lines     int    // feed
	Partial   bool   // cut
	Pin       int    // kick
	// Pages lists the code pages the line's bytes were decoded with, in order of use.
	Pages []string
}

// String is the item as one transcript line: kind, alignment, styles, then the text.
func (it Item) String() string {
	switch it.Kind {
	case "text":
		var st []string
		for _, s := range []struct {
			on   bool
			name string
		}{{it.Bold, "bold"}, {it.Underline, "ul"}, {it.DoubleW, "dw"}, {it.DoubleH, "dh"}, {it.Small, "small"}} {
			if s.on {
				st = append(st, s.name)
			}
		}
		return fmt.Sprintf("text %-6s %-12s %s|%s|", it.Align, strings.Join(st, ","), strings.Join(it.Pages, ","), it.Text)
	case "barcode":
		return fmt.Sprintf("barcode %s %s %s", it.Align, it.Symbology, it.Text)
	case "qr":
		return fmt.Sprintf("qr %s %s", it.Align, it.Text)
	case "feed":
		return fmt.Sprintf("feed %d", it.Lines)
	case "cut":
		if it.Partial {
			return "cut partial"
		}
		return "cut full"
	case "kick":
		return fmt.Sprintf("kick pin %d", it.Pin)
	}
	return it.Kind
}

// Pulse is one real-time drawer pulse (DLE DC4 1 m t) the fake executed.
type Pulse struct {
	Pin int // kick-out connector pin: 2 or 5
	// On is the pulse time, t × 100 ms; the printer holds the pin off as long after it.
	On time.Duration
	// Printed is the number of items printed when the pulse fired: a pulse that overtook
	// a job fired before the job's last item.
	Printed int
}

func (pl Pulse) String() string {
	return fmt.Sprintf("pulse pin %d %v after %d items", pl.Pin, pl.On, pl.Printed)
}

// Printer is a fake ESC/POS printer. Its methods are safe for concurrent use.
type Printer struct {
	opts Options

	mu      sync.Mutex
	rx      []byte // received, not yet split into commands
	queue   []cmd  // commands waiting to execute
	printed []Item
	pulses  []Pulse
	unknown []string
	rxBytes int64

	// device state
	paperLeft  int // items until paper out; -1: plenty
	paperOut   bool
	nearEnd    bool
	coverOpen  bool
	vanished   bool
	drawerOpen bool
	errState   bool
	asb        byte
	lastASB    [4]byte
	asbSent    bool

	// modes
	page  *codepage.Page
	bold  bool
	ul    bool
	size  byte
	fontB bool
	align byte
	line  []rune
	pages []string
	qr    string

	conns   map[*conn]bool
	changed chan struct{}
}

// New returns a powered, idle fake printer with plenty of paper.
func New(opts *Options) *Printer {
	p := &Printer{paperLeft: -1, conns: map[*conn]bool{}, changed: make(chan struct{})}
	if opts != nil {
		p.opts = *opts
	}
	if p.opts.DefaultPage == "" {
		p.opts.DefaultPage = "cp437"
	}
	p.reset()
	return p
}

func (p *Printer) reset() {
	pg, err := codepage.Lookup(p.opts.DefaultPage)
	if err != nil {
		pg, _ = codepage.Lookup("cp437")
	}
	p.page, p.bold, p.ul, p.size, p.fontB, p.align = pg, false, false, 0, false, 0
	p.line, p.pages, p.qr = nil, nil, ""
}

// conn is one attachment of the fake to a port.
type conn struct {
	rw    io.ReadWriter
	reply chan []byte
	done  chan struct{}
	once  sync.Once
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		if cl, ok := c.rw.(io.Closer); ok {
			cl.Close()
		}
	})
}

// Port connects a new in-process cable to the fake and returns the driver's end. Unplug
// pulls it.
func (p *Printer) Port() io.ReadWriteCloser {
	toFake, fromDriver := io.Pipe()
	toDriver, fromFake := io.Pipe()
	fakeEnd := &duplex{r: toFake, w: fromFake, closers: []io.Closer{toFake, fromFake}}
	driverEnd := &duplex{r: toDriver, w: fromDriver, closers: []io.Closer{toDriver, fromDriver}}
	go p.Serve(fakeEnd)
	return driverEnd
}

type duplex struct {
	r       io.Reader
	w       io.Writer
	closers []io.Closer
}

func (d *duplex) Read(b []byte) (int, error)  { return d.r.Read(b) }
func (d *duplex) Write(b []byte) (int, error) { return d.w.Write(b) }
func (d *duplex) Close() error {
	for _, c := range d.closers {
		c.Close()
	}
	return nil
}

// Serve runs the fake on rw (the master of a pty, one end of a pipe) until a read fails
// or Unplug is called. It returns the read error, nil after Unplug.
func (p *Printer) Serve(rw io.ReadWriter) error {
	c := &conn{rw: rw, reply: make(chan []byte, 64), done: make(chan struct{})}
	p.mu.Lock()
	p.conns[c] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.close()
	}()
	go func() {
		for {
			select {
			case b := <-c.reply:
				if _, err := rw.Write(b); err != nil {
					return
				}
			case <-c.done:
				return
			}
		}
	}()
	var byteTime time.Duration
	size := 256
	if p.opts.Baud > 0 {
		byteTime = time.Second * 10 / time.Duration(p.opts.Baud)
		size = 16 // about 1.4 ms at 115200: fine pacing
	}
	buf := make([]byte, size)
	var next time.Time
	for {
		n, err := rw.Read(buf)
		if n > 0 && byteTime > 0 {
			// A UART clocks bytes back to back: oversleeping one batch must not slow the
			// next. Only a gap longer than the slack counts as an idle line.
			now := time.Now()
			if now.Sub(next) > paceSlack {
				next = now
			}
			next = next.Add(time.Duration(n) * byteTime)
			time.Sleep(time.Until(next))
		}
		select {
		case <-c.done:
			return nil
		default:
		}
		if n > 0 {
			p.receive(buf[:n])
		}
		if err != nil {
			return err
		}
	}
}

// paceSlack is how late a read may come and still count as continuous traffic: more than
// sleep overshoot on a loaded host, less than a line's worth of bytes at 115200 baud.
const paceSlack = 2 * time.Millisecond

// Unplug pulls every cable: the driver's next read or write fails. The fake keeps the
// bytes it received and goes on printing them, as a powered printer does.
func (p *Printer) Unplug() {
	p.mu.Lock()
	cs := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
}

// Vanish cuts the printer's power: it stops answering, forgets what it had not printed
// and drops every byte until Return.
func (p *Printer) Vanish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vanished = true
	p.rx, p.queue = nil, nil
	p.reset()
	p.asb, p.asbSent = 0, false
	p.notify()
}

// Return powers the printer back on, with default modes and automatic status off.
func (p *Printer) Return() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vanished = false
	p.notify()
}

// RunOutAfter lets n more paper-consuming items print (lines, barcodes, QR codes,
// feeds), then the paper runs out.
func (p *Printer) RunOutAfter(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paperLeft = n
	p.execute()
}

// Refill loads a new roll and resumes printing.
func (p *Printer) Refill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paperLeft, p.paperOut, p.nearEnd = -1, false, false
	p.statusChanged()
	p.execute()
}

// SetNearEnd sets the paper near-end sensor.
func (p *Printer) SetNearEnd(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nearEnd = v
	p.statusChanged()
}

// SetCover opens or closes the cover; printing stops while it is open.
func (p *Printer) SetCover(open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.coverOpen = open
	p.statusChanged()
	p.execute()
}

// SetError puts the printer in an error (a cutter jam, an overheated head) or clears it.
// Printing stops while it lasts; real-time requests are answered and pulses ignored.
func (p *Printer) SetError(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errState = on
	p.statusChanged()
	p.execute()
}

// SetDrawer sets the drawer sense switch (connector pin 3 high when open). A kick (ESC p
// in the job, or a real-time DLE DC4 pulse) opens the drawer; a test closes it.
func (p *Printer) SetDrawer(open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawerOpen = open
	p.statusChanged()
}

// Printed returns everything printed so far.
func (p *Printer) Printed() []Item {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Item(nil), p.printed...)
}

// Pulses returns the real-time drawer pulses executed so far, oldest first. They are not
// in Printed: they fire as they arrive, outside the order of the job.
func (p *Printer) Pulses() []Pulse {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Pulse(nil), p.pulses...)
}

// Text returns the printout as plain text: one line per text line (trailing spaces
// removed), and a bracketed line per barcode, QR code, feed, cut and kick.
func (p *Printer) Text() string {
	return Text(p.Printed())
}

// Text renders items as Printer.Text does.
func Text(items []Item) string {
	var b strings.Builder
	for _, it := range items {
		switch it.Kind {
		case "text":
			b.WriteString(strings.TrimRight(it.Text, " "))
		case "barcode":
			fmt.Fprintf(&b, "[%s %s]", strings.ToUpper(it.Symbology), it.Text)
		case "qr":
			fmt.Fprintf(&b, "[QR %s]", it.Text)
		default:
			fmt.Fprintf(&b, "[%s]", it.String())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Transcript returns one Item.String line per item: text with alignment, styles and code
// pages, for golden files.
func (p *Printer) Transcript() string {
	var b strings.Builder
	for _, it := range p.Printed() {
		b.WriteString(it.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Unknown lists the commands the fake did not understand, as "ESC x" strings.
func (p *Printer) Unknown() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.unknown...)
}

// Received is the number of bytes the fake has accepted (bytes dropped while vanished
// excluded).
func (p *Printer) Received() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rxBytes
}

// Changed returns a channel closed at the next change of what the fake printed or of its
// state; tests wait on it instead of sleeping.
func (p *Printer) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// WaitFor waits until cond (called with the printed items) holds or timeout passes, and
// reports whether it held.
func (p *Printer) WaitFor(timeout time.Duration, cond func([]Item) bool) bool {
	deadline := time.After(timeout)
	for {
		ch := p.Changed()
		if cond(p.Printed()) {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return cond(p.Printed())
		}
	}
}

// Decode runs bytes through a fresh fake with plenty of paper and returns what it
// prints and the commands it did not understand. Text after the last LF stays in the
// fake's line buffer, unprinted, as on a printer.
func Decode(b []byte) (items []Item, unknown []string) {
	p := New(nil)
	p.receive(b)
	return p.Printed(), p.Unknown()
}

func (p *Printer) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// send queues a reply on every attached cable. The caller holds mu.
func (p *Printer) send(b ...byte) {
	for c := range p.conns {
		select {
		case c.reply <- append([]byte(nil), b...):
		default: // the driver is not reading: a UART would drop it too
		}
	}
}

var errNeedMore = errors.New("need more bytes")

// Feed hands bytes to the fake as if they arrived on the line, without a port.
func (p *Printer) Feed(b []byte) { p.receive(b) }
