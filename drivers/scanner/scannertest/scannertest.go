package scannertest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"tillbox/drivers/evdev"
	"tillbox/drivers/scanner"
)

// Serial is the scanner end of a serial line. Its methods may be called from several
// goroutines; each write goes out whole.
type Serial struct {
	mu     sync.Mutex
	w      io.Writer
	suffix scanner.Suffix
}

// NewSerial returns a scanner writing to w with the given suffix.
func NewSerial(w io.Writer, suffix scanner.Suffix) *Serial {
	return &Serial{w: w, suffix: suffix}
}

// Pipe returns a Serial connected in-process to the returned reader, which is what a
// driver is given as its port.
func Pipe(suffix scanner.Suffix) (*Serial, io.ReadCloser) {
	r, w := io.Pipe()
	return NewSerial(w, suffix), r
}

func (s *Serial) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("scannertest: write: %w", err)
	}
	return nil
}

// Scan sends code and the suffix in one write, as a scanner sends a decoded barcode.
func (s *Serial) Scan(code string) error {
	return s.write(append([]byte(code), s.suffix.Bytes()...))
}

// Cut sends the first n bytes of code and nothing more: a read cut off by a loose cable or
// a scanner reset. What the driver sees next depends on how long the caller waits.
func (s *Serial) Cut(code string, n int) error {
	n = max(0, min(n, len(code)))
	return s.write([]byte(code[:n]))
}

// Garbage sends b as it is.
func (s *Serial) Garbage(b []byte) error { return s.write(b) }

// Noise sends n random bytes of any value (line noise, a wrong baud rate, a scanner
// booting) drawn from r, so that a test can replay them from its seed.
func (s *Serial) Noise(r *rand.Rand, n int) error {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return s.write(b)
}

// Close closes the writer if it can be closed (a pipe, a pty master): the scanner is gone.
func (s *Serial) Close() error {
	if c, ok := s.w.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Step is one action of a script for Play.
type Step struct {
	// Scan is a code to send; with Cut > 0 only its first Cut bytes, without suffix.
	Scan string
	Cut  int
	// Garbage is sent as it is, after Scan.
	Garbage []byte
	// Pause is how long to wait after the step: long enough after a Cut for the driver's
	// partial timeout, or to space out codes for a SuffixNone scanner.
	Pause time.Duration
}

// Play runs steps in order, for the sim board and for demonstrations; tests that must not
// depend on timing wait for the driver's events instead of pausing.
func (s *Serial) Play(steps ...Step) error {
	for _, st := range steps {
		if st.Scan != "" {
			var err error
			if st.Cut > 0 {
				err = s.Cut(st.Scan, st.Cut)
			} else {
				err = s.Scan(st.Scan)
			}
			if err != nil {
				return err
			}
		}
		if len(st.Garbage) > 0 {
			if err := s.Garbage(st.Garbage); err != nil {
				return err
			}
		}
		time.Sleep(st.Pause)
	}
	return nil
}

// Wedge is a USB keyboard-wedge scanner as seen through evdev.
type Wedge struct {
	mu     sync.Mutex
	w      io.Writer
	layout evdev.Layout
	suffix scanner.Suffix
}

// NewWedge returns a wedge scanner writing input_event records in layout l to w. The
// suffix is typed as keys: Enter for CR, Ctrl+J for LF, Tab for TAB.
func NewWedge(w io.Writer, l evdev.Layout, suffix scanner.Suffix) *Wedge {
	return &Wedge{w: w, layout: l, suffix: suffix}
}

// WedgePipe returns a Wedge connected in-process to the returned reader.
func WedgePipe(l evdev.Layout, suffix scanner.Suffix) (*Wedge, io.ReadCloser) {
	r, w := io.Pipe()
	return NewWedge(w, l, suffix), r
}

func (k *Wedge) write(evs []evdev.Event) error {
	now := time.Now()
	for i := range evs {
		evs[i].Sec, evs[i].Usec = now.Unix(), int64(now.Nanosecond()/1000)
	}
	b, err := evdev.Encode(k.layout, evs...)
	if err != nil {
		return fmt.Errorf("scannertest: wedge: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := k.w.Write(b); err != nil {
		return fmt.Errorf("scannertest: wedge write: %w", err)
	}
	return nil
}

func (k *Wedge) typ(s string) error {
	evs, err := evdev.Type(s)
	if err != nil {
		return fmt.Errorf("scannertest: wedge: %w", err)
	}
	return k.write(evs)
}

// Scan types code and the suffix.
func (k *Wedge) Scan(code string) error { return k.typ(code + string(k.suffix.Bytes())) }

// Cut types the first n characters of code and stops.
func (k *Wedge) Cut(code string, n int) error {
	n = max(0, min(n, len(code)))
	return k.typ(code[:n])
}

// Keys presses and releases keys, for keys that type no character (F5, arrows) showing
// up in the middle of a code.
func (k *Wedge) Keys(codes ...uint16) error {
	var evs []evdev.Event
	for _, c := range codes {
		evs = append(evs, evdev.KeyStroke(c)...)
	}
	return k.write(evs)
}

// Dropped sends a SYN_DROPPED, as the kernel does when its event buffer overflowed.
func (k *Wedge) Dropped() error {
	return k.write([]evdev.Event{{Type: evdev.EvSyn, Code: evdev.SynDropped}})
}

// Bytes writes b as it is, for streams that are not whole records.
func (k *Wedge) Bytes(b []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, err := k.w.Write(b)
	return err
}

// Close closes the writer if it can be closed: the scanner was unplugged.
func (k *Wedge) Close() error {
	if c, ok := k.w.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
