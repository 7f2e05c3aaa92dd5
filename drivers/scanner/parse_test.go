package scanner

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// withCheck appends the GS1 check digit, so fixtures are built from data rather than
// copied from a calculator.
func withCheck(t *testing.T, data string) string {
	t.Helper()
	c, ok := CheckDigit(data)
	if !ok {
		t.Fatalf("CheckDigit(%q) failed", data)
	}
	return data + string(c)
}

// Published codes, so that the check digit routine is checked against the world and not
// only against itself.
func TestCheckDigitKnownCodes(t *testing.T) {
	for _, code := range []string{
		"5901234123457", // GS1 Poland's example EAN-13
		"4006381333931", // EAN-13 (Stabilo, Germany)
		"036000291452",  // UPC-A
		"96385074",      // EAN-8
		"036000241457",  // UPC-A (tissue box)
	} {
		if !ValidCheckDigit(code) {
			t.Errorf("%s: check digit rejected", code)
		}
		bad := []byte(code)
		bad[len(bad)-1] = '0' + (bad[len(bad)-1]-'0'+1)%10
		if ValidCheckDigit(string(bad)) {
			t.Errorf("%s: wrong check digit accepted", bad)
		}
	}
}

func TestPriceCheckDigitGS1Examples(t *testing.T) {
	// GS1 General Specifications 7.9.3 worked examples.
	for value, want := range map[string]byte{"2875": '9', "14685": '6'} {
		got, ok := PriceCheckDigit(value)
		if !ok || got != want {
			t.Errorf("PriceCheckDigit(%s) = %q, %v, want %q", value, got, ok, want)
		}
	}
	for _, bad := range []string{"", "123", "123456", "12a4"} {
		if _, ok := PriceCheckDigit(bad); ok {
			t.Errorf("PriceCheckDigit(%q) succeeded", bad)
		}
	}
}

func TestExpandUPCE(t *testing.T) {
	tests := []struct{ upce, upca string }{
		{"04252614", "042100005264"}, // last digit 1: manufacturer digits d1 d2 d6
		{"01234565", "012345000065"}, // last digit 5..9
		{"01234133", "012300000413"}, // 3
		{"01234144", "012340000014"}, // 4
		{"11234000", "112000003400"}, // number system 1, last digit 0
	}
	for _, tt := range tests {
		got, ok := ExpandUPCE(tt.upce)
		if !ok || got != tt.upca {
			t.Errorf("ExpandUPCE(%s) = %s, %v, want %s", tt.upce, got, ok, tt.upca)
		}
	}
	for _, bad := range []string{"24252614", "0425261", "0425261x"} {
		if _, ok := ExpandUPCE(bad); ok {
			t.Errorf("ExpandUPCE(%q) succeeded", bad)
		}
	}
}

func TestParse(t *testing.T) {
	price := withCheck(t, "21"+"12345"+"01299")  // item 12345, 12.99
	weight := withCheck(t, "28"+"00042"+"01250") // item 00042, 1250 g
	pc, _ := PriceCheckDigit("14685")
	priceChecked := withCheck(t, "24"+"1234"+string(pc)+"14685")
	badPriceChecked := []byte(priceChecked)
	badPriceChecked[6] = '0' + (badPriceChecked[6]-'0'+1)%10
	// Fix the EAN check so that only the verifier digit is wrong.
	badPC := withCheck(t, string(badPriceChecked[:12]))
	checkedLayouts := []InStoreLayout{{From: 24, To: 24, Kind: Price, Item: 4, Value: 5, ValueCheck: true}}

	upcA := withCheck(t, "03600029145")
	upceCode := "04252614"
	upceGTIN := "0042100005264"

	tests := []struct {
		name string
		raw  string
		opts *Opts
		want Scan
	}{
		{"EAN-13", "5901234123457", nil, Scan{Symbology: EAN13, Code: "5901234123457", GTIN: "5901234123457"}},
		{"UPC-A", upcA, nil, Scan{Symbology: UPCA, Code: upcA, GTIN: "0" + upcA}},
		{"EAN-8", "96385074", nil, Scan{Symbology: EAN8, Code: "96385074", GTIN: "0000096385074"}},
		{"UPC-E when told 8 digits are UPC-E", upceCode, &Opts{EightDigits: UPCE}, Scan{Symbology: UPCE, Code: upceCode, GTIN: upceGTIN}},
		{"Code128 passes through", "ABC-123/x", nil, Scan{Symbology: Code128, Code: "ABC-123/x"}},
		{"GS1-128 keeps its GS separator", "0109501101530003\x1d10ABC", nil, Scan{Symbology: Code128, Code: "0109501101530003\x1d10ABC"}},
		{"in-store price", price, nil, Scan{Symbology: EAN13, Code: price, GTIN: price, InStore: &InStore{Prefix: 21, Item: "12345", Kind: Price, Value: 1299}}},
		{"in-store weight", weight, nil, Scan{Symbology: EAN13, Code: weight, GTIN: weight, InStore: &InStore{Prefix: 28, Item: "00042", Kind: Weight, Value: 1250}}},
		{"in-store price with verifier digit", priceChecked, &Opts{InStore: checkedLayouts}, Scan{Symbology: EAN13, Code: priceChecked, GTIN: priceChecked, InStore: &InStore{Prefix: 24, Item: "1234", Kind: Price, Value: 14685}}},
		{"prefix 2x with no layout is a plain EAN-13", price, &Opts{InStore: []InStoreLayout{}}, Scan{Symbology: EAN13, Code: price, GTIN: price}},
		{"AIM EAN-13", "]E05901234123457", &Opts{AIM: true}, Scan{Symbology: EAN13, Code: "5901234123457", GTIN: "5901234123457"}},
		{"AIM EAN-8", "]E496385074", &Opts{AIM: true}, Scan{Symbology: EAN8, Code: "96385074", GTIN: "0000096385074"}},
		{"AIM UPC-E", "]E0" + upceCode, &Opts{AIM: true}, Scan{Symbology: UPCE, Code: upceCode, GTIN: upceGTIN}},
		{"AIM numeric Code128", "]C01234567", &Opts{AIM: true}, Scan{Symbology: Code128, Code: "1234567"}},

		{"EAN-13 bad check digit", "5901234123458", nil, Scan{Reason: ReasonCheckDigit, Symbology: EAN13}},
		{"UPC-A bad check digit", "036000291453", nil, Scan{Reason: ReasonCheckDigit, Symbology: UPCA}},
		{"EAN-8 bad check digit", "96385075", nil, Scan{Reason: ReasonCheckDigit, Symbology: EAN8}},
		{"UPC-E bad check digit", "04252615", &Opts{EightDigits: UPCE}, Scan{Reason: ReasonCheckDigit, Symbology: UPCE}},
		{"UPC-E number system 2", "24252614", &Opts{EightDigits: UPCE}, Scan{Reason: ReasonSymbology, Symbology: UPCE}},
		{"in-store bad verifier digit", badPC, &Opts{InStore: checkedLayouts}, Scan{Reason: ReasonValueCheck, Symbology: EAN13}},
		{"cut-off EAN-13 is an unknown length", "590123412345"[:11], nil, Scan{Reason: ReasonLength}},
		{"14 digits", "59012341234570", nil, Scan{Reason: ReasonLength}},
		{"empty", "", nil, Scan{Reason: ReasonLength}},
		{"letters in AIM EAN-13", "]E0590123412345X", &Opts{AIM: true}, Scan{Reason: ReasonNotDigits, Symbology: EAN13}},
		{"letters when Code128 is not accepted", "59012341234X7", &Opts{Accept: Set(EAN13, EAN8)}, Scan{Reason: ReasonNotDigits}},
		{"missing AIM identifier", "5901234123457", &Opts{AIM: true}, Scan{Reason: ReasonSymbology}},
		{"unknown AIM identifier (QR)", "]Q1hello", &Opts{AIM: true}, Scan{Reason: ReasonSymbology}},
		{"UPC-A not accepted", upcA, &Opts{Accept: Set(EAN13, EAN8)}, Scan{Reason: ReasonSymbology, Symbology: UPCA}},
		{"Code128 too long", strings.Repeat("A", 49), nil, Scan{Reason: ReasonOversize, Symbology: Code128}},
		{"line over MaxLine", strings.Repeat("1", 129), nil, Scan{Reason: ReasonOversize}},
		{"NUL in the code", "590123\x004123457", nil, Scan{Reason: ReasonNoise}},
		{"high bytes", "\xff\xfe5901234123457", nil, Scan{Reason: ReasonNoise}},
		{"CR inside the line", "5901234\r123457", nil, Scan{Reason: ReasonNoise}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse([]byte(tt.raw), tt.opts)
			want := tt.want
			if want.Reason != ReasonNone {
				raw := []byte(tt.raw)
				if len(raw) > MaxRaw {
					raw = raw[:MaxRaw]
				}
				if len(raw) > 0 {
					want.Raw = raw
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Parse(%q):\n got %#v\nwant %#v", tt.raw, got, want)
			}
			if got.Good() != (tt.want.Reason == ReasonNone) {
				t.Fatalf("Good() = %v", got.Good())
			}
		})
	}
}

func TestParseDoesNotAliasItsInput(t *testing.T) {
	raw := []byte("590123412345X\x00")
	s := Parse(raw, nil)
	raw[0] = 'Z'
	if !bytes.HasPrefix(s.Raw, []byte("59")) {
		t.Fatalf("Scan.Raw changed with the caller's buffer: %q", s.Raw)
	}
}

func TestResolveRejectsBadOpts(t *testing.T) {
	tests := map[string]Opts{
		"layout of 12 digits":   {InStore: []InStoreLayout{{From: 20, To: 29, Kind: Price, Item: 4, Value: 5}}},
		"overlapping prefixes":  {InStore: []InStoreLayout{{From: 20, To: 25, Kind: Price, Item: 5, Value: 5}, {From: 25, To: 29, Kind: Weight, Item: 5, Value: 5}}},
		"prefix outside 20-29":  {InStore: []InStoreLayout{{From: 19, To: 21, Kind: Price, Item: 5, Value: 5}}},
		"no kind":               {InStore: []InStoreLayout{{From: 20, To: 21, Item: 5, Value: 5}}},
		"verifier on 6 digits":  {InStore: []InStoreLayout{{From: 20, To: 21, Kind: Price, Item: 3, Value: 6, ValueCheck: true}}},
		"unknown suffix":        {Suffix: 9},
		"negative timeout":      {PartialTimeout: -1},
		"8 digits as Code128":   {EightDigits: Code128},
		"bad evdev layout":      {Layout: 20},
		"unknown symbology bit": {Accept: 1 << 7},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := o.resolve(); err == nil {
				t.Fatal("resolve succeeded")
			}
		})
	}
	if _, err := (*Opts)(nil).resolve(); err != nil {
		t.Fatalf("DefaultOpts do not validate: %v", err)
	}
}
