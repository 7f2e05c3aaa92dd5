package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// Numbers at and beyond every limit, as JSON text: those that fit no int64 (or no uint64)
// can only be written as text.
const (
	maxInt64   = "9223372036854775807"
	maxInt64p1 = "9223372036854775808"
	maxUint64  = "18446744073709551615"
	twoTo64    = "18446744073709551616"
	minInt64   = "-9223372036854775808"
	minInt64m1 = "-9223372036854775809"
)

// limitEntry is a self-consistent sale of s042/t03 at seq 7 after mod, hashed, in the
// ledger's canonical encoding.
func limitEntry(t *testing.T, mod func(e *journal.Entry)) []byte {
	t.Helper()
	e := journal.Entry{V: 1, Store: "s042", Till: "t03", Seq: 7, Receipt: "S042-T03-000007", Kind: journal.KindSale,
		At: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Cashier: "c1", Currency: "PLN",
		Lines:   []journal.Line{{Item: "123", Qty: 2000, Price: 499, Amount: 998, Tax: "A"}},
		Totals:  &journal.Totals{Gross: 998, Taxes: []journal.TaxTotal{{Code: "A", Rate: 2300, Net: 811, Tax: 187, Gross: 998}}, Change: 2},
		Tenders: []journal.Tender{{Kind: "cash", Amount: 1000}}, Prev: strings.Repeat("ab", 32)}
	mod(&e)
	if e.Seq == 1 {
		e.Prev = journal.GenesisPrev
	}
	h, err := e.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = h
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// placeholder marks the number a text case replaces; no other figure of limitEntry has it.
const placeholder = 424242

func TestEntryNumericLimits(t *testing.T) {
	fields := []struct {
		name  string
		limit int64
		set   func(e *journal.Entry, v int64)
	}{
		{"qty", wire.MaxQty, func(e *journal.Entry, v int64) { e.Lines[0].Qty = v }},
		{"price", wire.MaxPrice, func(e *journal.Entry, v int64) { e.Lines[0].Price = v }},
		{"amount", wire.MaxAmount, func(e *journal.Entry, v int64) { e.Lines[0].Amount = v }},
		{"gross", wire.MaxAmount, func(e *journal.Entry, v int64) { e.Totals.Gross = v }},
		{"change", wire.MaxAmount, func(e *journal.Entry, v int64) { e.Totals.Change = v }},
		{"net", wire.MaxAmount, func(e *journal.Entry, v int64) { e.Totals.Taxes[0].Net = v }},
		{"tax", wire.MaxAmount, func(e *journal.Entry, v int64) { e.Totals.Taxes[0].Tax = v }},
		{"gross", wire.MaxAmount, func(e *journal.Entry, v int64) { e.Totals.Taxes[0].Gross = v }},
		{"amount", wire.MaxAmount, func(e *journal.Entry, v int64) { e.Tenders[0].Amount = v }},
	}
	for _, f := range fields {
		for _, c := range []struct {
			v  int64
			ok bool
		}{
			{0, true}, {1, true}, {-1, true}, {f.limit, true}, {-f.limit, true},
			{f.limit + 1, false}, {-f.limit - 1, false}, {math.MaxInt64, false}, {math.MinInt64, false},
		} {
			raw := limitEntry(t, func(e *journal.Entry) { f.set(e, c.v) })
			_, err := wire.DecodeEntry(raw)
			switch {
			case c.ok && err != nil:
				t.Errorf("%s %d refused: %v", f.name, c.v, err)
			case !c.ok && !errors.Is(err, wire.ErrInvalid):
				t.Errorf("%s %d: error %v, want ErrInvalid", f.name, c.v, err)
			case !c.ok && !strings.Contains(err.Error(), f.name):
				t.Errorf("%s %d: error %q does not name the field", f.name, c.v, err)
			}
		}
		// Beyond an int64: only as text, refused by the decoder before any hash.
		raw := limitEntry(t, func(e *journal.Entry) { f.set(e, placeholder) })
		for _, text := range []string{maxInt64p1, maxUint64, twoTo64, minInt64m1} {
			p := bytes.Replace(raw, []byte(strconv.Itoa(placeholder)), []byte(text), 1)
			if _, err := wire.DecodeEntry(p); !errors.Is(err, wire.ErrInvalid) || !strings.Contains(err.Error(), f.name) {
				t.Errorf("%s %s: error %v, want ErrInvalid naming the field", f.name, text, err)
			}
		}
	}
	for _, c := range []struct {
		rate int64
		ok   bool
	}{{0, true}, {1, true}, {wire.MaxTaxRate, true}, {wire.MaxTaxRate + 1, false}, {-1, false}, {math.MaxInt64, false}, {math.MinInt64, false}} {
		_, err := wire.DecodeEntry(limitEntry(t, func(e *journal.Entry) { e.Totals.Taxes[0].Rate = c.rate }))
		if c.ok != (err == nil) || !c.ok && !errors.Is(err, wire.ErrInvalid) {
			t.Errorf("tax rate %d: %v", c.rate, err)
		}
	}
}

func TestEntrySeqLimits(t *testing.T) {
	for _, c := range []struct {
		seq  uint64
		want error
	}{
		{0, wire.ErrMissing}, {1, nil}, {2, nil}, {math.MaxInt64, nil},
		{math.MaxInt64 + 1, wire.ErrInvalid}, {math.MaxInt64 + 2, wire.ErrInvalid}, {math.MaxUint64, wire.ErrInvalid},
	} {
		raw := limitEntry(t, func(e *journal.Entry) {
			e.Seq, e.Receipt = c.seq, journal.ReceiptNumber("S042-T03", max(c.seq, 1))
		})
		tx, err := wire.DecodeTx(wire.Topic{Store: "s042", Till: "t03", Kind: wire.KindTx}, raw)
		if !errors.Is(err, c.want) || c.want == nil && tx.Entry.Seq != c.seq {
			t.Errorf("seq %d: seq %d, error %v, want %v", c.seq, tx.Entry.Seq, err, c.want)
		}
	}
	raw := limitEntry(t, func(e *journal.Entry) { e.Seq = placeholder })
	for _, text := range []string{"-1", "-0", minInt64, twoTo64, "1e3", "7.0"} {
		p := bytes.Replace(raw, []byte(strconv.Itoa(placeholder)), []byte(text), 1)
		if _, err := wire.DecodeEntry(p); !errors.Is(err, wire.ErrInvalid) && !errors.Is(err, wire.ErrNotJSON) {
			t.Errorf("seq %s: error %v, want ErrInvalid", text, err)
		}
	}
}

func TestEntryReceiptMatchesSeq(t *testing.T) {
	topic := wire.Topic{Store: "s042", Till: "t03", Kind: wire.KindTx}
	for _, c := range []struct {
		name    string
		seq     uint64
		kind    journal.Kind
		receipt string
		want    error
	}{
		{"the seq's own number", 7, journal.KindSale, "S042-T03-000007", nil},
		{"a document counter below the seq", 7, journal.KindRefund, "S042-T03-000001", nil},
		{"another prefix", 7, journal.KindSale, "SHOP-7-000005", nil},
		{"seven digits", 1234567, journal.KindSale, "S042-T03-1234567", nil},
		{"at MaxInt64", math.MaxInt64, journal.KindSale, "S042-T03-" + maxInt64, nil},
		{"number zero", 7, journal.KindSale, "S042-T03-000000", wire.ErrInvalid},
		{"number above the seq", 7, journal.KindSale, "S042-T03-000008", wire.ErrInvalid},
		{"far above the seq", 7, journal.KindSale, "S042-T03-" + maxInt64, wire.ErrInvalid},
		{"beyond int64", math.MaxInt64, journal.KindSale, "S042-T03-" + maxInt64p1, wire.ErrInvalid},
		{"beyond uint64", math.MaxInt64, journal.KindSale, "S042-T03-" + twoTo64, wire.ErrInvalid},
		{"max uint64", math.MaxInt64, journal.KindSale, "S042-T03-" + maxUint64, wire.ErrInvalid},
		{"not zero-padded", 7, journal.KindSale, "S042-T03-7", wire.ErrInvalid},
		{"padded beyond six", 7, journal.KindSale, "S042-T03-0000007", wire.ErrInvalid},
		{"signed number", 7, journal.KindSale, "S042-T03-+00007", wire.ErrInvalid},
		{"no prefix", 7, journal.KindSale, "-000007", wire.ErrInvalid},
		{"no separator", 7, journal.KindSale, "S042T03000007", wire.ErrInvalid},
		{"not a number", 7, journal.KindSale, "S042-T03-00000x", wire.ErrInvalid},
		{"trailing space", 7, journal.KindSale, "S042-T03-000007 ", wire.ErrInvalid},
		{"a technical entry with a receipt", 7, journal.KindPowerUp, "S042-T03-000007", wire.ErrInvalid},
		{"a document without one", 7, journal.KindSale, "", wire.ErrMissing},
		{"a technical entry without one", 7, journal.KindSignOn, "", nil},
	} {
		raw := limitEntry(t, func(e *journal.Entry) { e.Seq, e.Kind, e.Receipt = c.seq, c.kind, c.receipt })
		if _, err := wire.DecodeTx(topic, raw); !errors.Is(err, c.want) {
			t.Errorf("%s (seq %d, %s %q): error %v, want %v", c.name, c.seq, c.kind, c.receipt, err, c.want)
		}
	}
}

// uintCases are the unsigned limits of a counter bounded by MaxSeq.
var uintCases = []struct {
	text string
	want error
}{
	{"0", nil}, {"1", nil}, {maxInt64, nil}, {maxInt64p1, wire.ErrInvalid}, {maxUint64, wire.ErrInvalid},
	{twoTo64, wire.ErrInvalid}, {"-1", wire.ErrInvalid}, {minInt64, wire.ErrInvalid}, {"1.5", wire.ErrInvalid},
}

func TestAckLimits(t *testing.T) {
	for _, c := range uintCases {
		p := []byte(`{"v":1,"through":` + c.text + `}`)
		n, err := wire.DecodeAck(p)
		if !errors.Is(err, c.want) || c.want == nil && strconv.FormatUint(n, 10) != c.text {
			t.Errorf("through %s: %d, %v, want %v", c.text, n, err, c.want)
		}
	}
	pub, priv := testKey(t, 1)
	for _, c := range []struct {
		through uint64
		want    error
	}{{0, nil}, {1, nil}, {math.MaxInt64, nil}, {math.MaxInt64 + 1, wire.ErrInvalid}, {math.MaxUint64, wire.ErrInvalid}} {
		signed := wire.SignAck(priv, "s042", "t03", c.through)
		if n, err := wire.DecodeSignedAck(signed, pub, "s042", "t03"); !errors.Is(err, c.want) || c.want == nil && n != c.through {
			t.Errorf("signed through %d: %d, %v, want %v", c.through, n, err, c.want)
		}
	}
	for _, id := range []string{`"store":"S042"`, `"till":"t/03"`, `"till":"-t"`} {
		if _, err := wire.DecodeAck([]byte(`{"v":1,"through":3,` + id + `}`)); !errors.Is(err, wire.ErrInvalid) {
			t.Errorf("ack naming %s: %v, want ErrInvalid", id, err)
		}
	}
}

func TestStatusLimits(t *testing.T) {
	for _, field := range []string{"last_seq", "watermark", "backlog", "catalog"} {
		for _, c := range uintCases {
			p := []byte(`{"v":1,"state":"online","` + field + `":` + c.text + `}`)
			if _, err := wire.DecodeStatus(p); !errors.Is(err, c.want) {
				t.Errorf("%s %s: %v, want %v", field, c.text, err, c.want)
			}
		}
	}
	for _, field := range []string{"ledger_bytes", "free_disk_bytes"} {
		for _, c := range []struct {
			text string
			want error
		}{
			{"0", nil}, {"1", nil}, {maxInt64, nil}, {"-1", wire.ErrInvalid}, {minInt64, wire.ErrInvalid},
			{maxInt64p1, wire.ErrInvalid}, {maxUint64, wire.ErrInvalid}, {minInt64m1, wire.ErrInvalid},
		} {
			p := []byte(`{"v":1,"state":"online","` + field + `":` + c.text + `}`)
			if _, err := wire.DecodeStatus(p); !errors.Is(err, c.want) {
				t.Errorf("%s %s: %v, want %v", field, c.text, err, c.want)
			}
		}
	}
}

func TestCatalogLimits(t *testing.T) {
	topic := wire.Topic{Store: "s042", Kind: wire.KindCatalog}
	decodeWith := func(mod func(c *wire.Catalog), old, new string) error {
		c := validCatalog(t)
		mod(&c)
		p, err := wire.EncodeCatalog(c)
		if err != nil {
			t.Fatal(err)
		}
		if old != "" {
			if !bytes.Contains(p, []byte(old)) {
				t.Fatalf("%s not in %s", old, p)
			}
			p = bytes.Replace(p, []byte(old), []byte(new), 1)
		}
		_, err = wire.DecodeCatalog(topic, p)
		return err
	}
	nop := func(*wire.Catalog) {}
	for _, c := range append([]struct {
		text string
		want error
	}{{"0", wire.ErrMissing}}, uintCases[1:]...) {
		if err := decodeWith(nop, `"version":3`, `"version":`+c.text); !errors.Is(err, c.want) {
			t.Errorf("version %s: %v, want %v", c.text, err, c.want)
		}
	}
	signed := []struct {
		name   string
		set    func(c *wire.Catalog, v int64)
		ok     []int64
		refuse []int64
	}{
		{"price", func(c *wire.Catalog, v int64) { c.Items[0].Price = v },
			[]int64{0, 1, wire.MaxPrice}, []int64{-1, wire.MaxPrice + 1, math.MaxInt64, math.MinInt64}},
		{"rate", func(c *wire.Catalog, v int64) { c.Taxes[1].Rate = v },
			[]int64{0, 1, wire.MaxTaxRate}, []int64{-1, wire.MaxTaxRate + 1, math.MaxInt64, math.MinInt64}},
		{"age", func(c *wire.Catalog, v int64) { c.Items[0].OpenAge = int(v) },
			[]int64{0, 1, 99}, []int64{-1, 100, math.MaxInt64, math.MinInt64}},
	}
	for _, f := range signed {
		for _, v := range f.ok {
			if err := decodeWith(func(c *wire.Catalog) { f.set(c, v) }, "", ""); err != nil {
				t.Errorf("%s %d refused: %v", f.name, v, err)
			}
		}
		for _, v := range f.refuse {
			if err := decodeWith(func(c *wire.Catalog) { f.set(c, v) }, "", ""); !errors.Is(err, wire.ErrInvalid) {
				t.Errorf("%s %d: %v, want ErrInvalid", f.name, v, err)
			}
		}
		for _, text := range []string{maxInt64p1, maxUint64, minInt64m1} {
			err := decodeWith(func(c *wire.Catalog) { f.set(c, placeholder) }, fmt.Sprint(placeholder), text)
			if !errors.Is(err, wire.ErrInvalid) {
				t.Errorf("%s %s: %v, want ErrInvalid", f.name, text, err)
			}
		}
	}
	// PIN iterations, in a hash whose key is never computed (Validate only parses).
	key := strings.Repeat("ab", 32)
	for _, c := range []struct {
		iter string
		ok   bool
	}{
		{"1000", true}, {"10000000", true}, {"999", false}, {"10000001", false}, {"0", false}, {"1", false},
		{"-1000", false}, {"+1000", false}, {"01000", false}, {" 1000", false}, {maxInt64, false},
		{maxInt64p1, false}, {maxUint64, false}, {twoTo64, false},
	} {
		h := "pbkdf2-sha256$" + c.iter + "$73616c7473616c74$" + key
		err := decodeWith(func(ca *wire.Catalog) { ca.Cashiers[0].PINHash = h }, "", "")
		if c.ok != (err == nil) || !c.ok && !errors.Is(err, wire.ErrInvalid) {
			t.Errorf("iterations %s: %v", c.iter, err)
		}
	}
	if _, err := wire.HashPIN("1", []byte("saltsalt"), wire.MaxPINIterations+1); !errors.Is(err, wire.ErrInvalid) {
		t.Errorf("HashPIN above the iteration limit: %v", err)
	}
}

func TestCmdIdentityFields(t *testing.T) {
	for _, c := range []struct {
		extra string
		want  error
	}{
		{`,"store":"s042","till":"t03"`, nil}, {`,"store":"S042"`, wire.ErrInvalid}, {`,"till":"t 03"`, wire.ErrInvalid},
		{`,"till":"` + strings.Repeat("t", 33) + `"`, wire.ErrInvalid},
	} {
		if _, err := wire.DecodeCmd([]byte(`{"v":1,"id":"x","name":"sync-now"` + c.extra + `}`)); !errors.Is(err, c.want) {
			t.Errorf("cmd with %s: %v, want %v", c.extra, err, c.want)
		}
	}
}

// TestEntrySumsFitInt64: the densest entry of the largest figures that fits one payload
// (tax totals, three figures each, every one at MaxAmount) is accepted, and the sum of the
// magnitudes of all its figures is below 2^63.
func TestEntrySumsFitInt64(t *testing.T) {
	withTaxes := func(n int) []byte {
		taxes := make([]journal.TaxTotal, n)
		for i := range taxes {
			taxes[i] = journal.TaxTotal{Net: wire.MaxAmount, Tax: wire.MaxAmount, Gross: wire.MaxAmount}
		}
		return limitEntry(t, func(e *journal.Entry) { e.Totals.Taxes = taxes })
	}
	one := len(withTaxes(1))
	per := len(withTaxes(2)) - one
	n := 1 + (wire.MaxTxBytes-one)/per
	raw := withTaxes(n)
	if len(raw) > wire.MaxTxBytes || len(withTaxes(n+1)) <= wire.MaxTxBytes {
		t.Fatalf("%d tax totals in %d bytes: not the most that fit", n, len(raw))
	}
	tx, err := wire.DecodeEntry(raw)
	if err != nil {
		t.Fatalf("the densest entry (%d tax totals, %d bytes) refused: %v", n, len(raw), err)
	}
	var sum, figures uint64
	add := func(v int64) {
		m := uint64(v)
		if v < 0 {
			m = uint64(-v)
		}
		if sum+m < sum || sum+m > math.MaxInt64 {
			t.Fatalf("the magnitudes of one entry's figures overflow an int64 (%d tax totals)", n)
		}
		sum, figures = sum+m, figures+1
	}
	e := tx.Entry
	for _, l := range e.Lines {
		add(l.Price)
		add(l.Amount)
	}
	add(e.Totals.Gross)
	add(e.Totals.Change)
	for _, x := range e.Totals.Taxes {
		add(x.Net)
		add(x.Tax)
		add(x.Gross)
	}
	for _, td := range e.Tenders {
		add(td.Amount)
	}
	t.Logf("%d figures in %d bytes: their magnitudes sum to %.3f × 2^63", figures, len(raw), float64(sum)/(1<<63))
}
