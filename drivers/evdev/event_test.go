package evdev

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"syscall"
	"testing"
	"unsafe"
)

// kernelEvent mirrors struct input_event with the platform's own timeval, so the size
// check below is against what the C ABI says, not against this package's arithmetic.
type kernelEvent struct {
	Time  syscall.Timeval
	Type  uint16
	Code  uint16
	Value int32
}

func TestNativeLayoutIsTheKernelStructSize(t *testing.T) {
	if got, want := int(Native), int(unsafe.Sizeof(kernelEvent{})); got != want {
		t.Fatalf("Native = %d bytes, struct input_event is %d on this GOARCH", got, want)
	}
}

func TestDecodeLayouts(t *testing.T) {
	ne := binary.NativeEndian
	rec64 := ne.AppendUint64(nil, 1700000000)
	rec64 = ne.AppendUint64(rec64, 123456)
	rec64 = ne.AppendUint16(rec64, EvKey)
	rec64 = ne.AppendUint16(rec64, KeyEnter)
	rec64 = ne.AppendUint32(rec64, 1)

	rec32 := ne.AppendUint32(nil, 0xfffffff0) // past 2038: unsigned on 32-bit kernels
	rec32 = ne.AppendUint32(rec32, 999999)
	rec32 = ne.AppendUint16(rec32, EvKey)
	rec32 = ne.AppendUint16(rec32, KeyLeftShift)
	rec32 = ne.AppendUint32(rec32, 0xffffffff) // value is signed

	tests := []struct {
		name string
		in   []byte
		l    Layout
		want Event
	}{
		{"64-bit press of Enter", rec64, Layout64, Event{Sec: 1700000000, Usec: 123456, Type: EvKey, Code: KeyEnter, Value: 1}},
		{"32-bit record with a y2038 time and a negative value", rec32, Layout32, Event{Sec: 0xfffffff0, Usec: 999999, Type: EvKey, Code: KeyLeftShift, Value: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.in) != int(tt.l) {
				t.Fatalf("fixture is %d bytes, layout %d", len(tt.in), tt.l)
			}
			got, err := Decode(tt.in, tt.l)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Decode = %+v, want %+v", got, tt.want)
			}
			back, err := Encode(tt.l, got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, tt.in) {
				t.Fatalf("Encode(Decode(b)) = % x, want % x", back, tt.in)
			}
		})
	}
}

func TestDecodeRejectsBadLayoutAndShortInput(t *testing.T) {
	if _, err := Decode(make([]byte, 20), Layout(20)); !errors.Is(err, ErrLayout) {
		t.Fatalf("layout 20: err = %v, want ErrLayout", err)
	}
	if _, err := Decode(make([]byte, 15), Layout32); !errors.Is(err, ErrShortEvent) {
		t.Fatalf("15 bytes: err = %v, want ErrShortEvent", err)
	}
	if _, err := NewReader(bytes.NewReader(nil), 0); !errors.Is(err, ErrLayout) {
		t.Fatalf("NewReader layout 0: err = %v, want ErrLayout", err)
	}
}

// A 32-bit process reading a stream written for 64-bit (or the reverse) must not be
// silently misread as the right number of events; this is why the layout is explicit.
func TestReaderReadsEachLayoutAndStopsCleanly(t *testing.T) {
	evs, err := Type("A1\r")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []Layout{Layout32, Layout64} {
		t.Run(l.String(), func(t *testing.T) {
			b, err := Encode(l, evs...)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != len(evs)*int(l) {
				t.Fatalf("encoded %d bytes for %d events", len(b), len(evs))
			}
			// One byte at a time: a pipe may split records anywhere.
			r, err := NewReader(&oneByte{b: b}, l)
			if err != nil {
				t.Fatal(err)
			}
			var got []Event
			for {
				e, err := r.ReadEvent()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e)
			}
			if len(got) != len(evs) {
				t.Fatalf("read %d events, want %d", len(got), len(evs))
			}
			for i := range got {
				if got[i] != evs[i] {
					t.Fatalf("event %d = %v, want %v", i, got[i], evs[i])
				}
			}
		})
	}
}

func TestReaderReportsTruncatedRecord(t *testing.T) {
	b, _ := Encode(Layout64, Event{Type: EvKey, Code: KeyA, Value: 1})
	r, _ := NewReader(bytes.NewReader(b[:10]), Layout64)
	_, err := r.ReadEvent()
	if !errors.Is(err, ErrShortEvent) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want ErrShortEvent wrapping io.ErrUnexpectedEOF", err)
	}
}

func TestKeyNamesRoundTrip(t *testing.T) {
	for code, name := range keyNames {
		if got := KeyName(code); got != name {
			t.Errorf("KeyName(%d) = %q, want %q", code, got, name)
		}
		if got, ok := KeyCode(name); !ok || got != code {
			t.Errorf("KeyCode(%q) = %d, %v, want %d", name, got, ok, code)
		}
	}
	if got, ok := KeyCode("key_kpenter"); !ok || got != KeyKPEnter {
		t.Errorf("lower-case name: got %d, %v", got, ok)
	}
	if got, ok := KeyCode(KeyName(250)); !ok || got != 250 {
		t.Errorf("unnamed code 250 does not round-trip: %d, %v", got, ok)
	}
	for _, bad := range []string{"", "KEY_NOPE", "0", "70000", "-3", "768"} {
		if c, ok := KeyCode(bad); ok {
			t.Errorf("KeyCode(%q) = %d, want failure", bad, c)
		}
	}
}

type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = o.b[0]
	o.b = o.b[1:]
	return 1, nil
}
