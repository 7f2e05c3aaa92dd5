package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

// The projection is the documents of the verified prefix as relational rows, for a back
// office's queries: hq_receipts (one row per document, the signed payload kept as jsonb),
// and its lines, tenders, taxes per rate, cash moves and stock moves. It is written in
// the transaction that verifies the entries (beside their central numbers), so an entry
// above a watermark, a forgery or a conflict never reaches it, and it is rebuilt from
// hq_entries by RebuildProjection. Days are UTC days.
const projectionSchema = `
CREATE TABLE hq_receipts (
	store    text COLLATE "C" NOT NULL,
	till     text COLLATE "C" NOT NULL,
	seq      bigint NOT NULL,
	receipt  text COLLATE "C" NOT NULL,
	central  text COLLATE "C",
	kind     text NOT NULL,
	at       timestamptz NOT NULL,
	cashier  text,
	currency text,
	gross    bigint NOT NULL,
	payload  jsonb NOT NULL,
	PRIMARY KEY (store, till, seq));
CREATE UNIQUE INDEX hq_receipts_receipt ON hq_receipts (store, till, receipt);
CREATE INDEX hq_receipts_at ON hq_receipts (store, at);
CREATE TABLE hq_lines (
	store  text COLLATE "C" NOT NULL,
	till   text COLLATE "C" NOT NULL,
	seq    bigint NOT NULL,
	line   int NOT NULL,
	item   text COLLATE "C" NOT NULL,
	name   text,
	qty    bigint NOT NULL,
	price  bigint NOT NULL,
	amount bigint NOT NULL,
	tax    text,
	PRIMARY KEY (store, till, seq, line));
CREATE TABLE hq_tenders (
	store  text COLLATE "C" NOT NULL,
	till   text COLLATE "C" NOT NULL,
	seq    bigint NOT NULL,
	n      int NOT NULL,
	kind   text NOT NULL,
	amount bigint NOT NULL,
	ref    text,
	PRIMARY KEY (store, till, seq, n));
CREATE TABLE hq_taxes (
	store text COLLATE "C" NOT NULL,
	till  text COLLATE "C" NOT NULL,
	seq   bigint NOT NULL,
	n     int NOT NULL,
	code  text NOT NULL,
	rate  bigint NOT NULL,
	net   bigint NOT NULL,
	tax   bigint NOT NULL,
	gross bigint NOT NULL,
	PRIMARY KEY (store, till, seq, n));
CREATE TABLE hq_cash_moves (
	store  text COLLATE "C" NOT NULL,
	till   text COLLATE "C" NOT NULL,
	seq    bigint NOT NULL,
	kind   text NOT NULL,
	amount bigint NOT NULL,
	reason text,
	PRIMARY KEY (store, till, seq));
CREATE TABLE hq_stock_moves (
	store     text COLLATE "C" NOT NULL,
	till      text COLLATE "C" NOT NULL,
	seq       bigint NOT NULL,
	line      int NOT NULL,
	kind      text NOT NULL,
	item      text COLLATE "C" NOT NULL,
	qty       bigint NOT NULL,
	warehouse text,
	dest      text,
	order_ref text,
	PRIMARY KEY (store, till, seq, line));
-- Takings are what sales and refunds brought in (a refund's gross is what it paid back).
CREATE VIEW hq_takings_daily AS
SELECT store, (at AT TIME ZONE 'UTC')::date AS day, currency, count(*) AS receipts, sum(gross) AS gross
FROM hq_receipts WHERE kind IN ('sale', 'refund') GROUP BY store, day, currency;
CREATE VIEW hq_item_sales AS
SELECT r.store, (r.at AT TIME ZONE 'UTC')::date AS day, l.item, min(l.name) AS name, sum(l.qty) AS qty, sum(l.amount) AS amount
FROM hq_lines l JOIN hq_receipts r USING (store, till, seq)
WHERE r.kind IN ('sale', 'refund') GROUP BY r.store, day, l.item;
CREATE VIEW hq_vat_daily AS
SELECT r.store, (r.at AT TIME ZONE 'UTC')::date AS day, x.code, x.rate, sum(x.net) AS net, sum(x.tax) AS tax, sum(x.gross) AS gross
FROM hq_taxes x JOIN hq_receipts r USING (store, till, seq)
WHERE r.kind IN ('sale', 'refund') GROUP BY r.store, day, x.code, x.rate;
`

// projectionTables are the projection's tables, hq_receipts first.
var projectionTables = []string{"hq_receipts", "hq_lines", "hq_tenders", "hq_taxes", "hq_cash_moves", "hq_stock_moves"}

// projectionEvict removes the projection of a till's entries from a seq on ($1 store,
// $2 till, $3 seq).
var projectionEvict = func() []string {
	out := make([]string, len(projectionTables))
	for i, t := range projectionTables {
		out[i] = `DELETE FROM ` + t + ` WHERE store = $1 AND till = $2 AND seq >= $3`
	}
	return out
}()

// batchKeys are the documents one ingest verified, (s, t, q) and their central number n:
// each is the k-th (from 0) of the run that starts at seq lo, found by the run index
// (store, till, lo) without reading the run's seqs.
const batchKeys = `(SELECT u.s, u.t, u.q, c.first + u.k
	FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(s, t, q, lo, k)
	LEFT JOIN LATERAL (SELECT r.first FROM hq_central_runs r WHERE r.store = u.s AND r.till = u.t AND r.lo = u.lo
		ORDER BY r.first DESC LIMIT 1) c ON true) AS u(s, t, q, n)`

// allKeys are every document of the verified prefix, with its central number n.
const allKeys = `(SELECT e.store, e.till, e.seq, c.n FROM hq_entries e JOIN hq_tills h ON h.store = e.store AND h.till = e.till
	LEFT JOIN (SELECT r.store, r.till, x.seq, r.first + x.o - 1 AS n FROM hq_central_runs r
		CROSS JOIN LATERAL unnest(r.seqs) WITH ORDINALITY AS x(seq, o)) c ON c.store = e.store AND c.till = e.till AND c.seq = e.seq
	WHERE e.seq <= h.through AND e.receipt IS NOT NULL) AS u(s, t, q, n)`

// projectStatements is the projection of the documents keys names (a FROM item with
// columns s, t, q and the central number n) as one statement: one INSERT per table,
// the later ones over the rows the first wrote to hq_receipts. It returns the number of
// documents projected. A document whose receipt number its till already used is not
// projected (ingest refuses a repeat before it verifies it, so this never happens to a
// till's own documents).
func projectStatements(keys string) string {
	central := `upper(e.store) || '-C' || CASE WHEN u.n >= 1000000000 THEN u.n::text ELSE lpad(u.n::text, 9, '0') END`
	receipts := `INSERT INTO hq_receipts (store, till, seq, receipt, central, kind, at, cashier, currency, gross, payload)
SELECT e.store, e.till, e.seq, e.receipt, ` + central + `, e.kind, e.at, j.p->>'cashier', j.p->>'currency',
	coalesce((j.p->'totals'->>'gross')::bigint, 0), j.p
FROM ` + keys + ` JOIN hq_entries e ON e.store = u.s AND e.till = u.t AND e.seq = u.q
CROSS JOIN LATERAL (SELECT convert_from(e.raw, 'UTF8')::jsonb AS p OFFSET 0) j
WHERE e.receipt IS NOT NULL
ON CONFLICT DO NOTHING
RETURNING store, till, seq, kind, gross, payload`
	// The later tables read the rows the first statement returned: no join with a
	// table whose statistics do not know what this transaction wrote.
	from := ` FROM r`
	elems := func(field string) string {
		return ` CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.payload->'` + field + `') = 'array' THEN r.payload->'` + field + `' ELSE '[]' END) WITH ORDINALITY AS x(v, n)`
	}
	parts := []string{
		receipts,
		`INSERT INTO hq_lines (store, till, seq, line, item, name, qty, price, amount, tax)
SELECT r.store, r.till, r.seq, x.n, x.v->>'item', x.v->>'name', (x.v->>'qty')::bigint, coalesce((x.v->>'price')::bigint, 0),
	coalesce((x.v->>'amount')::bigint, 0), x.v->>'tax'` + from + elems("lines"),
		`INSERT INTO hq_tenders (store, till, seq, n, kind, amount, ref)
SELECT r.store, r.till, r.seq, x.n, x.v->>'kind', (x.v->>'amount')::bigint, x.v->>'ref'` + from + elems("tenders"),
		`INSERT INTO hq_taxes (store, till, seq, n, code, rate, net, tax, gross)
SELECT r.store, r.till, r.seq, x.n, x.v->>'code', coalesce((x.v->>'rate')::bigint, 0), coalesce((x.v->>'net')::bigint, 0),
	coalesce((x.v->>'tax')::bigint, 0), coalesce((x.v->>'gross')::bigint, 0)` + from +
			` CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.payload->'totals'->'taxes') = 'array' THEN r.payload->'totals'->'taxes' ELSE '[]' END) WITH ORDINALITY AS x(v, n)`,
		`INSERT INTO hq_cash_moves (store, till, seq, kind, amount, reason)
SELECT r.store, r.till, r.seq, r.kind, r.gross, r.payload->>'reason'` + from + ` WHERE r.kind IN ('cash-in', 'cash-out')`,
		`INSERT INTO hq_stock_moves (store, till, seq, line, kind, item, qty, warehouse, dest, order_ref)
SELECT r.store, r.till, r.seq, x.n, r.kind, x.v->>'item', (x.v->>'qty')::bigint, r.payload->'data'->>'from',
	r.payload->'data'->>'to', r.payload->>'ref'` + from + elems("lines") + ` WHERE r.kind IN ('stock-transfer', 'internal-release')`,
	}
	// One statement: each table's rows are written by its own INSERT, all from the
	// documents the first one projected.
	var b strings.Builder
	b.WriteString("WITH r AS (" + parts[0] + ")")
	for i, q := range parts[1:] {
		fmt.Fprintf(&b, ", p%d AS (%s RETURNING 1)", i, q)
	}
	b.WriteString(" SELECT count(*) FROM r")
	return b.String()
}

// projectedRows are the projection's rows of a batch's newly verified documents, built in
// Go from the entries as decoded, column by column: each table is then one INSERT over
// unnest'ed arrays, queued with the central numbers, so the projection costs no round
// trip of its own and no JSON is parsed by the server except the payload, once.
type projectedRows struct {
	// hq_receipts; j is the document's place among its store's documents of the batch
	// (from 0) and n their count: its central number is the store's next one after the
	// batch's, less n, plus j.
	rStore, rTill, rReceipt, rKind, rCashier, rCurrency, rPayload []string
	rSeq, rJ, rN, rGross                                          []int64
	rAt                                                           []time.Time
	// hq_lines
	lStore, lTill, lItem, lName, lTax []string
	lSeq, lQty, lPrice, lAmount       []int64
	lLine                             []int32
	// hq_tenders
	tStore, tTill, tKind, tRef []string
	tSeq, tAmount              []int64
	tN                         []int32
	// hq_taxes
	xStore, xTill, xCode            []string
	xSeq, xRate, xNet, xTax, xGross []int64
	xN                              []int32
	// hq_cash_moves
	cStore, cTill, cKind, cReason []string
	cSeq, cAmount                 []int64
	// hq_stock_moves
	sStore, sTill, sKind, sItem, sWarehouse, sDest, sOrderRef []string
	sSeq, sQty                                                []int64
	sLine                                                     []int32
	sNull                                                     []bool // warehouse, dest absent
}

// add adds the rows of document e (stored as raw), the j-th of n of its store.
func (p *projectedRows) add(e *journal.Entry, raw []byte, j, n int) {
	st, tl, seq := e.Store, e.Till, int64(e.Seq)
	var gross int64
	var taxes []journal.TaxTotal
	if e.Totals != nil {
		gross, taxes = e.Totals.Gross, e.Totals.Taxes
	}
	p.rStore, p.rTill, p.rSeq, p.rReceipt = append(p.rStore, st), append(p.rTill, tl), append(p.rSeq, seq), append(p.rReceipt, e.Receipt)
	p.rJ, p.rN, p.rKind, p.rAt = append(p.rJ, int64(j)), append(p.rN, int64(n)), append(p.rKind, string(e.Kind)), append(p.rAt, e.At)
	p.rCashier, p.rCurrency, p.rGross = append(p.rCashier, e.Cashier), append(p.rCurrency, e.Currency), append(p.rGross, gross)
	p.rPayload = append(p.rPayload, string(raw))
	for i, l := range e.Lines {
		p.lStore, p.lTill, p.lSeq, p.lLine = append(p.lStore, st), append(p.lTill, tl), append(p.lSeq, seq), append(p.lLine, int32(i+1))
		p.lItem, p.lName, p.lQty = append(p.lItem, l.Item), append(p.lName, l.Name), append(p.lQty, l.Qty)
		p.lPrice, p.lAmount, p.lTax = append(p.lPrice, l.Price), append(p.lAmount, l.Amount), append(p.lTax, l.Tax)
	}
	for i, x := range e.Tenders {
		p.tStore, p.tTill, p.tSeq, p.tN = append(p.tStore, st), append(p.tTill, tl), append(p.tSeq, seq), append(p.tN, int32(i+1))
		p.tKind, p.tAmount, p.tRef = append(p.tKind, x.Kind), append(p.tAmount, x.Amount), append(p.tRef, x.Ref)
	}
	for i, x := range taxes {
		p.xStore, p.xTill, p.xSeq, p.xN = append(p.xStore, st), append(p.xTill, tl), append(p.xSeq, seq), append(p.xN, int32(i+1))
		p.xCode, p.xRate, p.xNet = append(p.xCode, x.Code), append(p.xRate, x.Rate), append(p.xNet, x.Net)
		p.xTax, p.xGross = append(p.xTax, x.Tax), append(p.xGross, x.Gross)
	}
	switch e.Kind {
	case journal.KindCashIn, journal.KindCashOut:
		p.cStore, p.cTill, p.cSeq = append(p.cStore, st), append(p.cTill, tl), append(p.cSeq, seq)
		p.cKind, p.cAmount, p.cReason = append(p.cKind, string(e.Kind)), append(p.cAmount, gross), append(p.cReason, e.Reason)
	case journal.KindStockTransfer, journal.KindInternalRelease:
		from, hasFrom := dataText(e.Data, "from")
		to, hasTo := dataText(e.Data, "to")
		for i, l := range e.Lines {
			p.sStore, p.sTill, p.sSeq, p.sLine = append(p.sStore, st), append(p.sTill, tl), append(p.sSeq, seq), append(p.sLine, int32(i+1))
			p.sKind, p.sItem, p.sQty = append(p.sKind, string(e.Kind)), append(p.sItem, l.Item), append(p.sQty, l.Qty)
			p.sWarehouse, p.sDest, p.sOrderRef = append(p.sWarehouse, from), append(p.sDest, to), append(p.sOrderRef, e.Ref)
			p.sNull = append(p.sNull, !hasFrom, !hasTo)
		}
	}
}

// dataText is what PostgreSQL's data->>key gives for a document's data: a string's
// value, another value's JSON text, and false for a null or absent key (or data that is
// not an object).
func dataText(data json.RawMessage, key string) (string, bool) {
	var m map[string]json.RawMessage
	if len(data) == 0 || json.Unmarshal(data, &m) != nil {
		return "", false
	}
	v, ok := m[key]
	if !ok || string(v) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	return string(v), true
}

// The projection's statements, one per table; $1... are the columns of projectedRows in
// order. ” stands for an absent optional field (NULL in the table), as in the payload
// encoder's omitempty.
const (
	projectReceipts = `INSERT INTO hq_receipts (store, till, seq, receipt, central, kind, at, cashier, currency, gross, payload)
SELECT u.s, u.t, u.q, u.r, upper(u.s) || '-C' || CASE WHEN c.n >= 1000000000 THEN c.n::text ELSE lpad(c.n::text, 9, '0') END,
	u.k, u.a, NULLIF(u.c, ''), NULLIF(u.cur, ''), u.g, u.p::jsonb
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::bigint[], $12::text[])
	AS u(s, t, q, r, j, n, k, a, c, cur, g, p)
JOIN hq_stores h ON h.store = u.s
CROSS JOIN LATERAL (SELECT h.central_next - u.n + u.j + 1 AS n) c`
	projectLines = `INSERT INTO hq_lines (store, till, seq, line, item, name, qty, price, amount, tax)
SELECT s, t, q, n, i, NULLIF(nm, ''), qty, pr, am, NULLIF(tx, '')
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::text[])
	AS u(s, t, q, n, i, nm, qty, pr, am, tx)`
	projectTenders = `INSERT INTO hq_tenders (store, till, seq, n, kind, amount, ref)
SELECT s, t, q, n, k, a, NULLIF(r, '')
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::text[]) AS u(s, t, q, n, k, a, r)`
	projectTaxes = `INSERT INTO hq_taxes (store, till, seq, n, code, rate, net, tax, gross)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])`
	projectCash = `INSERT INTO hq_cash_moves (store, till, seq, kind, amount, reason)
SELECT s, t, q, k, a, NULLIF(r, '') FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[]) AS u(s, t, q, k, a, r)`
	projectStock = `INSERT INTO hq_stock_moves (store, till, seq, line, kind, item, qty, warehouse, dest, order_ref)
SELECT s, t, q, n, k, i, qty, CASE WHEN NOT wn THEN w END, CASE WHEN NOT dn THEN d END, NULLIF(o, '')
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::bool[], $12::bool[])
	AS u(s, t, q, n, k, i, qty, w, d, o, wn, dn)`
)

// queueProjection queues the projection of the documents refs (by store, as
// assignCentral numbers them, after it) behind their central numbers. A document this
// transaction inserted is projected from its decoded entry; one stored before (pending
// until this batch closed its gap) is read back and decoded first.
func (t *pgTxn) queueProjection(ctx context.Context, stores []string, refs map[string][]centralRef) error {
	var missing []docKey
	for _, st := range stores {
		for _, r := range refs[st] {
			if k := (docKey{TillKey{st, r.till}, r.seq}); t.ours[k] == nil {
				missing = append(missing, k)
			}
		}
	}
	if len(missing) > 0 {
		if err := t.readStored(ctx, missing); err != nil {
			return fmt.Errorf("projection: %w", err)
		}
	}
	var p projectedRows
	for _, st := range stores {
		for j, r := range refs[st] {
			it := t.ours[docKey{TillKey{st, r.till}, r.seq}]
			p.add(it.entry, it.raw, j, len(refs[st]))
		}
	}
	if len(p.rSeq) == 0 {
		return nil
	}
	t.queue(projectReceipts, p.rStore, p.rTill, p.rSeq, p.rReceipt, p.rJ, p.rN, p.rKind, p.rAt, p.rCashier, p.rCurrency, p.rGross, p.rPayload)
	if len(p.lSeq) > 0 {
		t.queue(projectLines, p.lStore, p.lTill, p.lSeq, p.lLine, p.lItem, p.lName, p.lQty, p.lPrice, p.lAmount, p.lTax)
	}
	if len(p.tSeq) > 0 {
		t.queue(projectTenders, p.tStore, p.tTill, p.tSeq, p.tN, p.tKind, p.tAmount, p.tRef)
	}
	if len(p.xSeq) > 0 {
		t.queue(projectTaxes, p.xStore, p.xTill, p.xSeq, p.xN, p.xCode, p.xRate, p.xNet, p.xTax, p.xGross)
	}
	if len(p.cSeq) > 0 {
		t.queue(projectCash, p.cStore, p.cTill, p.cSeq, p.cKind, p.cAmount, p.cReason)
	}
	if len(p.sSeq) > 0 {
		wn, dn := make([]bool, len(p.sSeq)), make([]bool, len(p.sSeq))
		for i := range p.sSeq {
			wn[i], dn[i] = p.sNull[2*i], p.sNull[2*i+1]
		}
		t.queue(projectStock, p.sStore, p.sTill, p.sSeq, p.sLine, p.sKind, p.sItem, p.sQty, p.sWarehouse, p.sDest, p.sOrderRef, wn, dn)
	}
	return nil
}

// readStored reads and decodes the stored entries keys names into t.ours, in one round
// trip.
func (t *pgTxn) readStored(ctx context.Context, keys []docKey) error {
	ss, ts, qs := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		ss[i], ts[i], qs[i] = k.till.Store, k.till.Till, int64(k.seq)
	}
	rows, err := t.tx.Query(ctx, `SELECT e.raw FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(s, t, q)
JOIN hq_entries e ON e.store = u.s AND e.till = u.t AND e.seq = u.q`, ss, ts, qs)
	if err != nil {
		return fmt.Errorf("read stored documents: %w", err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return fmt.Errorf("read stored documents: %w", err)
		}
		tx, err := wire.DecodeEntry(raw)
		if err != nil {
			return fmt.Errorf("read stored documents: %w", err)
		}
		t.remember(&item{raw: tx.Raw, entry: &tx.Entry})
		got++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read stored documents: %w", err)
	}
	if got != len(keys) {
		return fmt.Errorf("read stored documents: %d of %d found", got, len(keys))
	}
	return nil
}

// docKey names one entry.
type docKey struct {
	till TillKey
	seq  uint64
}

// remember keeps an entry this transaction holds decoded, for the projection.
func (t *pgTxn) remember(it *item) {
	if t.ours == nil {
		t.ours = map[docKey]*item{}
	}
	t.ours[docKey{TillKey{it.entry.Store, it.entry.Till}, it.entry.Seq}] = it
}

// ErrNoProjection is returned by RebuildProjection for a store that keeps none (bbolt).
var ErrNoProjection = errors.New("this store keeps no relational projection (PostgreSQL only)")

// RebuildProjection empties the projection and writes it again from the verified
// prefix of every till, in one transaction: a reader sees the old projection or the new
// one, and ingest waits for it. It returns the number of documents projected.
func RebuildProjection(ctx context.Context, st Store) (int64, error) {
	s, ok := st.(*pgStore)
	if !ok {
		return 0, fmt.Errorf("hq: rebuild projection: %w", ErrNoProjection)
	}
	var n int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `TRUNCATE `+strings.Join(projectionTables, ", ")); err != nil {
			return err
		}
		return tx.QueryRow(ctx, projectStatements(allKeys)).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("hq: rebuild projection: %w", err)
	}
	return n, nil
}
