package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"tillbox/ledger/journal"
)

// checkAgainstEncodingJSON fails t unless readCanonical's verdict on raw agrees with
// encoding/json: an accepted payload decodes to the same entry and encodes back to raw.
// It reports whether readCanonical accepted.
func checkAgainstEncodingJSON(t *testing.T, raw []byte) bool {
	t.Helper()
	var fast journal.Entry
	if !readCanonical(raw, &fast) {
		return false
	}
	var slow journal.Entry
	if err := json.Unmarshal(raw, &slow); err != nil {
		t.Fatalf("readCanonical accepted what encoding/json refuses (%v):\n%s", err, raw)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("readCanonical and encoding/json disagree:\nfast %#v\nslow %#v\nraw  %s", fast, slow, raw)
	}
	again, err := json.Marshal(&fast)
	if err != nil || !bytes.Equal(again, raw) {
		t.Fatalf("readCanonical accepted a non-canonical payload:\nraw   %s\nagain %s (%v)", raw, again, err)
	}
	return true
}

// randomEntry builds an entry of any shape; plain strings use only characters
// readCanonical reads itself, otherwise any bytes at all.
func randomEntry(rng *rand.Rand, plain bool) journal.Entry {
	str := func(optional bool) string {
		if optional && rng.IntN(3) == 0 {
			return ""
		}
		const alphabet = "abcXYZ019 -_.,:/<>&\"\\\n\r\tłŻźÇşÖ€½"
		letters := []rune(alphabet)
		var b strings.Builder
		for n := rng.IntN(12); n > 0; n-- {
			if plain {
				b.WriteRune(letters[rng.IntN(len(letters))])
			} else {
				b.WriteByte(byte(rng.IntN(256)))
			}
		}
		if !plain && rng.IntN(4) == 0 {
			b.WriteString([]string{"\u2028", "\u2029", "\x00", "\b", "\f", "\x7f", "\ufffd"}[rng.IntN(7)])
		}
		return b.String()
	}
	num := func() int64 {
		switch rng.IntN(6) {
		case 0:
			return 0
		case 1:
			return math.MaxInt64
		case 2:
			return math.MinInt64
		case 3:
			return -rng.Int64N(100000)
		}
		return rng.Int64N(1_000_000)
	}
	e := journal.Entry{
		V: 1, Store: str(false), Till: str(false), Seq: rng.Uint64() >> rng.IntN(64), Receipt: str(true),
		Kind: journal.Kind(str(false)), Cashier: str(true), Offline: rng.IntN(2) == 0, Currency: str(true),
		Ref: str(true), Reason: str(true), Prev: str(false), Hash: str(true), Sig: str(true),
		At: time.Date(1+rng.IntN(9998), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60),
			rng.IntN(60), rng.IntN(1e9)>>rng.IntN(30), time.UTC),
	}
	if rng.IntN(5) == 0 {
		e.V = int(num())
	}
	for n := rng.IntN(4); n > 0; n-- {
		e.Lines = append(e.Lines, journal.Line{Item: str(false), Name: str(true), Barcode: str(true),
			Qty: num(), Price: num(), Amount: num(), Tax: str(true)})
	}
	if rng.IntN(4) > 0 {
		e.Totals = &journal.Totals{Gross: num(), Change: num()}
		for n := rng.IntN(3); n > 0; n-- {
			e.Totals.Taxes = append(e.Totals.Taxes, journal.TaxTotal{Code: str(false), Rate: num(), Net: num(), Tax: num(), Gross: num()})
		}
	}
	for n := rng.IntN(3); n > 0; n-- {
		e.Tenders = append(e.Tenders, journal.Tender{Kind: str(false), Amount: num(), Ref: str(true)})
	}
	return e
}

// TestReadCanonicalAgreesWithEncodingJSON: every entry encoding/json writes with plain
// strings is read by readCanonical, to the same entry; with any bytes, whatever
// readCanonical accepts is exactly what encoding/json would make of it.
func TestReadCanonicalAgreesWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for i := range 20000 {
		plain := i%2 == 0
		e := randomEntry(rng, plain)
		raw, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		ok := checkAgainstEncodingJSON(t, raw)
		if plain && !ok {
			t.Fatalf("readCanonical refused a canonical entry:\n%s", raw)
		}
		if ok {
			accepted++
		}
	}
	if accepted < 10000 {
		t.Fatalf("readCanonical accepted %d of 20000", accepted)
	}
}

// TestReadCanonicalRefuses: every way a payload can differ from the canonical encoding is
// refused (DecodeEntry then asks encoding/json, which refuses it with the reason).
func TestReadCanonicalRefuses(t *testing.T) {
	e := journal.Entry{V: 1, Store: "s1", Till: "t1", Seq: 7, Receipt: "S1-T1-000007", Kind: journal.KindSale,
		At: time.Date(2026, 3, 1, 10, 0, 0, 5e6, time.UTC), Cashier: "c1", Currency: "PLN",
		Lines:   []journal.Line{{Item: "1", Name: "Bread <fresh>", Qty: 1000, Price: 499, Amount: 499, Tax: "A"}},
		Totals:  &journal.Totals{Gross: 499, Taxes: []journal.TaxTotal{{Code: "A", Rate: 2300, Net: 406, Tax: 93, Gross: 499}}},
		Tenders: []journal.Tender{{Kind: "cash", Amount: 500}}, Prev: journal.GenesisPrev, Hash: strings.Repeat("a", 64)}
	good, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	if !checkAgainstEncodingJSON(t, good) {
		t.Fatalf("refused the canonical payload %s", good)
	}
	edits := map[string]func(string) string{
		"space after a colon": func(s string) string { return strings.Replace(s, `"seq":7`, `"seq": 7`, 1) },
		"trailing newline":    func(s string) string { return s + "\n" },
		"fields swapped": func(s string) string {
			return strings.Replace(s, `"store":"s1","till":"t1"`, `"till":"t1","store":"s1"`, 1)
		},
		"unknown field":  func(s string) string { return strings.Replace(s, `"seq":7`, `"seq":7,"extra":1`, 1) },
		"leading zero":   func(s string) string { return strings.Replace(s, `"seq":7`, `"seq":07`, 1) },
		"negative seq":   func(s string) string { return strings.Replace(s, `"seq":7`, `"seq":-7`, 1) },
		"minus zero":     func(s string) string { return strings.Replace(s, `"qty":1000`, `"qty":-0`, 1) },
		"float":          func(s string) string { return strings.Replace(s, `"qty":1000`, `"qty":1000.0`, 1) },
		"overflow":       func(s string) string { return strings.Replace(s, `"qty":1000`, `"qty":9223372036854775808`, 1) },
		"empty optional": func(s string) string { return strings.Replace(s, `"cashier":"c1"`, `"cashier":""`, 1) },
		"offline false": func(s string) string {
			return strings.Replace(s, `"cashier":"c1"`, `"cashier":"c1","offline":false`, 1)
		},
		"zero change":          func(s string) string { return strings.Replace(s, `"gross":499}]}`, `"gross":499}],"change":0}`, 1) },
		"empty lines":          func(s string) string { return strings.Replace(s, `"currency":"PLN"`, `"currency":"PLN","lines":[]`, 1) },
		"unescaped <":          func(s string) string { return strings.Replace(s, `\u003cfresh`, `<fresh`, 1) },
		"unescaped >":          func(s string) string { return strings.Replace(s, `fresh\u003e`, `fresh>`, 1) },
		"unescaped &":          func(s string) string { return strings.Replace(s, `Bread`, `Bread&`, 1) },
		"control character":    func(s string) string { return strings.Replace(s, `Bread`, "Bread\x01", 1) },
		"other escape":         func(s string) string { return strings.Replace(s, `Bread`, `Br\u0065ad`, 1) },
		"invalid UTF-8":        func(s string) string { return strings.Replace(s, `Bread`, "Br\xffad", 1) },
		"line separator":       func(s string) string { return strings.Replace(s, `Bread`, "Br\u2028ad", 1) },
		"local time":           func(s string) string { return strings.Replace(s, `10:00:00.005Z`, `11:00:00.005+01:00`, 1) },
		"trailing zero in at":  func(s string) string { return strings.Replace(s, `.005Z`, `.0050Z`, 1) },
		"data is left to json": func(s string) string { return strings.Replace(s, `,"prev"`, `,"data":{"a":1},"prev"`, 1) },
		"truncated":            func(s string) string { return s[:len(s)-1] },
	}
	for name, edit := range edits {
		raw := []byte(edit(string(good)))
		if string(raw) == string(good) {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if checkAgainstEncodingJSON(t, raw) {
			t.Errorf("%s: accepted %s", name, raw)
		}
	}
}

// FuzzReadCanonical: whatever readCanonical accepts, encoding/json reads the same and
// writes back byte for byte.
func FuzzReadCanonical(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 32 {
		e := randomEntry(rng, i%4 != 0)
		raw, err := json.Marshal(&e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkAgainstEncodingJSON(t, raw)
	})
}
