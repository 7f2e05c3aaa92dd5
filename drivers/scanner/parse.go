package scanner

import (
	"bytes"
	"strconv"
)

// gs is the GS1 separator (FNC1 in the data of a GS1-128 code); it is the only control
// character a barcode carries.
const gs = 0x1d

// Parse turns one line from a scanner (without its suffix) into a Scan. It is pure and
// total: any bytes give a Scan, a good one only if the code is well formed and its check
// digits agree. A nil o means DefaultOpts; o is not validated here, and an in-store layout
// that New would refuse simply never matches.
func Parse(raw []byte, o *Opts) Scan {
	op := o.withDefaults()
	return parse(raw, &op)
}

func parse(raw []byte, o *Opts) Scan {
	if len(raw) == 0 {
		return reject(ReasonLength, SymbologyNone, raw)
	}
	if len(raw) > o.MaxLine {
		return reject(ReasonOversize, SymbologyNone, raw)
	}
	for _, c := range raw {
		if (c < 0x20 && c != gs) || c > 0x7e {
			return reject(ReasonNoise, SymbologyNone, raw)
		}
	}
	data := raw
	if o.AIM {
		if len(raw) < 3 || raw[0] != ']' {
			return reject(ReasonSymbology, SymbologyNone, raw)
		}
		id, data := string(raw[1:3]), raw[3:]
		switch id {
		case "E0":
			// EAN-13 and UPC-A (as 13 digits, or 12 from some scanners), UPC-E as 8.
			switch len(data) {
			case 12:
				return numeric(UPCA, data, raw, o)
			case 8:
				return numeric(UPCE, data, raw, o)
			}
			return numeric(EAN13, data, raw, o)
		case "E4":
			return numeric(EAN8, data, raw, o)
		case "C0", "C1", "C2", "C4":
			return code128(data, raw, o)
		}
		return reject(ReasonSymbology, SymbologyNone, raw)
	}
	if !allDigits(data) {
		if o.Accept.Has(Code128) {
			return code128(data, raw, o)
		}
		return reject(ReasonNotDigits, SymbologyNone, raw)
	}
	switch len(data) {
	case 13:
		return numeric(EAN13, data, raw, o)
	case 12:
		return numeric(UPCA, data, raw, o)
	case 8:
		return numeric(o.EightDigits, data, raw, o)
	}
	// Without a symbology identifier a digit string of another length may be a cut-off
	// EAN as well as a numeric Code128; refusing it is the safe side.
	return reject(ReasonLength, SymbologyNone, raw)
}

var lengths = [...]int{EAN13: 13, EAN8: 8, UPCA: 12, UPCE: 8}

func numeric(sym Symbology, data, raw []byte, o *Opts) Scan {
	if !allDigits(data) {
		return reject(ReasonNotDigits, sym, raw)
	}
	if len(data) != lengths[sym] {
		return reject(ReasonLength, sym, raw)
	}
	if !o.Accept.Has(sym) {
		return reject(ReasonSymbology, sym, raw)
	}
	code := string(data)
	var gtin string
	switch sym {
	case EAN13:
		gtin = code
	case UPCA:
		gtin = "0" + code
	case EAN8:
		gtin = "00000" + code
	case UPCE:
		upca, ok := ExpandUPCE(code)
		if !ok {
			return reject(ReasonSymbology, sym, raw)
		}
		gtin = "0" + upca
	}
	if !ValidCheckDigit(gtin) {
		return reject(ReasonCheckDigit, sym, raw)
	}
	s := Scan{Symbology: sym, Code: code, GTIN: gtin}
	if sym == EAN13 && code[0] == '2' {
		prefix := int(code[0]-'0')*10 + int(code[1]-'0')
		for _, l := range o.InStore {
			if prefix < l.From || prefix > l.To || l.validate() != nil {
				continue
			}
			in, ok := decodeInStore(code, prefix, l)
			if !ok {
				return reject(ReasonValueCheck, sym, raw)
			}
			s.InStore = &in
			break
		}
	}
	return s
}

func decodeInStore(code string, prefix int, l InStoreLayout) (InStore, bool) {
	item := code[2 : 2+l.Item]
	rest := code[2+l.Item : 12]
	value := rest
	if l.ValueCheck {
		value = rest[1:]
		want, ok := PriceCheckDigit(value)
		if !ok || rest[0] != want {
			return InStore{}, false
		}
	}
	v, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return InStore{}, false
	}
	return InStore{Prefix: prefix, Item: item, Kind: l.Kind, Value: v}, true
}

func code128(data, raw []byte, o *Opts) Scan {
	if !o.Accept.Has(Code128) {
		return reject(ReasonSymbology, Code128, raw)
	}
	if len(data) == 0 {
		return reject(ReasonLength, Code128, raw)
	}
	if len(data) > o.MaxCode128 {
		return reject(ReasonOversize, Code128, raw)
	}
	if bytes.IndexFunc(data, func(r rune) bool { return r > ' ' && r < 0x7f }) < 0 {
		return reject(ReasonNoise, Code128, raw) // only spaces and separators: no data
	}
	return Scan{Symbology: Code128, Code: string(data)}
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// CheckDigit returns the GS1 check digit for data, the digits of a GTIN, GLN or SSCC
// without their check digit (GS1 General Specifications 7.9.1: from the right, weights 3
// and 1 alternate, starting with 3; the check digit brings the sum to a multiple of 10).
// It returns false if data holds a non-digit.
func CheckDigit(data string) (byte, bool) {
	sum := 0
	for i := len(data) - 1; i >= 0; i-- {
		c := data[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int(c - '0')
		if (len(data)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10), true
}

// ValidCheckDigit reports whether the last digit of code is the GS1 check digit of the
// others.
func ValidCheckDigit(code string) bool {
	if len(code) < 2 {
		return false
	}
	c, ok := CheckDigit(code[:len(code)-1])
	return ok && c == code[len(code)-1]
}

// Weighting factor tables of GS1 General Specifications 7.9.3 for the price/weight
// verifier digit: 2- (double, then units minus tens), 3 (triple, units), 5+ (times five,
// units plus tens) and 5- (times five, units minus tens), all modulo 10.
var (
	w2minus = [10]int{0, 2, 4, 6, 8, 9, 1, 3, 5, 7}
	w3      = [10]int{0, 3, 6, 9, 2, 5, 8, 1, 4, 7}
	w5plus  = [10]int{0, 5, 1, 6, 2, 7, 3, 8, 4, 9}
	w5minus = [10]int{0, 5, 9, 4, 8, 3, 7, 2, 6, 1}
)

// PriceCheckDigit returns the GS1 price/weight verifier digit of a 4- or 5-digit value
// (GS1 General Specifications 7.9.3). For 4 digits the weights are 2-, 2-, 3, 5- and the
// digit is the units of three times the sum; for 5 digits they are 5+, 2-, 5-, 5+, 2-
// and the digit is the one whose 5- product brings the sum to a multiple of 10.
func PriceCheckDigit(value string) (byte, bool) {
	if !allDigits([]byte(value)) {
		return 0, false
	}
	d := func(i int) int { return int(value[i] - '0') }
	switch len(value) {
	case 4:
		sum := w2minus[d(0)] + w2minus[d(1)] + w3[d(2)] + w5minus[d(3)]
		return byte('0' + sum*3%10), true
	case 5:
		sum := w5plus[d(0)] + w2minus[d(1)] + w5minus[d(2)] + w5plus[d(3)] + w2minus[d(4)]
		need := (10 - sum%10) % 10
		for c := 0; c < 10; c++ {
			if w5minus[c] == need {
				return byte('0' + c), true
			}
		}
	}
	return 0, false
}

// ExpandUPCE returns the UPC-A code a UPC-E code (number system, six digits, check digit)
// stands for; the check digit is carried over, since UPC-E's check digit is UPC-A's. It
// returns false for a number system other than 0 and 1 or a non-digit.
func ExpandUPCE(code string) (string, bool) {
	if len(code) != 8 || !allDigits([]byte(code)) || (code[0] != '0' && code[0] != '1') {
		return "", false
	}
	ns, d, check := code[:1], code[1:7], code[7:]
	var body string
	switch d[5] {
	case '0', '1', '2':
		body = d[0:2] + d[5:6] + "0000" + d[2:5]
	case '3':
		body = d[0:3] + "00000" + d[3:5]
	case '4':
		body = d[0:4] + "00000" + d[4:5]
	default:
		body = d[0:5] + "0000" + d[5:6]
	}
	return ns + body + check, true
}
