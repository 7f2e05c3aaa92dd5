package scanner

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

var fuzzOpts = []*Opts{
	nil,
	{AIM: true},
	{EightDigits: UPCE, Accept: Set(EAN13, UPCE, Code128)},
	{InStore: []InStoreLayout{
		{From: 20, To: 22, Kind: Price, Item: 4, Value: 5, ValueCheck: true},
		{From: 23, To: 25, Kind: Weight, Item: 5, Value: 4, ValueCheck: true},
		{From: 26, To: 29, Kind: Price, Item: 6, Value: 4},
	}, MaxCode128: 20, MaxLine: 40},
}

// FuzzParse checks that no input crashes the parser and that a good scan is always one
// the input really holds: EAN/UPC digits with a valid check digit, read verbatim from the
// line; Code128 printable, bounded and verbatim; in-store fields cut from the code.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"5901234123457", "5901234123458", "96385074", "036000291452", "04252614",
		"2112345012994", "2412346146850", "]E05901234123457", "]E496385074", "]C1010950110153\x1d10AB",
		"]Q1x", "TILL-42", "", "\x00\xff", "590123412345\r", strings.Repeat("9", 200),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, o := range fuzzOpts {
			in := append([]byte(nil), raw...)
			s := Parse(in, o)
			if !bytes.Equal(in, raw) {
				t.Fatalf("Parse changed its input")
			}
			checkScan(t, raw, o, s)
		}
	})
}

func checkScan(t *testing.T, raw []byte, o *Opts, s Scan) {
	t.Helper()
	op := o.withDefaults()
	if !s.Good() {
		if s.Code != "" || s.GTIN != "" || s.InStore != nil {
			t.Fatalf("rejected scan carries data: %#v", s)
		}
		if len(s.Raw) > MaxRaw || !bytes.HasPrefix(raw, s.Raw) {
			t.Fatalf("rejected Raw %q is not a bounded prefix of %q", s.Raw, raw)
		}
		return
	}
	if s.Raw != nil {
		t.Fatalf("good scan carries Raw")
	}
	data := raw
	if op.AIM {
		data = raw[3:]
	}
	if s.Code != string(data) {
		t.Fatalf("Code %q is not the line %q", s.Code, raw)
	}
	if !op.Accept.Has(s.Symbology) {
		t.Fatalf("%v accepted, Accept is %b", s.Symbology, op.Accept)
	}
	switch s.Symbology {
	case Code128:
		if len(s.Code) == 0 || len(s.Code) > op.MaxCode128 {
			t.Fatalf("Code128 of %d bytes", len(s.Code))
		}
		for _, c := range []byte(s.Code) {
			if (c < 0x20 && c != gs) || c > 0x7e {
				t.Fatalf("Code128 %q holds %#x", s.Code, c)
			}
		}
		if s.GTIN != "" || s.InStore != nil {
			t.Fatalf("Code128 with GTIN or in-store data: %#v", s)
		}
	case EAN13, EAN8, UPCA, UPCE:
		if len(s.Code) != lengths[s.Symbology] || !allDigits([]byte(s.Code)) {
			t.Fatalf("%v code %q", s.Symbology, s.Code)
		}
		if len(s.GTIN) != 13 || !ValidCheckDigit(s.GTIN) {
			t.Fatalf("%v %q has GTIN %q", s.Symbology, s.Code, s.GTIN)
		}
		if s.Symbology != UPCE && !strings.HasSuffix(s.GTIN, s.Code) {
			t.Fatalf("GTIN %q does not end with code %q", s.GTIN, s.Code)
		}
		if in := s.InStore; in != nil {
			if s.Symbology != EAN13 || in.Prefix < 20 || in.Prefix > 29 || s.Code[:2] != strconv.Itoa(in.Prefix) {
				t.Fatalf("in-store %+v on %v %q", in, s.Symbology, s.Code)
			}
			if !strings.HasPrefix(s.Code[2:], in.Item) || in.Value < 0 || !strings.Contains(s.Code[2+len(in.Item):12], strconv.FormatInt(in.Value, 10)) {
				t.Fatalf("in-store %+v not cut from %q", in, s.Code)
			}
		}
	default:
		t.Fatalf("good scan of symbology %v", s.Symbology)
	}
}
