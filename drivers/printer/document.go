package printer

import (
	"encoding/json"
	"fmt"
)

// Kind names what an Item prints. The values are stored in the ledger as part of print
// jobs, so they never change meaning.
type Kind string

const (
	KindText    Kind = "text"    // one line of text, wrapped at the paper width
	KindColumns Kind = "columns" // Text left, Right right-aligned, on one line
	KindBarcode Kind = "barcode" // Symbology and Text as the data
	KindQR      Kind = "qr"      // Text as the data, Size as the module size in dots
	KindFeed    Kind = "feed"    // Lines blank lines
	KindCut     Kind = "cut"     // full cut, or partial with Partial
	KindKick    Kind = "kick"    // drawer kick pulse on Pin (2 or 5)
)

// Align is the horizontal alignment of an item.
type Align string

const (
	Left   Align = "left"
	Center Align = "center"
	Right  Align = "right"
)

// Symbology is a barcode type.
type Symbology string

const (
	EAN13Code   Symbology = "ean13"
	Code128Code Symbology = "code128"
)

// Style is the character style of a text or columns item.
type Style struct {
	Bold         bool `json:"bold,omitempty"`
	Underline    bool `json:"underline,omitempty"`
	DoubleWidth  bool `json:"dw,omitempty"`
	DoubleHeight bool `json:"dh,omitempty"`
	// Small selects font B (narrower, so the line holds Profile.ColumnsB characters).
	Small bool `json:"small,omitempty"`
}

// Item is one element of a Doc. Which fields matter depends on Kind; the others stay zero
// so that the JSON form is short.
type Item struct {
	Kind      Kind      `json:"kind"`
	Text      string    `json:"text,omitempty"`
	Right     string    `json:"right,omitempty"`
	Style     Style     `json:"style,omitzero"`
	Align     Align     `json:"align,omitempty"`
	Symbology Symbology `json:"sym,omitempty"`
	Size      int       `json:"size,omitempty"`
	Lines     int       `json:"lines,omitempty"`
	Partial   bool      `json:"partial,omitempty"`
	Pin       int       `json:"pin,omitempty"`
}

// Doc is a printable document: a receipt, a report, a test page. It is plain data, so the
// firmware stores it in the ledger as the print job and can render it again later, for any
// profile, byte for byte the same.
type Doc struct {
	Items []Item `json:"items"`
}

// Text is a line of text.
func Text(s string) Item { return Item{Kind: KindText, Text: s} }

// Columns is a line with left text and right-aligned right text (an item and its price).
// The left text is cut short when both do not fit.
func Columns(left, right string) Item { return Item{Kind: KindColumns, Text: left, Right: right} }

// EAN13 is an EAN-13 barcode; code has 12 digits, or 13 with a correct check digit.
func EAN13(code string) Item { return Item{Kind: KindBarcode, Symbology: EAN13Code, Text: code} }

// Code128 is a Code 128 barcode of printable ASCII.
func Code128(data string) Item { return Item{Kind: KindBarcode, Symbology: Code128Code, Text: data} }

// QR is a QR code (model 2, error correction M) with module size 6 dots.
func QR(data string) Item { return Item{Kind: KindQR, Text: data, Size: 6} }

// Feed is n blank lines.
func Feed(n int) Item { return Item{Kind: KindFeed, Lines: n} }

// Cut feeds the paper past the cutter and cuts it, leaving a hinge when partial.
func Cut(partial bool) Item { return Item{Kind: KindCut, Partial: partial} }

// Kick pulses the drawer kick-out connector pin (2 or 5).
func Kick(pin int) Item { return Item{Kind: KindKick, Pin: pin} }

func (it Item) Bold() Item       { it.Style.Bold = true; return it }
func (it Item) Underline() Item  { it.Style.Underline = true; return it }
func (it Item) DoubleSize() Item { it.Style.DoubleWidth, it.Style.DoubleHeight = true, true; return it }
func (it Item) Tall() Item       { it.Style.DoubleHeight = true; return it }
func (it Item) Small() Item      { it.Style.Small = true; return it }
func (it Item) Center() Item     { it.Align = Center; return it }
func (it Item) AlignRight() Item { it.Align = Right; return it }

// Add appends items and returns d, so that a receipt reads as one expression.
func (d *Doc) Add(items ...Item) *Doc {
	d.Items = append(d.Items, items...)
	return d
}

// ReprintMark is the line Reprint puts at the top of a reprinted document.
const ReprintMark = "*** REPRINT ***"

// Reprint returns a copy of d for printing again: a bold centred mark line first, and no
// drawer kicks, because reprinting a receipt must never open the drawer. A reprint is a
// new job and needs its own job id.
func (d *Doc) Reprint(mark string) *Doc {
	if mark == "" {
		mark = ReprintMark
	}
	r := &Doc{Items: []Item{Text(mark).Bold().Center()}}
	for _, it := range d.Items {
		if it.Kind != KindKick {
			r.Items = append(r.Items, it)
		}
	}
	return r
}

// Equal reports whether two documents print the same thing; it compares their JSON form,
// which is what the ledger stores.
func (d *Doc) Equal(o *Doc) bool {
	a, err1 := json.Marshal(d)
	b, err2 := json.Marshal(o)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// Validate reports the first item that cannot be printed on any printer. Render checks
// the profile-dependent rest (drawer pins).
func (d *Doc) Validate() error {
	for i, it := range d.Items {
		if err := it.validate(); err != nil {
			return fmt.Errorf("printer: validate item %d (%s): %w", i, it.Kind, err)
		}
	}
	return nil
}

func (it Item) validate() error {
	switch it.Kind {
	case KindText, KindColumns, KindCut:
	case KindFeed:
		if it.Lines < 0 || it.Lines > 255 {
			return fmt.Errorf("%w: feed of %d lines (0-255)", ErrInvalidDoc, it.Lines)
		}
	case KindKick:
		if it.Pin != 2 && it.Pin != 5 {
			return fmt.Errorf("%w: drawer pin %d (2 or 5)", ErrInvalidDoc, it.Pin)
		}
	case KindQR:
		if it.Text == "" || len(it.Text) > maxQR {
			return fmt.Errorf("%w: QR data of %d bytes (1-%d)", ErrInvalidDoc, len(it.Text), maxQR)
		}
		if it.Size < 0 || it.Size > 16 {
			return fmt.Errorf("%w: QR module size %d (1-16)", ErrInvalidDoc, it.Size)
		}
	case KindBarcode:
		switch it.Symbology {
		case EAN13Code:
			if _, err := ean13Digits(it.Text); err != nil {
				return err
			}
		case Code128Code:
			if it.Text == "" || len(it.Text) > 200 {
				return fmt.Errorf("%w: Code 128 data of %d bytes (1-200)", ErrInvalidDoc, len(it.Text))
			}
			for _, c := range []byte(it.Text) {
				if c < 0x20 || c > 0x7e {
					return fmt.Errorf("%w: Code 128 byte %#02x is not printable ASCII", ErrInvalidDoc, c)
				}
			}
		default:
			return fmt.Errorf("%w: barcode symbology %q", ErrInvalidDoc, it.Symbology)
		}
	default:
		return fmt.Errorf("%w: item kind %q", ErrInvalidDoc, it.Kind)
	}
	if it.Align != "" && it.Align != Left && it.Align != Center && it.Align != Right {
		return fmt.Errorf("%w: alignment %q", ErrInvalidDoc, it.Align)
	}
	return nil
}

// maxQR bounds QR data so that one QR stays one modest chunk on a 9600 baud line.
const maxQR = 700

// ean13Digits returns the 12 data digits of an EAN-13, checking the check digit when 13
// are given.
func ean13Digits(s string) (string, error) {
	if len(s) != 12 && len(s) != 13 {
		return "", fmt.Errorf("%w: EAN-13 %q has %d digits (12 or 13)", ErrInvalidDoc, s, len(s))
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("%w: EAN-13 %q is not all digits", ErrInvalidDoc, s)
		}
	}
	if len(s) == 13 && EAN13Check(s[:12]) != s[12] {
		return "", fmt.Errorf("%w: EAN-13 %q check digit is %c, want %c", ErrInvalidDoc, s, s[12], EAN13Check(s[:12]))
	}
	return s[:12], nil
}

// EAN13Check returns the check digit of 12 EAN-13 data digits.
func EAN13Check(digits12 string) byte {
	sum := 0
	for i := 0; i < 12 && i < len(digits12); i++ {
		d := int(digits12[i] - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}
