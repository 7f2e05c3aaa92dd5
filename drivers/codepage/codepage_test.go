package codepage

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Byte values from the IBM code page charts, written out by hand so that the test does
// not trust the same iconv the tables were generated from.
var chart = map[string]map[rune]byte{
	"cp437": {'ä': 0x84, 'ö': 0x94, 'ü': 0x81, 'Ä': 0x8e, 'Ö': 0x99, 'Ü': 0x9a, 'ß': 0xe1, 'ç': 0x87, 'é': 0x82, '£': 0x9c},
	"cp852": {
		'ą': 0xa5, 'Ą': 0xa4, 'ę': 0xa9, 'Ę': 0xa8, 'ł': 0x88, 'Ł': 0x9d, 'ż': 0xbe, 'Ż': 0xbd,
		'ś': 0x98, 'Ś': 0x97, 'ć': 0x86, 'Ć': 0x8f, 'ń': 0xe4, 'Ń': 0xe3, 'ó': 0xa2, 'Ó': 0xe0,
		'ź': 0xab, 'Ź': 0x8d, 'ä': 0x84, 'ö': 0x94, 'ü': 0x81, 'Ä': 0x8e, 'Ö': 0x99, 'Ü': 0x9a, 'ß': 0xe1,
	},
	"cp857": {
		'ş': 0x9f, 'Ş': 0x9e, 'ğ': 0xa7, 'Ğ': 0xa6, 'ı': 0x8d, 'İ': 0x98, 'ç': 0x87, 'Ç': 0x80,
		'ö': 0x94, 'Ö': 0x99, 'ü': 0x81, 'Ü': 0x9a, 'ä': 0x84, 'ß': 0xe1,
	},
	"cp858": {'€': 0xd5, 'ä': 0x84, 'ö': 0x94, 'ü': 0x81, 'Ä': 0x8e, 'Ö': 0x99, 'Ü': 0x9a, 'ß': 0xe1, 'ç': 0x87},
}

func TestKnownLettersEncodeToChartBytesAndBack(t *testing.T) {
	for name, letters := range chart {
		p, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for r, want := range letters {
			got, missing := p.Encode(string(r))
			if len(missing) != 0 || !bytes.Equal(got, []byte{want}) {
				t.Errorf("%s: Encode(%q) = % x missing %q, want %02x", name, r, got, missing, want)
			}
			if back := p.Decode([]byte{want}); back != string(r) {
				t.Errorf("%s: Decode(%02x) = %q, want %q", name, want, back, r)
			}
		}
	}
}

func TestEveryDefinedByteRoundTrips(t *testing.T) {
	for _, name := range Names() {
		p, _ := Lookup(name)
		for c := 0x20; c <= 0xff; c++ {
			r := p.Rune(byte(c))
			if r == '\uFFFD' {
				continue
			}
			got, missing := p.Encode(string(r))
			if len(missing) != 0 || !bytes.Equal(got, []byte{byte(c)}) {
				t.Errorf("%s: byte %02x decodes to %q which encodes to % x (missing %q)", name, c, r, got, missing)
			}
		}
	}
}

func TestFallback(t *testing.T) {
	tests := []struct {
		page, in, want string
		missing        []rune
	}{
		{"cp858", "Żółć gęślą", "Z\xa2lc gesla", []rune{'Ż', 'ł', 'ć', 'ę', 'ś', 'ą'}},
		{"cp852", "Preis 12,50 €", "Preis 12,50 EUR", []rune{'€'}},
		{"cp857", "Łódź", "L\xa2dz", []rune{'Ł', 'ź'}},
		{"cp437", "Straße ığ", "Stra\xe1e ig", []rune{'ı', 'ğ'}},
		{"cp858", "Kasa № 3 → ok", "Kasa No 3 ? ok", []rune{'№', '→'}},
		{"cp852", "bell\x07\x1b@", "bell??@", []rune{'\a', '\x1b'}},
		{"cp437", "日本", "??", []rune{'日', '本'}},
	}
	for _, tt := range tests {
		p, err := Lookup(tt.page)
		if err != nil {
			t.Fatal(err)
		}
		got, missing := p.Encode(tt.in)
		if string(got) != tt.want || !slices.Equal(missing, tt.missing) {
			t.Errorf("%s Encode(%q) = %q missing %q, want %q missing %q", tt.page, tt.in, got, missing, tt.want, tt.missing)
		}
	}
}

func TestEncodeNeverEmitsControlBytes(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r < 0x3000; r++ {
		all.WriteRune(r)
	}
	for _, name := range Names() {
		p, _ := Lookup(name)
		got, _ := p.Encode(all.String())
		for i, c := range got {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("%s: control byte %02x at %d", name, c, i)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	for _, in := range []string{"cp852", "CP852", "pc852", "IBM852", "852", " cp852 "} {
		p, err := Lookup(in)
		if err != nil || p.Name != "cp852" || p.ESCPOS != 18 {
			t.Errorf("Lookup(%q) = %v, %v", in, p, err)
		}
	}
	_, err := Lookup("cp1250")
	if !errors.Is(err, ErrUnknownPage) || !strings.Contains(err.Error(), "cp437, cp852, cp857, cp858") {
		t.Errorf("Lookup(cp1250) error = %v, want ErrUnknownPage naming the known pages", err)
	}
	for _, n := range []byte{0, 13, 18, 19} {
		p, err := ByESCPOS(n)
		if err != nil || p.ESCPOS != n {
			t.Errorf("ByESCPOS(%d) = %v, %v", n, p, err)
		}
	}
}
