package hq

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"tillbox/ledger/journal"
)

// The batch's two COPYs (hq_entries and hq_documents) are written here in PostgreSQL's
// binary COPY format, straight from the decoded entries into one buffer: the same bytes
// pgx's CopyFrom would send, without a []any row and a codec lookup per value (in a
// storm's profile, a sixth of tillhq's CPU went there, most of it arrays'), and without
// an allocation per row.

// copyBuf is a binary COPY stream being written. The zero value is not ready: use
// newCopyBuf.
type copyBuf struct{ b []byte }

var copyBufs = sync.Pool{New: func() any { return &copyBuf{b: make([]byte, 0, 1<<20)} }}

// copySignature opens every binary COPY stream: the signature, no flags, no header
// extension.
const copySignature = "PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// Element types of the arrays written.
const (
	oidInt8 = 20
	oidText = 25
)

// microsecondsToY2K is the Unix time of 2000-01-01, PostgreSQL's epoch, in µs.
const microsecondsToY2K = 946684800 * 1000000

// maxCopyBuf is the largest buffer put back in the pool.
const maxCopyBuf = 8 << 20

func newCopyBuf() *copyBuf {
	c := copyBufs.Get().(*copyBuf)
	c.b = append(c.b[:0], copySignature...)
	return c
}

func (c *copyBuf) release() {
	if cap(c.b) <= maxCopyBuf {
		copyBufs.Put(c)
	}
}

func (c *copyBuf) u16(v uint16) { c.b = binary.BigEndian.AppendUint16(c.b, v) }
func (c *copyBuf) u32(v uint32) { c.b = binary.BigEndian.AppendUint32(c.b, v) }

func (c *copyBuf) row(fields int) { c.u16(uint16(fields)) }

func (c *copyBuf) null() { c.u32(^uint32(0)) }

func (c *copyBuf) text(s string) {
	c.u32(uint32(len(s)))
	c.b = append(c.b, s...)
}

// textOrNull is text s, or NULL for "": what a field the payload's encoder omits when
// empty (omitempty) gives as data->>field.
func (c *copyBuf) textOrNull(s string) {
	if s == "" {
		c.null()
		return
	}
	c.text(s)
}

func (c *copyBuf) textPtr(s *string) {
	if s == nil {
		c.null()
		return
	}
	c.text(*s)
}

func (c *copyBuf) bytea(p []byte) {
	c.u32(uint32(len(p)))
	c.b = append(c.b, p...)
}

func (c *copyBuf) int8(v int64) {
	c.u32(8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

// timestamptz is t as pgx encodes it: µs since 2000-01-01 UTC, the nanoseconds below a
// µs dropped.
func (c *copyBuf) timestamptz(t time.Time) {
	c.int8(t.Unix()*1000000 + int64(t.Nanosecond())/1000 - microsecondsToY2K)
}

// array writes a one-dimensional array of n elements of type oid, each written by elem
// (as a field: length and bytes, or NULL); nulls says whether any element is NULL.
func (c *copyBuf) array(oid uint32, n int, nulls bool, elem func(i int)) {
	at := len(c.b)
	c.u32(0) // the field's length, set below
	if n == 0 {
		c.u32(0) // no dimensions
		c.u32(0)
		c.u32(oid)
	} else {
		c.u32(1)
		if nulls {
			c.u32(1)
		} else {
			c.u32(0)
		}
		c.u32(oid)
		c.u32(uint32(n))
		c.u32(1) // lower bound
		for i := range n {
			elem(i)
		}
	}
	binary.BigEndian.PutUint32(c.b[at:], uint32(len(c.b)-at-4))
}

// reader is the stream with its trailer.
func (c *copyBuf) reader() *bytes.Reader {
	c.u16(^uint16(0))
	return bytes.NewReader(c.b)
}

// copyIn sends c's rows to table's columns in t's transaction (or savepoint).
func copyIn(ctx context.Context, tx pgx.Tx, table string, columns []string, c *copyBuf) error {
	ids := make([]string, len(columns))
	for i, col := range columns {
		ids[i] = pgx.Identifier{col}.Sanitize()
	}
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(ids, ", ") + ") FROM STDIN BINARY"
	_, err := tx.Conn().PgConn().CopyFrom(ctx, c.reader(), sql)
	return err
}

// appendEntryRow writes it as a row of entryColumns.
func (c *copyBuf) appendEntryRow(it *item) {
	c.row(len(entryColumns))
	c.text(it.key.Store)
	c.text(it.key.Till)
	c.int8(int64(it.seq))
	c.text(it.hash)
	c.text(it.prev)
	c.text(it.kind)
	c.textOrNull(it.receipt)
	c.timestamptz(it.at)
	c.bytea(it.raw)
	c.text(it.source)
}

// central writes, as a text field, CentralNumber(store, n) (store is an id: lower-case
// ASCII), without formatting a string first.
func (c *copyBuf) central(store string, n uint64) {
	at := len(c.b)
	c.u32(0)
	for i := 0; i < len(store); i++ {
		b := store[i]
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		c.b = append(c.b, b)
	}
	c.b = append(c.b, "-C"...)
	var digits [20]byte
	i := len(digits)
	for n > 0 || i > len(digits)-9 {
		i--
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	c.b = append(c.b, digits[i:]...)
	binary.BigEndian.PutUint32(c.b[at:], uint32(len(c.b)-at-4))
}

// appendDocumentRow writes document e with the central number CentralNumber(e.Store,
// central) as a row of documentColumns: the same row projectDocuments builds from its
// payload.
func (c *copyBuf) appendDocumentRow(e *journal.Entry, central uint64) {
	var gross, change int64
	var taxes []journal.TaxTotal
	if e.Totals != nil {
		gross, change, taxes = e.Totals.Gross, e.Totals.Change, e.Totals.Taxes
	}
	c.row(len(documentColumns))
	c.text(e.Store)
	c.text(e.Till)
	c.int8(int64(e.Seq))
	c.text(e.Receipt)
	c.central(e.Store, central)
	c.text(string(e.Kind))
	c.timestamptz(e.At)
	c.textOrNull(e.Cashier)
	c.textOrNull(e.Currency)
	c.int8(gross)
	c.int8(change)
	c.textOrNull(e.Reason)
	c.textOrNull(e.Ref)
	if e.Kind == journal.KindStockTransfer || e.Kind == journal.KindInternalRelease {
		c.textPtr(dataText(e.Data, "from"))
		c.textPtr(dataText(e.Data, "to"))
	} else {
		c.null()
		c.null()
	}
	lines := e.Lines
	names, lineTaxes := false, false
	for _, l := range lines {
		names = names || l.Name == ""
		lineTaxes = lineTaxes || l.Tax == ""
	}
	c.array(oidText, len(lines), false, func(i int) { c.text(lines[i].Item) })
	c.array(oidText, len(lines), names, func(i int) { c.textOrNull(lines[i].Name) })
	c.array(oidInt8, len(lines), false, func(i int) { c.int8(lines[i].Qty) })
	c.array(oidInt8, len(lines), false, func(i int) { c.int8(lines[i].Price) })
	c.array(oidInt8, len(lines), false, func(i int) { c.int8(lines[i].Amount) })
	c.array(oidText, len(lines), lineTaxes, func(i int) { c.textOrNull(lines[i].Tax) })
	tenders := e.Tenders
	refs := false
	for _, x := range tenders {
		refs = refs || x.Ref == ""
	}
	c.array(oidText, len(tenders), false, func(i int) { c.text(tenders[i].Kind) })
	c.array(oidInt8, len(tenders), false, func(i int) { c.int8(tenders[i].Amount) })
	c.array(oidText, len(tenders), refs, func(i int) { c.textOrNull(tenders[i].Ref) })
	c.array(oidText, len(taxes), false, func(i int) { c.text(taxes[i].Code) })
	c.array(oidInt8, len(taxes), false, func(i int) { c.int8(taxes[i].Rate) })
	c.array(oidInt8, len(taxes), false, func(i int) { c.int8(taxes[i].Net) })
	c.array(oidInt8, len(taxes), false, func(i int) { c.int8(taxes[i].Tax) })
	c.array(oidInt8, len(taxes), false, func(i int) { c.int8(taxes[i].Gross) })
}
