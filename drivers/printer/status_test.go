package printer_test

import (
	"slices"
	"testing"

	"tillbox/drivers/printer"
	"tillbox/drivers/printer/printertest"
)

func TestParserSplitsMixedReplies(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		want  []printer.Reply
		noise int
	}{
		{"realtime online", []byte{0x12}, []printer.Reply{{Kind: printer.RealTime, B: [4]byte{0x12}}}, 0},
		{"inorder paper ok", []byte{0x00}, []printer.Reply{{Kind: printer.InOrder}}, 0},
		{"auto status", []byte{0x38, 0x00, 0x0c, 0x00}, []printer.Reply{{Kind: printer.Auto, B: [4]byte{0x38, 0, 0x0c, 0}}}, 0},
		{"auto then realtime then inorder", []byte{0x10, 0x00, 0x03, 0x00, 0x16, 0x0f},
			[]printer.Reply{{Kind: printer.Auto, B: [4]byte{0x10, 0, 0x03, 0}}, {Kind: printer.RealTime, B: [4]byte{0x16}}, {Kind: printer.InOrder, B: [4]byte{0x0f}}}, 0},
		{"XON XOFF and high bytes are noise", []byte{0x11, 0x13, 0xff, 0x12}, []printer.Reply{{Kind: printer.RealTime, B: [4]byte{0x12}}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p printer.Parser
			got := p.Parse(tt.in)
			if !slices.Equal(got, tt.want) || p.Noise != tt.noise {
				t.Errorf("Parse(% x) = %v noise %d, want %v noise %d", tt.in, got, p.Noise, tt.want, tt.noise)
			}
		})
	}
}

func TestStatusBits(t *testing.T) {
	tests := []struct {
		name  string
		apply func(*printer.Status)
		want  printer.Status
	}{
		{"DLE EOT 1 offline, pin 3 high", func(s *printer.Status) { s.ApplyRealTime(1, 0x1e, true) }, printer.Status{DrawerOpen: true}},
		{"DLE EOT 1 online, pin 3 low", func(s *printer.Status) { s.ApplyRealTime(1, 0x12, true) }, printer.Status{Online: true}},
		{"DLE EOT 1 pin 3 low, drawer open low", func(s *printer.Status) { s.ApplyRealTime(1, 0x12, false) }, printer.Status{Online: true, DrawerOpen: true}},
		{"DLE EOT 2 cover open, paper stop", func(s *printer.Status) { s.ApplyRealTime(2, 0x36, true) }, printer.Status{CoverOpen: true, PaperOut: true}},
		{"DLE EOT 3 autocutter error", func(s *printer.Status) { s.ApplyRealTime(3, 0x1a, true) }, printer.Status{Error: true}},
		{"DLE EOT 4 near end", func(s *printer.Status) { s.ApplyRealTime(4, 0x1e, true) }, printer.Status{PaperNearEnd: true}},
		{"DLE EOT 4 paper end", func(s *printer.Status) { s.ApplyRealTime(4, 0x72, true) }, printer.Status{PaperOut: true}},
		{"ASB cover open, paper end", func(s *printer.Status) { s.ApplyAuto([4]byte{0x38, 0, 0x0c, 0}, true) }, printer.Status{CoverOpen: true, PaperOut: true}},
		{"ASB online, near end, drawer", func(s *printer.Status) { s.ApplyAuto([4]byte{0x14, 0, 0x03, 0}, true) }, printer.Status{Online: true, PaperNearEnd: true, DrawerOpen: true}},
		{"GS r 1 paper end", func(s *printer.Status) { s.ApplyInOrder(0x0c) }, printer.Status{PaperOut: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s printer.Status
			tt.apply(&s)
			if s != tt.want {
				t.Errorf("got %+v, want %+v", s, tt.want)
			}
		})
	}
}

// FuzzParser: any byte stream parses without panic; a reply's bytes match its kind's
// fixed bits; splitting the stream anywhere changes nothing; every byte is a reply byte,
// noise, or part of an unfinished automatic status.
func FuzzParser(f *testing.F) {
	for _, seed := range [][]byte{
		{0x12}, {0x00}, {0x0f}, {0x38, 0x00, 0x0c, 0x00}, {0x16, 0x10, 0x00, 0x03},
		{0x11, 0x13}, {0x10, 0x00, 0x03, 0x00, 0x12, 0x00, 0x1e, 0x72},
		// After a DLE DC4 pulse mid-job: an in-order answer, the automatic status with the
		// drawer bit, the answer to DLE EOT 1 saying the same, the next in-order answer.
		{0x00, 0x14, 0x00, 0x00, 0x00, 0x16, 0x00},
	} {
		f.Add(seed, uint8(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		var whole printer.Parser
		all := whole.Parse(b)
		cut := int(split) % (len(b) + 1)
		var parts printer.Parser
		got := append(parts.Parse(b[:cut]), parts.Parse(b[cut:])...)
		if !slices.Equal(all, got) || whole.Noise != parts.Noise {
			t.Fatalf("split at %d changes the result: %v vs %v", cut, all, got)
		}
		used := whole.Noise
		for _, r := range all {
			switch r.Kind {
			case printer.RealTime:
				used++
				if r.B[0]&0x93 != 0x12 {
					t.Fatalf("real-time reply %02x lacks the fixed bits", r.B[0])
				}
			case printer.InOrder:
				used++
				if r.B[0]&0x90 != 0 {
					t.Fatalf("in-order reply %02x has bit 4 or 7 set", r.B[0])
				}
			case printer.Auto:
				used += 4
				if r.B[0]&0x93 != 0x10 {
					t.Fatalf("auto status %02x lacks the fixed bits", r.B[0])
				}
			default:
				t.Fatalf("reply of kind %v", r.Kind)
			}
			var s printer.Status
			s.ApplyAuto(r.B, true)
			for n := byte(0); n < 6; n++ {
				s.ApplyRealTime(n, r.B[0], false)
			}
			s.ApplyInOrder(r.B[0])
		}
		if pending := len(b) - used; pending < 0 || pending > 3 {
			t.Fatalf("%d bytes unaccounted for", pending)
		}
	})
}

// FuzzDecode: the fake's ESC/POS decoder takes any byte stream without panic or hang,
// and a stream split anywhere decodes to the same printout and the same drawer pulses.
func FuzzDecode(f *testing.F) {
	r, err := printer.Render(referenceReceipt(), &printer.DefaultProfile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(r.Bytes(), uint16(100))
	f.Add([]byte{0x1d, '(', 'k', 0xff, 0xff, '1'}, uint16(3))
	f.Add([]byte{0x1d, 'k', 2, '1', '2'}, uint16(1))
	f.Add([]byte{0x1b, 't', 99, 0x80, '\n'}, uint16(2))
	f.Add([]byte("ab\n\x10\x14\x01\x00\x01c\n\x10\x14\x01\x01\x08"), uint16(5))
	f.Add([]byte("\x10\x14\x01\x02\x01\x10\x14\x01\x00\x09\x10\x14\x02\x01\x08x\n"), uint16(7))
	f.Add([]byte("\x10\x14\x01"), uint16(2))
	f.Fuzz(func(t *testing.T, b []byte, split uint16) {
		whole := printertest.New(nil)
		whole.Feed(b)
		cut := int(split) % (len(b) + 1)
		parts := printertest.New(nil)
		parts.Feed(b[:cut])
		parts.Feed(b[cut:])
		if got, want := parts.Text(), whole.Text(); got != want {
			t.Fatalf("split at %d: %q vs %q", cut, got, want)
		}
		if got, want := parts.Pulses(), whole.Pulses(); !slices.Equal(got, want) {
			t.Fatalf("split at %d: pulses %v vs %v", cut, got, want)
		}
	})
}
