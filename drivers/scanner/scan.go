package scanner

import (
	"fmt"
	"strconv"
)

// Symbology is the kind of barcode a scan came from.
type Symbology uint8

const (
	SymbologyNone Symbology = iota
	EAN13
	EAN8
	UPCA
	UPCE
	Code128
)

var symNames = [...]string{"none", "EAN-13", "EAN-8", "UPC-A", "UPC-E", "Code128"}

func (s Symbology) String() string {
	if int(s) < len(symNames) {
		return symNames[s]
	}
	return "Symbology(" + strconv.Itoa(int(s)) + ")"
}

// Symbologies is a set of symbologies, used by Opts.Accept.
type Symbologies uint8

// Set returns the set holding ss.
func Set(ss ...Symbology) Symbologies {
	var m Symbologies
	for _, s := range ss {
		m |= 1 << s
	}
	return m
}

// Has reports whether s is in the set.
func (m Symbologies) Has(s Symbology) bool { return m&(1<<s) != 0 }

// AllSymbologies is every symbology the parser knows.
var AllSymbologies = Set(EAN13, EAN8, UPCA, UPCE, Code128)

// Reason says why a scan was rejected. ReasonNone is a good scan.
type Reason uint8

const (
	ReasonNone Reason = iota
	// ReasonCheckDigit: the GS1 check digit does not match the other digits.
	ReasonCheckDigit
	// ReasonValueCheck: the price or weight verifier digit of an in-store code is wrong.
	ReasonValueCheck
	// ReasonLength: a digit string whose length no accepted symbology has.
	ReasonLength
	// ReasonNotDigits: letters or punctuation where the symbology carries only digits.
	ReasonNotDigits
	// ReasonSymbology: the symbology is not accepted, the AIM identifier is missing or
	// unknown, or a UPC-E number system is not 0 or 1.
	ReasonSymbology
	// ReasonPartial: bytes without a suffix, then silence: a read cut off mid-way.
	ReasonPartial
	// ReasonOversize: a line longer than Opts.MaxLine, or Code128 data longer than
	// Opts.MaxCode128.
	ReasonOversize
	// ReasonNoise: bytes no barcode carries (control characters, bytes above 0x7e, a key
	// with no character on a wedge scanner, lost input events).
	ReasonNoise
)

var reasonNames = [...]string{"ok", "bad check digit", "bad price/weight check digit",
	"unknown length", "non-digits in a numeric symbology", "symbology not accepted",
	"partial read timed out", "oversize line", "binary noise"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// ValueKind says what the value embedded in an in-store code measures.
type ValueKind uint8

const (
	// Price is in the currency's minor units (cents, grosze, kuruş).
	Price ValueKind = iota + 1
	// Weight is in grams.
	Weight
)

func (k ValueKind) String() string {
	switch k {
	case Price:
		return "price"
	case Weight:
		return "weight"
	}
	return "ValueKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText writes "price" or "weight", the form the config file holds.
func (k ValueKind) MarshalText() ([]byte, error) {
	if k != Price && k != Weight {
		return nil, fmt.Errorf("scanner: marshal value kind: %w: %d", ErrInvalidOpts, int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads "price" or "weight".
func (k *ValueKind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "price":
		*k = Price
	case "weight":
		*k = Weight
	default:
		return fmt.Errorf("scanner: value kind %q: %w: want price or weight", b, ErrInvalidOpts)
	}
	return nil
}

// InStore is what an in-store (restricted circulation, prefix 20-29) EAN-13 carries.
type InStore struct {
	Prefix int       // 20..29
	Item   string    // the item reference digits, as the scale or label printer wrote them
	Kind   ValueKind // what Value measures
	Value  int64     // minor units for Price, grams for Weight
}

// Scan is the outcome of one barcode read.
type Scan struct {
	// Reason is ReasonNone for a good scan; every other field but Raw is then set.
	Reason Reason
	// Symbology is what the code was read as. For a rejected scan it is the symbology the
	// parser was checking when it gave up, or SymbologyNone.
	Symbology Symbology
	// Code is the data as the scanner sent it, without AIM identifier and suffix.
	Code string
	// GTIN is the 13-digit form of an EAN/UPC code for catalog lookup: EAN-13 as read,
	// UPC-A with a leading 0, EAN-8 with five leading zeros, UPC-E expanded to UPC-A and
	// given a leading 0. Empty for Code128 and rejected scans.
	GTIN string
	// InStore is set for an EAN-13 with prefix 20-29 that matched a layout in Opts.InStore.
	InStore *InStore
	// Raw holds, for a rejected scan, up to MaxRaw of the bytes that were rejected, for the
	// technician's log. It is never used to look anything up.
	Raw []byte
}

// MaxRaw bounds Scan.Raw so that a flood of noise cannot make events large.
const MaxRaw = 64

// Good reports whether s is a scan the till may sell from.
func (s Scan) Good() bool { return s.Reason == ReasonNone }

func (s Scan) String() string {
	if !s.Good() {
		return fmt.Sprintf("rejected (%s) %q", s.Reason, s.Raw)
	}
	if s.InStore != nil {
		return fmt.Sprintf("%s %s item %s %s %d", s.Symbology, s.Code, s.InStore.Item, s.InStore.Kind, s.InStore.Value)
	}
	return fmt.Sprintf("%s %s", s.Symbology, s.Code)
}

func reject(r Reason, sym Symbology, raw []byte) Scan {
	if len(raw) > MaxRaw {
		raw = raw[:MaxRaw]
	}
	return Scan{Reason: r, Symbology: sym, Raw: append([]byte(nil), raw...)}
}
