package evdev

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// Event types, codes and values used by the till (include/uapi/linux/input-event-codes.h).
const (
	EvSyn = 0x00
	EvKey = 0x01
	EvMsc = 0x04
	EvLed = 0x11
	EvRep = 0x14

	SynReport  = 0
	SynDropped = 3

	MscScan = 4

	// Values of an EvKey event.
	Release = 0
	Press   = 1
	Repeat  = 2
)

// Layout is the size in bytes of one input_event record as the kernel writes it to this
// process: 16 for 32-bit processes, 24 for 64-bit ones.
type Layout int

const (
	Layout32 Layout = 16
	Layout64 Layout = 24

	// Native is the layout for the GOARCH this package was compiled for: two machine words
	// of timeval, then 8 bytes of type, code and value.
	Native Layout = Layout(2*bits.UintSize/8 + 8)
)

func (l Layout) String() string {
	switch l {
	case Layout32:
		return "input_event/32-bit(16 bytes)"
	case Layout64:
		return "input_event/64-bit(24 bytes)"
	}
	return fmt.Sprintf("input_event/invalid(%d bytes)", int(l))
}

// Valid reports whether l is one of the two layouts the kernel uses.
func (l Layout) Valid() bool { return l == Layout32 || l == Layout64 }

// Event is one input_event. Sec and Usec are the kernel's timestamp as it was written (the
// clock is whatever the device was set to, CLOCK_REALTIME by default), kept raw so that
// Encode(Decode(b)) == b.
type Event struct {
	Sec   int64
	Usec  int64
	Type  uint16
	Code  uint16
	Value int32
}

// Time returns the event's timestamp.
func (e Event) Time() time.Time { return time.Unix(e.Sec, e.Usec*1000) }

func (e Event) String() string {
	if e.Type == EvKey {
		return fmt.Sprintf("EV_KEY %s %d", KeyName(e.Code), e.Value)
	}
	return fmt.Sprintf("type %#x code %d value %d", e.Type, e.Code, e.Value)
}

// Decode reads one event from the first l bytes of b. It fails only if l is not a valid
// layout or b is shorter than one record; any bytes make some event.
func Decode(b []byte, l Layout) (Event, error) {
	if !l.Valid() {
		return Event{}, fmt.Errorf("evdev: decode: %w: %d", ErrLayout, int(l))
	}
	if len(b) < int(l) {
		return Event{}, fmt.Errorf("evdev: decode: %w: %d of %d bytes", ErrShortEvent, len(b), int(l))
	}
	ne := binary.NativeEndian
	var e Event
	var rest []byte
	if l == Layout64 {
		e.Sec = int64(ne.Uint64(b[0:]))
		e.Usec = int64(ne.Uint64(b[8:]))
		rest = b[16:]
	} else {
		// Unsigned: 32-bit kernels made __sec a __kernel_ulong_t to last past 2038.
		e.Sec = int64(ne.Uint32(b[0:]))
		e.Usec = int64(ne.Uint32(b[4:]))
		rest = b[8:]
	}
	e.Type = ne.Uint16(rest[0:])
	e.Code = ne.Uint16(rest[2:])
	e.Value = int32(ne.Uint32(rest[4:]))
	return e, nil
}

// Append appends the l-byte record of e to b. Timestamps that do not fit a 32-bit layout
// are truncated to their low 32 bits, as the kernel's own would be.
func Append(b []byte, l Layout, e Event) ([]byte, error) {
	if !l.Valid() {
		return b, fmt.Errorf("evdev: encode: %w: %d", ErrLayout, int(l))
	}
	ne := binary.NativeEndian
	if l == Layout64 {
		b = ne.AppendUint64(b, uint64(e.Sec))
		b = ne.AppendUint64(b, uint64(e.Usec))
	} else {
		b = ne.AppendUint32(b, uint32(e.Sec))
		b = ne.AppendUint32(b, uint32(e.Usec))
	}
	b = ne.AppendUint16(b, e.Type)
	b = ne.AppendUint16(b, e.Code)
	b = ne.AppendUint32(b, uint32(e.Value))
	return b, nil
}

// Encode returns the records of evs in layout l, ready to be written where a driver reads.
func Encode(l Layout, evs ...Event) ([]byte, error) {
	b := make([]byte, 0, len(evs)*int(l))
	for _, e := range evs {
		var err error
		if b, err = Append(b, l, e); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Reader reads whole events from a stream that may deliver them in pieces (a pipe, a
// socket); an event device itself always returns whole records.
type Reader struct {
	r   io.Reader
	l   Layout
	buf [24]byte
}

// NewReader returns a Reader of l-layout events from r.
func NewReader(r io.Reader, l Layout) (*Reader, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("evdev: new reader: %w: %d", ErrLayout, int(l))
	}
	return &Reader{r: r, l: l}, nil
}

// Layout returns the record layout r reads.
func (r *Reader) Layout() Layout { return r.l }

// ReadEvent returns the next event. At the end of the stream it returns io.EOF if the
// stream ended between records and an error wrapping ErrShortEvent (and
// io.ErrUnexpectedEOF) if it ended inside one; other read errors are wrapped as they are.
func (r *Reader) ReadEvent() (Event, error) {
	b := r.buf[:r.l]
	n, err := io.ReadFull(r.r, b)
	switch {
	case err == io.EOF:
		return Event{}, io.EOF
	case err == io.ErrUnexpectedEOF:
		return Event{}, fmt.Errorf("evdev: read: %w after %d bytes: %w", ErrShortEvent, n, err)
	case err != nil:
		return Event{}, fmt.Errorf("evdev: read: %w", err)
	}
	return Decode(b, r.l)
}
