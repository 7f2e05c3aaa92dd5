package keypadtest

import (
	"fmt"
	"io"
	"sync"
	"time"

	"tillbox/drivers/evdev"
	"tillbox/drivers/keypad"
)

// Fake is a POS keyboard. Its methods may be called from several goroutines; each call's
// events are written at once.
type Fake struct {
	mu     sync.Mutex
	w      io.Writer
	layout evdev.Layout
	codes  map[keypad.Key]uint16
}

// New returns a keyboard writing records in layout l to w and sending, for each POS key,
// the lowest code m maps to it.
func New(w io.Writer, l evdev.Layout, m keypad.Map) *Fake {
	f := &Fake{w: w, layout: l, codes: map[keypad.Key]uint16{}}
	for c, k := range m {
		if old, ok := f.codes[k]; !ok || c < old {
			f.codes[k] = c
		}
	}
	return f
}

// Pipe returns a Fake connected in-process to the returned reader, the driver's port.
func Pipe(l evdev.Layout, m keypad.Map) (*Fake, io.ReadCloser) {
	r, w := io.Pipe()
	return New(w, l, m), r
}

func (f *Fake) code(k keypad.Key) (uint16, error) {
	c, ok := f.codes[k]
	if !ok {
		return 0, fmt.Errorf("keypadtest: no code is mapped to %v", k)
	}
	return c, nil
}

func (f *Fake) write(evs []evdev.Event) error {
	now := time.Now()
	for i := range evs {
		evs[i].Sec, evs[i].Usec = now.Unix(), int64(now.Nanosecond()/1000)
	}
	b, err := evdev.Encode(f.layout, evs...)
	if err != nil {
		return fmt.Errorf("keypadtest: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.w.Write(b); err != nil {
		return fmt.Errorf("keypadtest: write: %w", err)
	}
	return nil
}

// Press presses and releases each key in turn.
func (f *Fake) Press(keys ...keypad.Key) error {
	var evs []evdev.Event
	for _, k := range keys {
		c, err := f.code(k)
		if err != nil {
			return err
		}
		evs = append(evs, evdev.KeyStroke(c)...)
	}
	return f.write(evs)
}

// Digits presses the digit keys of s ("1250"), with "." as DECIMAL.
func (f *Fake) Digits(s string) error {
	var keys []keypad.Key
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			keys = append(keys, keypad.Key0+keypad.Key(r-'0'))
		case r == '.':
			keys = append(keys, keypad.KeyDecimal)
		default:
			return fmt.Errorf("keypadtest: digits %q: %q is not a digit", s, r)
		}
	}
	return f.Press(keys...)
}

// Hold presses k, lets the keyboard autorepeat it n times, and releases it.
func (f *Fake) Hold(k keypad.Key, n int) error {
	c, err := f.code(k)
	if err != nil {
		return err
	}
	return f.HoldCode(c, n)
}

// HoldCode is Hold for a raw key code.
func (f *Fake) HoldCode(code uint16, n int) error {
	evs := []evdev.Event{{Type: evdev.EvKey, Code: code, Value: evdev.Press}, {Type: evdev.EvSyn}}
	for i := 0; i < n; i++ {
		evs = append(evs, evdev.Event{Type: evdev.EvKey, Code: code, Value: evdev.Repeat}, evdev.Event{Type: evdev.EvSyn})
	}
	evs = append(evs, evdev.Event{Type: evdev.EvKey, Code: code, Value: evdev.Release}, evdev.Event{Type: evdev.EvSyn})
	return f.write(evs)
}

// Codes presses and releases raw key codes, mapped or not, each preceded by the MSC_SCAN
// event a USB keyboard sends with it.
func (f *Fake) Codes(codes ...uint16) error {
	var evs []evdev.Event
	for _, c := range codes {
		evs = append(evs, evdev.Event{Type: evdev.EvMsc, Code: evdev.MscScan, Value: 0x70000 + int32(c)})
		evs = append(evs, evdev.KeyStroke(c)...)
	}
	return f.write(evs)
}

// Close closes the writer if it can be closed: the keyboard was unplugged.
func (f *Fake) Close() error {
	if c, ok := f.w.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
