package scanner

import (
	"fmt"
	"strings"
	"time"

	"tillbox/drivers/evdev"
)

// Suffix is what the scanner sends after each code. It is set in the scanner's own
// configuration (a programming barcode); Opts must say the same.
type Suffix uint8

const (
	// SuffixCR, SuffixLF and SuffixCRLF end a code at a CR or an LF, whichever comes; the
	// empty line between a CR and its LF is not a scan. They differ only in what fakes send.
	SuffixCR Suffix = iota
	SuffixLF
	SuffixCRLF
	// SuffixTab ends a code at a TAB; CR and LF are then noise.
	SuffixTab
	// SuffixNone ends a code at a pause longer than Opts.InterCharTimeout. Use it only
	// where the scanner cannot be configured: a read cut off by a glitch is then
	// indistinguishable from a shorter code, and only the check digit stands between it
	// and a wrong item.
	SuffixNone
)

var suffixNames = [...]string{"CR", "LF", "CRLF", "TAB", "none"}
var suffixBytes = [...]string{"\r", "\n", "\r\n", "\t", ""}

func (s Suffix) String() string {
	if int(s) < len(suffixNames) {
		return suffixNames[s]
	}
	return fmt.Sprintf("Suffix(%d)", int(s))
}

// Bytes returns what the scanner sends after a code.
func (s Suffix) Bytes() []byte {
	if int(s) < len(suffixBytes) {
		return []byte(suffixBytes[s])
	}
	return nil
}

// MarshalText writes the suffix as the config file holds it: CR, LF, CRLF, TAB or none.
func (s Suffix) MarshalText() ([]byte, error) {
	if int(s) >= len(suffixNames) {
		return nil, fmt.Errorf("scanner: marshal suffix: %w: %d", ErrInvalidOpts, int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads what MarshalText writes, in any case.
func (s *Suffix) UnmarshalText(b []byte) error {
	for i, n := range suffixNames {
		if strings.EqualFold(n, string(b)) {
			*s = Suffix(i)
			return nil
		}
	}
	return fmt.Errorf("scanner: suffix %q: %w: want CR, LF, CRLF, TAB or none", b, ErrInvalidOpts)
}

// InStoreLayout says how to read the EAN-13 codes that a store's scales and label printers
// make for prefixes From..To (GS1 restricted circulation numbers, 20-29). The 13 digits
// are: 2 prefix digits, Item digits, a verifier digit if ValueCheck, Value digits, and the
// EAN check digit, so Item + Value (+1 with ValueCheck) must be 10.
type InStoreLayout struct {
	From int       `json:"from"`
	To   int       `json:"to"`
	Kind ValueKind `json:"kind"`
	Item int       `json:"item"`
	// Value is the number of digits of the price (minor units) or weight (grams).
	Value int `json:"value"`
	// ValueCheck says that a price/weight verifier digit (GS1 General Specifications
	// 7.9.3) sits before the value; GS1 defines it for 4- and 5-digit values only.
	ValueCheck bool `json:"value_check,omitempty"`
}

func (l InStoreLayout) String() string {
	c := ""
	if l.ValueCheck {
		c = "+check"
	}
	return fmt.Sprintf("%d-%d %s item %d value %d%s", l.From, l.To, l.Kind, l.Item, l.Value, c)
}

func (l InStoreLayout) digits() int {
	n := 2 + l.Item + l.Value + 1
	if l.ValueCheck {
		n++
	}
	return n
}

func (l InStoreLayout) validate() error {
	switch {
	case l.From < 20 || l.To > 29 || l.From > l.To:
		return fmt.Errorf("in-store layout %v: prefixes must be a range within 20-29", l)
	case l.Kind != Price && l.Kind != Weight:
		return fmt.Errorf("in-store layout %v: kind must be price or weight", l)
	case l.Item < 1 || l.Value < 1:
		return fmt.Errorf("in-store layout %v: item and value need at least one digit each", l)
	case l.digits() != 13:
		return fmt.Errorf("in-store layout %v: adds up to %d digits, an EAN-13 has 13", l, l.digits())
	case l.ValueCheck && l.Value != 4 && l.Value != 5:
		return fmt.Errorf("in-store layout %v: a verifier digit exists for 4- and 5-digit values only", l)
	}
	return nil
}

// DefaultInStore is the layout most scales in the till's markets print out of the box:
// prefix, 5-digit item, 5-digit value, no verifier digit; 20-27 carry a price, 28-29 a
// weight. Stores set their own in the config file.
var DefaultInStore = []InStoreLayout{
	{From: 20, To: 27, Kind: Price, Item: 5, Value: 5},
	{From: 28, To: 29, Kind: Weight, Item: 5, Value: 5},
}

// Opts configures a scanner. Zero fields take the value in DefaultOpts.
type Opts struct {
	// Name appears in String() and in log lines, e.g. "scanner ttyUSB1".
	Name string
	// Suffix is what the scanner sends after each code.
	Suffix Suffix
	// PartialTimeout is how long bytes may wait for their suffix before they are rejected
	// as a partial read. Scanners send a code in one burst, so this can be short.
	PartialTimeout time.Duration
	// InterCharTimeout is, with SuffixNone, the pause that ends a code.
	InterCharTimeout time.Duration
	// MaxLine is the longest line, AIM identifier included, that is parsed; longer lines
	// are rejected and their rest discarded up to the next suffix or pause.
	MaxLine int
	// MaxCode128 is the longest Code128 data passed through (GS1-128 allows 48).
	MaxCode128 int
	// AIM says the scanner prefixes each code with its AIM symbology identifier
	// (ISO/IEC 15424: "]E0" EAN-13/UPC, "]E4" EAN-8, "]C0".."]C4" Code128). It is the
	// only way to accept numeric Code128 and to tell UPC-E from EAN-8 for sure; without
	// it, digit strings are read as EAN/UPC by their length.
	AIM bool
	// Accept is the set of symbologies the till sells from; others are rejected with
	// ReasonSymbology. Zero means AllSymbologies.
	Accept Symbologies
	// EightDigits is what an 8-digit code is without AIM identifiers: EAN8 (the zero
	// value) or UPCE.
	EightDigits Symbology
	// InStore lists the in-store layouts. nil means DefaultInStore; an empty non-nil
	// slice means prefixes 20-29 are ordinary EAN-13 codes.
	InStore []InStoreLayout
	// EventBuffer is the capacity of the Events channel.
	EventBuffer int
	// Layout is, for NewWedge, the input_event layout of the process; zero is evdev.Native.
	Layout evdev.Layout
}

// DefaultOpts is what New uses for a nil *Opts, and for the zero fields of a non-nil one.
var DefaultOpts = Opts{
	Name:             "scanner",
	Suffix:           SuffixCR,
	PartialTimeout:   300 * time.Millisecond,
	InterCharTimeout: 60 * time.Millisecond,
	MaxLine:          128,
	MaxCode128:       48,
	Accept:           AllSymbologies,
	EightDigits:      EAN8,
	EventBuffer:      64,
	Layout:           evdev.Native,
}

// withDefaults fills zero fields from DefaultOpts without validating, so that Parse stays
// cheap; New validates.
func (o *Opts) withDefaults() Opts {
	if o == nil {
		r := DefaultOpts
		r.InStore = DefaultInStore
		return r
	}
	r := *o
	d := DefaultOpts
	if r.Name == "" {
		r.Name = d.Name
	}
	if r.PartialTimeout == 0 {
		r.PartialTimeout = d.PartialTimeout
	}
	if r.InterCharTimeout == 0 {
		r.InterCharTimeout = d.InterCharTimeout
	}
	if r.MaxLine == 0 {
		r.MaxLine = d.MaxLine
	}
	if r.MaxCode128 == 0 {
		r.MaxCode128 = d.MaxCode128
	}
	if r.Accept == 0 {
		r.Accept = d.Accept
	}
	if r.EightDigits == SymbologyNone {
		r.EightDigits = d.EightDigits
	}
	if r.InStore == nil {
		r.InStore = DefaultInStore
	}
	if r.EventBuffer == 0 {
		r.EventBuffer = d.EventBuffer
	}
	if r.Layout == 0 {
		r.Layout = d.Layout
	}
	return r
}

func (o *Opts) resolve() (Opts, error) {
	r := o.withDefaults()
	bad := func(format string, a ...any) (Opts, error) {
		return Opts{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOpts}, a...)...)
	}
	switch {
	case r.Suffix > SuffixNone:
		return bad("suffix %d", int(r.Suffix))
	case r.PartialTimeout < 0 || r.InterCharTimeout < 0:
		return bad("negative timeout")
	case r.MaxLine < 1 || r.MaxCode128 < 1 || r.EventBuffer < 1:
		return bad("MaxLine, MaxCode128 and EventBuffer must be positive")
	case r.EightDigits != EAN8 && r.EightDigits != UPCE:
		return bad("EightDigits is %v, want EAN-8 or UPC-E", r.EightDigits)
	case r.Accept&^AllSymbologies != 0:
		return bad("Accept holds unknown symbologies")
	case !r.Layout.Valid():
		return bad("evdev layout %d", int(r.Layout))
	}
	var seen [30]bool
	for _, l := range r.InStore {
		if err := l.validate(); err != nil {
			return bad("%v", err)
		}
		for p := l.From; p <= l.To; p++ {
			if seen[p] {
				return bad("prefix %d is in two in-store layouts", p)
			}
			seen[p] = true
		}
	}
	return r, nil
}
