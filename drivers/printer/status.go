package printer

import "fmt"

// Status is what the printer last said about itself.
type Status struct {
	// Connected: the port works and, where the profile answers status, the printer
	// answered within Opts.Timeout. False also before the first answer.
	Connected bool `json:"connected"`
	// Online: the printer reports itself ready to print (DLE EOT 1 bit 3 clear).
	Online       bool `json:"online"`
	CoverOpen    bool `json:"cover_open"`
	PaperNearEnd bool `json:"paper_near_end"`
	PaperOut     bool `json:"paper_out"`
	// DrawerOpen is the drawer sense switch (connector pin 3) read through
	// Profile.DrawerOpenHigh.
	DrawerOpen bool `json:"drawer_open"`
	// Error: a cutter, mechanical or unrecoverable error; printing has stopped.
	Error bool `json:"error"`
}

// Ready reports whether the printer can print now.
func (s Status) Ready() bool {
	return s.Connected && s.Online && !s.CoverOpen && !s.PaperOut && !s.Error
}

func (s Status) String() string {
	if !s.Connected {
		return "disconnected"
	}
	out := "online"
	if !s.Online {
		out = "offline"
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{s.CoverOpen, "cover open"}, {s.PaperOut, "paper out"}, {s.PaperNearEnd, "paper near end"}, {s.DrawerOpen, "drawer open"}, {s.Error, "error"}} {
		if f.on {
			out += ", " + f.name
		}
	}
	return out
}

// ReplyKind tells the three kinds of bytes an ESC/POS printer sends back apart.
type ReplyKind int

const (
	// RealTime is the one-byte answer to DLE EOT n: bit pattern 0xx1xx10.
	RealTime ReplyKind = iota + 1
	// Auto is the four-byte automatic status back (GS a): first byte 0xx1xx00.
	Auto
	// InOrder is the one-byte answer to GS r 1: bit pattern 0xx0xxxx. It is only sent
	// once every byte before the GS r has been processed.
	InOrder
)

func (k ReplyKind) String() string {
	switch k {
	case RealTime:
		return "realtime"
	case Auto:
		return "auto"
	case InOrder:
		return "inorder"
	}
	return fmt.Sprintf("ReplyKind(%d)", int(k))
}

// Reply is one status message from the printer.
type Reply struct {
	Kind ReplyKind
	// B holds the bytes: B[0] for RealTime and InOrder, B[0:4] for Auto.
	B [4]byte
}

// Parser splits the byte stream a printer sends back into replies. The stream mixes
// answers to real-time requests, answers to in-order requests and unsolicited automatic
// status; their bit patterns (fixed bits 0, 1, 4 and 7) tell them apart, and the three
// bytes after an automatic status header belong to it. Bytes that fit no pattern (XON and
// XOFF, line noise) are counted in Noise and dropped, so a garbled line costs a reply, not
// the parser's sync.
type Parser struct {
	auto  [4]byte
	n     int // bytes of an automatic status collected so far; 0 when none
	Noise int
}

// Feed takes one byte and returns a reply when b completes one.
func (p *Parser) Feed(b byte) (Reply, bool) {
	if p.n > 0 {
		p.auto[p.n] = b
		p.n++
		if p.n == 4 {
			p.n = 0
			return Reply{Kind: Auto, B: p.auto}, true
		}
		return Reply{}, false
	}
	switch {
	case b&0x93 == 0x12:
		return Reply{Kind: RealTime, B: [4]byte{b}}, true
	case b&0x93 == 0x10:
		p.auto = [4]byte{b}
		p.n = 1
		return Reply{}, false
	case b&0x90 == 0:
		return Reply{Kind: InOrder, B: [4]byte{b}}, true
	}
	p.Noise++
	return Reply{}, false
}

// Parse feeds every byte of b and returns the replies it completes.
func (p *Parser) Parse(b []byte) []Reply {
	var out []Reply
	for _, c := range b {
		if r, ok := p.Feed(c); ok {
			out = append(out, r)
		}
	}
	return out
}

// ApplyRealTime updates s with the answer b to DLE EOT n (n 1-4). Bits not covered by
// request n are left as they were.
func (s *Status) ApplyRealTime(n, b byte, drawerOpenHigh bool) {
	switch n {
	case 1: // printer status
		s.DrawerOpen = (b&0x04 != 0) == drawerOpenHigh
		s.Online = b&0x08 == 0
	case 2: // offline cause
		s.CoverOpen = b&0x04 != 0
		s.PaperOut = b&0x20 != 0
		if b&0x40 == 0 {
			s.Error = false
		}
	case 3: // error cause
		s.Error = b&0x6c != 0
	case 4: // roll paper sensor
		s.PaperNearEnd = b&0x0c == 0x0c
		s.PaperOut = b&0x60 == 0x60
	}
}

// ApplyAuto updates s from the four bytes of an automatic status back.
func (s *Status) ApplyAuto(b [4]byte, drawerOpenHigh bool) {
	s.DrawerOpen = (b[0]&0x04 != 0) == drawerOpenHigh
	s.Online = b[0]&0x08 == 0
	s.CoverOpen = b[0]&0x20 != 0
	s.Error = b[1]&0x6c != 0
	s.PaperNearEnd = b[2]&0x03 == 0x03
	s.PaperOut = b[2]&0x0c == 0x0c
}

// ApplyInOrder updates s from the answer to GS r 1 (the paper sensors).
func (s *Status) ApplyInOrder(b byte) {
	s.PaperNearEnd = b&0x03 == 0x03
	s.PaperOut = b&0x0c == 0x0c
}
