package scanner

import (
	"fmt"
	"io"
	"time"

	"periph.io/x/conn/v3"

	"tillbox/drivers"
	"tillbox/drivers/evdev"
)

// Status is the scanner's state and its counters since New.
type Status struct {
	// State is drivers.Online while the port is read, drivers.Offline once it failed
	// until Reattach, drivers.Halted after Halt.
	State drivers.State
	// Err is why the scanner went offline; nil otherwise.
	Err error
	// Scans and Rejects count the scan events made; Dropped counts those lost because the
	// Events channel was full.
	Scans, Rejects, Dropped uint64
}

// EventKind tells a scan from a status change.
type EventKind uint8

const (
	EventScan EventKind = iota + 1
	EventStatus
)

// Event is one thing the scanner reports. Status is the whole status after the event, so
// a consumer that missed events still ends with the right state.
type Event struct {
	Kind   EventKind
	Scan   Scan // for EventScan
	Status Status
}

// Dev is a barcode scanner read from a port. It is safe for concurrent use.
type Dev struct {
	opts  Opts
	wedge bool
	s     *drivers.Stream[Event]
	// scans and rejects are guarded by s (see drivers.Stream.Emit).
	scans, rejects uint64
}

var _ conn.Resource = (*Dev)(nil)

// New returns a Dev reading a serial scanner's bytes from port: codes followed by
// o.Suffix. port is typically a go.bug.st/serial port board opened at the scanner's baud.
// A nil o means DefaultOpts. Reading starts at once; the first event reports Online.
func New(port io.Reader, o *Opts) (*Dev, error) {
	return newDev(port, o, false)
}

// NewWedge returns a Dev reading a USB keyboard-wedge scanner through its evdev device:
// port yields struct input_event records in o.Layout (board opens and grabs
// /dev/input/eventN). Keys are read as US scancodes whatever the host layout; Enter is the
// CR suffix and Tab the TAB suffix; a key that types no character, or lost events
// (SYN_DROPPED), make the code being typed a ReasonNoise rejection.
func NewWedge(port io.Reader, o *Opts) (*Dev, error) {
	return newDev(port, o, true)
}

func newDev(port io.Reader, o *Opts, wedge bool) (*Dev, error) {
	op, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("scanner: new: %w", err)
	}
	d := &Dev{opts: op, wedge: wedge}
	d.s = drivers.NewStream("scanner", op.EventBuffer, d.read, d.statusEvent)
	if err := d.s.Start(port); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dev) String() string {
	kind := "serial"
	if d.wedge {
		kind = "wedge"
	}
	return fmt.Sprintf("%s (%s, suffix %s)", d.opts.Name, kind, d.opts.Suffix)
}

// Events returns the channel of scans and status changes. It is closed by Halt. The
// driver never blocks on it: when it is full, events are dropped and Status.Dropped
// counts them.
func (d *Dev) Events() <-chan Event { return d.s.Events() }

// Status returns the current status.
func (d *Dev) Status() Status { return drivers.StatusOf(d.s, d.status) }

// status must be called with d.s's lock held.
func (d *Dev) status(c drivers.StreamStatus) Status {
	return Status{State: c.State, Err: c.Err, Scans: d.scans, Rejects: d.rejects, Dropped: c.Dropped}
}

func (d *Dev) statusEvent(c drivers.StreamStatus) Event {
	return Event{Kind: EventStatus, Status: d.status(c)}
}

// Halt stops reading: no event is delivered after it returns, the Events channel is
// closed, and a pending partial code is dropped. The port belongs to the caller; a Read
// blocked in it returns when the caller closes it. Halt is idempotent and always nil.
func (d *Dev) Halt() error { return d.s.Halt() }

// Reattach starts reading a new port after the previous one failed (the Dev is Offline),
// keeping the Events channel and the counters: a supervisor reopens the device and hands
// it here, and the till's consumer never notices more than two status events.
func (d *Dev) Reattach(port io.Reader) error { return d.s.Reattach(port) }

func (d *Dev) emitScan(s Scan) {
	d.s.Emit(func(c drivers.StreamStatus) Event {
		if s.Good() {
			d.scans++
		} else {
			d.rejects++
		}
		return Event{Kind: EventScan, Scan: s, Status: d.status(c)}
	})
}

type chunk struct {
	b   []byte
	err error
}

// read frames and parses what the reader goroutine delivers; timing (partial reads, the
// pause that ends a suffix-less code) lives here so that the reader can stay blocked in
// Read. It is the Dev's drivers.ReadFunc.
func (d *Dev) read(port io.Reader, halt <-chan struct{}) error {
	stop := make(chan struct{})
	defer close(stop)
	chunks := make(chan chunk, 16)
	if d.wedge {
		go d.readWedge(port, chunks, stop)
	} else {
		go d.readSerial(port, chunks, stop)
	}
	f := framer{suffix: d.opts.Suffix, max: d.opts.MaxLine}
	wait := d.opts.PartialTimeout
	if f.suffix == SuffixNone {
		wait = d.opts.InterCharTimeout
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	out := func(raw []byte, r Reason) {
		if r != ReasonNone {
			d.emitScan(reject(r, SymbologyNone, raw))
			return
		}
		d.emitScan(parse(raw, &d.opts))
	}
	for {
		select {
		case <-halt:
			return nil
		case c := <-chunks:
			f.feed(c.b, out)
			if c.err != nil {
				// The port died: what was pending never got its suffix.
				if len(f.buf) > 0 {
					out(f.buf, ReasonPartial)
				}
				return c.err
			}
			if f.pending() {
				timer.Reset(wait)
			} else {
				timer.Stop()
			}
		case <-timer.C:
			f.silence(out)
		}
	}
}

// idleSleep keeps a port that returns (0, nil) at once, as a serial port with a read
// timeout or a misbehaving reader does, from spinning a core.
func idleSleep(n int) time.Duration {
	if n < 3 {
		return 0
	}
	return min(time.Duration(n)*time.Millisecond, idleCap)
}

// idleCap bounds the latency an idle port adds to the first byte after it.
const idleCap = 50 * time.Millisecond

func deliver(out chan<- chunk, c chunk, stop <-chan struct{}) bool {
	select {
	case out <- c:
		return true
	case <-stop:
		return false
	}
}

func (d *Dev) readSerial(port io.Reader, out chan<- chunk, stop <-chan struct{}) {
	buf := make([]byte, 256)
	idle := 0
	for {
		n, err := port.Read(buf)
		if n > 0 {
			idle = 0
			if !deliver(out, chunk{b: append([]byte(nil), buf[:n]...)}, stop) {
				return
			}
		}
		if err != nil {
			deliver(out, chunk{err: err}, stop)
			return
		}
		if n == 0 {
			idle++
			time.Sleep(idleSleep(idle))
		}
		select {
		case <-stop:
			return
		default:
		}
	}
}

// noiseByte stands in for a key that typed nothing: it can never be part of a good code,
// so the line it lands in is rejected as noise.
const noiseByte = 0x00

func (d *Dev) readWedge(port io.Reader, out chan<- chunk, stop <-chan struct{}) {
	r, err := evdev.NewReader(port, d.opts.Layout)
	if err != nil {
		deliver(out, chunk{err: err}, stop)
		return
	}
	var kb evdev.Keyboard
	for {
		e, err := r.ReadEvent()
		if err != nil {
			deliver(out, chunk{err: err}, stop)
			return
		}
		c, pressed := kb.Feed(e)
		if !pressed {
			continue
		}
		if c == 0 {
			c = noiseByte
		}
		if !deliver(out, chunk{b: []byte{c}}, stop) {
			return
		}
	}
}

// framer cuts a byte stream into lines by suffix, bounds them, and says what silence
// means. It has no clock; read tells it when silence came.
type framer struct {
	suffix Suffix
	max    int
	buf    []byte
	// skipping is set after an oversize line was rejected: its rest is dropped up to the
	// next suffix or silence, so that a tail is never parsed as a code of its own.
	skipping bool
}

func (f *framer) isEnd(c byte) bool {
	switch f.suffix {
	case SuffixCR, SuffixLF, SuffixCRLF:
		return c == '\r' || c == '\n'
	case SuffixTab:
		return c == '\t'
	}
	return false
}

func (f *framer) feed(b []byte, out func([]byte, Reason)) {
	for _, c := range b {
		switch {
		case f.isEnd(c):
			if !f.skipping && len(f.buf) > 0 {
				out(f.buf, ReasonNone)
			}
			f.reset()
		case f.skipping:
		case len(f.buf) >= f.max:
			out(f.buf, ReasonOversize)
			f.reset()
			f.skipping = true
		default:
			f.buf = append(f.buf, c)
		}
	}
}

// silence is called when no byte came for the timeout: with SuffixNone it ends a code,
// otherwise what is pending was cut off.
func (f *framer) silence(out func([]byte, Reason)) {
	if !f.skipping && len(f.buf) > 0 {
		if f.suffix == SuffixNone {
			out(f.buf, ReasonNone)
		} else {
			out(f.buf, ReasonPartial)
		}
	}
	f.reset()
}

func (f *framer) pending() bool { return len(f.buf) > 0 || f.skipping }

// reset keeps the buffer's memory: parse and reject copy what they keep.
func (f *framer) reset() {
	f.buf = f.buf[:0]
	f.skipping = false
}
