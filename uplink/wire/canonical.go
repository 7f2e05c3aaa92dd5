package wire

import (
	"time"
	"unicode/utf8"

	"tillbox/ledger/journal"
)

// readCanonical decodes raw into e when raw is, byte for byte, what encoding/json writes
// for a journal.Entry (the ledger's canonical encoding): fields in declared order, empty
// optional fields left out, compact, strings escaped as encoding/json escapes them. It
// reports false for anything else, and also for canonical payloads it does not handle
// itself (a "data" field, a time not in UTC, a rare escape), which DecodeEntry then
// checks the slow way.
//
// It guarantees: when it reports true, json.Unmarshal(raw) gives the same entry and
// json.Marshal of that entry gives raw again (FuzzReadCanonical checks both). It is a
// shortcut for HQ's hot path, never a second definition of the format.
func readCanonical(raw []byte, e *journal.Entry) bool {
	r := canonReader{b: raw, s: string(raw)}
	var v int64
	if !r.lit(`{"v":`) || !r.int(&v) || v != int64(int(v)) {
		return false
	}
	e.V = int(v)
	if !r.lit(`,"store":`) || !r.str(&e.Store) || !r.lit(`,"till":`) || !r.str(&e.Till) ||
		!r.lit(`,"seq":`) || !r.uint(&e.Seq) ||
		!r.optStr(`,"receipt":`, &e.Receipt) {
		return false
	}
	var kind string
	if !r.lit(`,"kind":`) || !r.str(&kind) || !r.lit(`,"at":`) || !r.utcTime(&e.At) ||
		!r.optStr(`,"cashier":`, &e.Cashier) {
		return false
	}
	e.Kind = journal.Kind(kind)
	if r.lit(`,"offline":`) {
		if !r.lit("true") {
			return false
		}
		e.Offline = true
	}
	if !r.optStr(`,"currency":`, &e.Currency) {
		return false
	}
	if r.lit(`,"lines":[`) {
		for {
			var l journal.Line
			if !r.line(&l) {
				return false
			}
			e.Lines = append(e.Lines, l)
			if !r.lit(",") {
				break
			}
		}
		if !r.lit("]") {
			return false
		}
	}
	if r.lit(`,"totals":`) {
		e.Totals = new(journal.Totals)
		if !r.totals(e.Totals) {
			return false
		}
	}
	if r.lit(`,"tenders":[`) {
		for {
			var t journal.Tender
			if !r.lit(`{"kind":`) || !r.str(&t.Kind) || !r.lit(`,"amount":`) || !r.int(&t.Amount) ||
				!r.optStr(`,"ref":`, &t.Ref) || !r.lit("}") {
				return false
			}
			e.Tenders = append(e.Tenders, t)
			if !r.lit(",") {
				break
			}
		}
		if !r.lit("]") {
			return false
		}
	}
	if !r.optStr(`,"ref":`, &e.Ref) || !r.optStr(`,"reason":`, &e.Reason) {
		return false
	}
	if r.at(`,"data":`) {
		return false // raw JSON of any shape: the slow path compacts and compares it
	}
	if !r.lit(`,"prev":`) || !r.str(&e.Prev) || !r.optStr(`,"hash":`, &e.Hash) ||
		!r.optStr(`,"sig":`, &e.Sig) || !r.lit("}") {
		return false
	}
	return r.i == len(r.b)
}

// canonReader walks a canonical payload; every method consumes only on success. s is a
// copy of b made once, so that the entry's strings without escapes are slices of it
// rather than an allocation each (they keep the payload's copy alive, no more).
type canonReader struct {
	b []byte
	s string
	i int
}

func (r *canonReader) at(s string) bool {
	return len(r.b)-r.i >= len(s) && string(r.b[r.i:r.i+len(s)]) == s
}

func (r *canonReader) lit(s string) bool {
	if !r.at(s) {
		return false
	}
	r.i += len(s)
	return true
}

// optStr reads an omitempty string field: absent, or present and not empty.
func (r *canonReader) optStr(key string, dst *string) bool {
	if !r.lit(key) {
		return true
	}
	return r.str(dst) && *dst != ""
}

// optInt reads an omitempty integer field: absent, or present and not zero.
func (r *canonReader) optInt(key string, dst *int64) bool {
	if !r.lit(key) {
		return true
	}
	return r.int(dst) && *dst != 0
}

// str reads a string as encoding/json writes it: valid UTF-8 other than U+2028 and
// U+2029, no control characters, and <, > and & escaped as \u003c, \u003e and \u0026.
// Escapes other than those and \" \\ \n \r \t are left to the slow path.
func (r *canonReader) str(dst *string) bool {
	if !r.lit(`"`) {
		return false
	}
	start := r.i
	var esc []byte // the unescaped string, once an escape was seen
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			if esc == nil {
				*dst = r.s[start:r.i]
			} else {
				*dst = string(esc)
			}
			r.i++
			return true
		case c == '\\':
			if esc == nil {
				esc = append(make([]byte, 0, r.i-start+16), r.b[start:r.i]...)
			}
			d, n := r.escape()
			if n == 0 {
				return false
			}
			esc = append(esc, d)
			r.i += n
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			return false
		case c < utf8.RuneSelf:
			if esc != nil {
				esc = append(esc, c)
			}
			r.i++
		default:
			ru, n := utf8.DecodeRune(r.b[r.i:])
			if ru == utf8.RuneError && n == 1 || ru == '\u2028' || ru == '\u2029' {
				return false
			}
			if esc != nil {
				esc = append(esc, r.b[r.i:r.i+n]...)
			}
			r.i += n
		}
	}
	return false
}

// escape decodes the escape at r.i into one byte and its length, or n 0.
func (r *canonReader) escape() (byte, int) {
	rest := r.b[r.i:]
	if len(rest) < 2 {
		return 0, 0
	}
	switch rest[1] {
	case '"', '\\':
		return rest[1], 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		if len(rest) >= 6 {
			switch string(rest[2:6]) {
			case "003c":
				return '<', 6
			case "003e":
				return '>', 6
			case "0026":
				return '&', 6
			}
		}
	}
	return 0, 0
}

// uint reads a decimal as encoding/json writes a uint64: no sign, no leading zero.
func (r *canonReader) uint(dst *uint64) bool {
	start := r.i
	var n uint64
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		d := uint64(r.b[r.i] - '0')
		if n > (1<<64-1-d)/10 {
			r.i = start
			return false
		}
		n = n*10 + d
		r.i++
	}
	digits := r.i - start
	if digits == 0 || digits > 1 && r.b[start] == '0' {
		r.i = start
		return false
	}
	*dst = n
	return true
}

// int reads a decimal as encoding/json writes an int64: "-" only before a non-zero
// value, no leading zero.
func (r *canonReader) int(dst *int64) bool {
	start := r.i
	neg := r.lit("-")
	var u uint64
	if !r.uint(&u) || neg && u == 0 || !neg && u > 1<<63-1 || neg && u > 1<<63 {
		r.i = start
		return false
	}
	if neg {
		*dst = -int64(u-1) - 1
	} else {
		*dst = int64(u)
	}
	return true
}

// utcTime reads a time as time.Time's MarshalJSON writes one in UTC.
func (r *canonReader) utcTime(dst *time.Time) bool {
	start := r.i
	var s string
	if !r.str(&s) || len(s) == 0 || s[len(s)-1] != 'Z' {
		r.i = start
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	var again [len(time.RFC3339Nano)]byte
	if err != nil || string(t.AppendFormat(again[:0], time.RFC3339Nano)) != s {
		r.i = start
		return false
	}
	*dst = t
	return true
}

func (r *canonReader) line(l *journal.Line) bool {
	return r.lit(`{"item":`) && r.str(&l.Item) && r.optStr(`,"name":`, &l.Name) &&
		r.optStr(`,"barcode":`, &l.Barcode) &&
		r.lit(`,"qty":`) && r.int(&l.Qty) && r.lit(`,"price":`) && r.int(&l.Price) &&
		r.lit(`,"amount":`) && r.int(&l.Amount) && r.optStr(`,"tax":`, &l.Tax) && r.lit("}")
}

func (r *canonReader) totals(t *journal.Totals) bool {
	if !r.lit(`{"gross":`) || !r.int(&t.Gross) {
		return false
	}
	if r.lit(`,"taxes":[`) {
		for {
			var x journal.TaxTotal
			if !r.lit(`{"code":`) || !r.str(&x.Code) || !r.lit(`,"rate":`) || !r.int(&x.Rate) ||
				!r.lit(`,"net":`) || !r.int(&x.Net) || !r.lit(`,"tax":`) || !r.int(&x.Tax) ||
				!r.lit(`,"gross":`) || !r.int(&x.Gross) || !r.lit("}") {
				return false
			}
			t.Taxes = append(t.Taxes, x)
			if !r.lit(",") {
				break
			}
		}
		if !r.lit("]") {
			return false
		}
	}
	return r.optInt(`,"change":`, &t.Change) && r.lit("}")
}
