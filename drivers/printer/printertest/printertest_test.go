package printertest

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecodeStylesCodesAndFallbackText(t *testing.T) {
	in := []byte("\x1b@\x1bE\x01\x1ba\x01Bold\n\x1bE\x00\x1ba\x00\x1bt\x12\xbd\xa2\x88\x86\x1bt\x13 \xd5\n" +
		"\x1dk\x43\x0c590123412345\x1dk\x49\x06{Ba{{b" +
		"\x1d(k\x06\x001P0abc\x1d(k\x03\x001Q0\x1bd\x02\x1dVB\x03\x1bp\x01\x19\xfa\x1b\xee")
	items, unknown := Decode(in)
	want := []string{
		"text center bold         cp437|Bold|",
		"text left                cp852,cp858|Żółć €|",
		"barcode left ean13 5901234123457",
		"barcode left code128 a{b",
		"qr left abc",
		"feed 2",
		"cut partial",
		"kick pin 5",
	}
	var got []string
	for _, it := range items {
		got = append(got, it.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("decoded\n%q\nwant\n%q", got, want)
	}
	if !slices.Equal(unknown, []string{`ESC 'î'`}) {
		t.Errorf("unknown %q", unknown)
	}
}

func TestRealTimeAnswersFollowState(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*Printer)
		n     byte
		want  byte
	}{
		{"online", func(*Printer) {}, 1, 0x12},
		{"cover open is offline", func(p *Printer) { p.SetCover(true) }, 1, 0x1a},
		{"cover open cause", func(p *Printer) { p.SetCover(true) }, 2, 0x16},
		{"paper out", func(p *Printer) { p.RunOutAfter(0); p.Feed([]byte("x\n")) }, 4, 0x72},
		{"near end", func(p *Printer) { p.SetNearEnd(true) }, 4, 0x1e},
		{"drawer open", func(p *Printer) { p.SetDrawer(true) }, 1, 0x16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(nil)
			port := p.Port()
			t.Cleanup(func() { port.Close() })
			tt.setup(p)
			if _, err := port.Write([]byte{0x10, 0x04, tt.n}); err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 1)
			if _, err := io.ReadFull(port, b); err != nil {
				t.Fatal(err)
			}
			if b[0] != tt.want {
				t.Errorf("DLE EOT %d = %02x, want %02x", tt.n, b[0], tt.want)
			}
		})
	}
}

func TestPlaybackChecksTheScript(t *testing.T) {
	p := &Playback{Ops: []IO{{W: []byte{0x10, 0x04, 0x01}, R: []byte{0x12}}, {W: []byte("ok\n")}}}
	if _, err := p.Write([]byte{0x10, 0x04}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte{0x01, 'o'}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if n, err := p.Read(b); err != nil || n != 1 || b[0] != 0x12 {
		t.Fatalf("read %d % x %v", n, b[:n], err)
	}
	if err := p.Close(); err == nil {
		t.Error("Close with an unfinished exchange succeeded")
	}
	q := &Playback{Ops: []IO{{W: []byte("a")}}}
	if _, err := q.Write([]byte("b")); !errors.Is(err, ErrMismatch) {
		t.Errorf("mismatched write: %v", err)
	}
}

func TestRecordThenPlayback(t *testing.T) {
	fake := New(nil)
	port := fake.Port()
	t.Cleanup(func() { port.Close() })
	rec := &Record{Port: port}
	rec.Write([]byte{0x10, 0x04, 0x02})
	b := make([]byte, 1)
	if _, err := io.ReadFull(rec, b); err != nil {
		t.Fatal(err)
	}
	ops := rec.Ops()
	if len(ops) != 1 || !slices.Equal(ops[0].R, []byte{0x12}) {
		t.Fatalf("recorded %v", ops)
	}
	pb := &Playback{Ops: ops}
	pb.Write([]byte{0x10, 0x04, 0x02})
	pb.Read(b)
	if err := pb.Close(); err != nil {
		t.Error(err)
	}
}

func TestRealTimePulseFiresOrIsIgnoredLikeThePrinter(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*Printer)
		in    string
		want  []Pulse
		open  bool
	}{
		{"pin 2, 100 ms", func(*Printer) {}, "\x10\x14\x01\x00\x01", []Pulse{{Pin: 2, On: 100 * time.Millisecond}}, true},
		{"pin 5, 800 ms", func(*Printer) {}, "\x10\x14\x01\x01\x08", []Pulse{{Pin: 5, On: 800 * time.Millisecond}}, true},
		{"after a printed line", func(*Printer) {}, "a\n\x10\x14\x01\x00\x02", []Pulse{{Pin: 2, On: 200 * time.Millisecond, Printed: 1}}, true},
		{"pin selector 2", func(*Printer) {}, "\x10\x14\x01\x02\x01", nil, false},
		{"pin selector '0'", func(*Printer) {}, "\x10\x14\x01\x30\x01", nil, false},
		{"time 0", func(*Printer) {}, "\x10\x14\x01\x00\x00", nil, false},
		{"time 9", func(*Printer) {}, "\x10\x14\x01\x00\x09", nil, false},
		{"power-off function", func(*Printer) {}, "\x10\x14\x02\x01\x08", nil, false},
		{"in an error", func(p *Printer) { p.SetError(true) }, "\x10\x14\x01\x00\x01", nil, false},
		{"paper out", func(p *Printer) { p.RunOutAfter(0); p.Feed([]byte("x\n")) }, "\x10\x14\x01\x00\x01", []Pulse{{Pin: 2, On: 100 * time.Millisecond}}, true},
		{"cover open, a line waiting", func(p *Printer) { p.SetCover(true); p.Feed([]byte("waiting\n")) }, "\x10\x14\x01\x01\x01", []Pulse{{Pin: 5, On: 100 * time.Millisecond}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(nil)
			tt.setup(p)
			// The line after the pulse prints whole: a malformed pulse is ignored, not a
			// loss of sync with the stream.
			p.Feed([]byte(tt.in + "after\n"))
			if got := p.Pulses(); !slices.Equal(got, tt.want) {
				t.Errorf("pulses %v, want %v", got, tt.want)
			}
			p.SetCover(false)
			p.SetError(false)
			p.Refill()
			if lines := strings.Split(strings.TrimSpace(p.Text()), "\n"); lines[len(lines)-1] != "after" {
				t.Errorf("printout %q does not end with the line after the pulse", p.Text())
			}
			if got := statusByte(t, p, 1)&0x04 != 0; got != tt.open {
				t.Errorf("drawer open %v, want %v", got, tt.open)
			}
		})
	}
}

// statusByte asks the fake for DLE EOT n over a cable.
func statusByte(t *testing.T, p *Printer, n byte) byte {
	t.Helper()
	port := p.Port()
	defer port.Close()
	if _, err := port.Write([]byte{0x10, 0x04, n}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(port, b); err != nil {
		t.Fatal(err)
	}
	return b[0]
}
