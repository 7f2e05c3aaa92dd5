package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"tillbox/uplink/wire"
)

// The projection is the documents of the verified prefix as relational rows, for a back
// office's queries: hq_receipts (one row per document, the signed payload kept as jsonb),
// and its lines, tenders, taxes per rate, cash moves and stock moves. It is written in
// the transaction that verifies the entries (beside their central numbers), so an entry
// above a watermark, a forgery or a conflict never reaches it, and it is rebuilt from
// hq_entries by RebuildProjection. Days are UTC days.
//
// projectionSchema is schema 3's projection, as tables, kept for the migration steps
// through it: written row by row from the payloads on the server, it cost ingest more
// than the entries themselves (the payload parsed into jsonb once per field read, then
// five rows and seven index entries per two-line sale). Schema 4 (documentsSchema)
// replaces it.
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

// documentsSchema is the projection from schema 4 on: one row per document in
// hq_documents, its lines, tenders and taxes as arrays in that row (index i of each
// line_ array is line i+1), and the relations a back office queries as views over it,
// with schema 3's names and columns: hq_receipts (whose payload is the stored entry as
// jsonb, read from hq_entries when selected), hq_lines, hq_tenders, hq_taxes,
// hq_cash_moves, hq_stock_moves, and the daily views. One row and one index entry per
// document is what ingest writes; reason, ref, warehouse and dest are the document's
// (warehouse and dest, its data's from and to, only for stock documents).
const documentsSchema = `
CREATE TABLE hq_documents (
	store     text COLLATE "C" NOT NULL,
	till      text COLLATE "C" NOT NULL,
	seq       bigint NOT NULL,
	receipt   text COLLATE "C" NOT NULL,
	central   text COLLATE "C",
	kind      text NOT NULL,
	at        timestamptz NOT NULL,
	cashier   text,
	currency  text,
	gross     bigint NOT NULL,
	change    bigint NOT NULL DEFAULT 0,
	reason    text,
	ref       text,
	warehouse text,
	dest      text,
	line_items     text[] NOT NULL,
	line_names     text[] NOT NULL,
	line_qtys      bigint[] NOT NULL,
	line_prices    bigint[] NOT NULL,
	line_amounts   bigint[] NOT NULL,
	line_taxes     text[] NOT NULL,
	tender_kinds   text[] NOT NULL,
	tender_amounts bigint[] NOT NULL,
	tender_refs    text[] NOT NULL,
	tax_codes      text[] NOT NULL,
	tax_rates      bigint[] NOT NULL,
	tax_nets       bigint[] NOT NULL,
	tax_taxes      bigint[] NOT NULL,
	tax_grosses    bigint[] NOT NULL,
	-- The one index: a document is projected once (an entry's at never changes), and a
	-- till's documents of a day are a range of it (the back office's "receipts of one
	-- till on a day"); an evict's delete reads its till's range.
	PRIMARY KEY (store, till, at, seq));
-- The payload is the entry's stored bytes as jsonb, parsed only when selected; the left
-- join to hq_entries' primary key is left out by the planner when it is not.
CREATE VIEW hq_receipts AS
SELECT d.store, d.till, d.seq, d.receipt, d.central, d.kind, d.at, d.cashier, d.currency, d.gross,
	convert_from(e.raw, 'UTF8')::jsonb AS payload
FROM hq_documents d LEFT JOIN hq_entries e ON e.store = d.store AND e.till = d.till AND e.seq = d.seq;
CREATE VIEW hq_lines AS
SELECT d.store, d.till, d.seq, l.n::int AS line, l.item, l.name, l.qty, l.price, l.amount, l.tax
FROM hq_documents d CROSS JOIN LATERAL unnest(d.line_items, d.line_names, d.line_qtys, d.line_prices, d.line_amounts, d.line_taxes)
	WITH ORDINALITY AS l(item, name, qty, price, amount, tax, n);
CREATE VIEW hq_tenders AS
SELECT d.store, d.till, d.seq, x.n::int AS n, x.kind, x.amount, x.ref
FROM hq_documents d CROSS JOIN LATERAL unnest(d.tender_kinds, d.tender_amounts, d.tender_refs) WITH ORDINALITY AS x(kind, amount, ref, n);
CREATE VIEW hq_taxes AS
SELECT d.store, d.till, d.seq, x.n::int AS n, x.code, x.rate, x.net, x.tax, x.gross
FROM hq_documents d CROSS JOIN LATERAL unnest(d.tax_codes, d.tax_rates, d.tax_nets, d.tax_taxes, d.tax_grosses)
	WITH ORDINALITY AS x(code, rate, net, tax, gross, n);
CREATE VIEW hq_cash_moves AS
SELECT store, till, seq, kind, gross AS amount, reason FROM hq_documents WHERE kind IN ('cash-in', 'cash-out');
CREATE VIEW hq_stock_moves AS
SELECT d.store, d.till, d.seq, l.n::int AS line, d.kind, l.item, l.qty, d.warehouse, d.dest, d.ref AS order_ref
FROM hq_documents d CROSS JOIN LATERAL unnest(d.line_items, d.line_qtys) WITH ORDINALITY AS l(item, qty, n)
WHERE d.kind IN ('stock-transfer', 'internal-release');
-- Takings are what sales and refunds brought in (a refund's gross is what it paid back).
CREATE VIEW hq_takings_daily AS
SELECT store, (at AT TIME ZONE 'UTC')::date AS day, currency, count(*) AS receipts, sum(gross) AS gross
FROM hq_documents WHERE kind IN ('sale', 'refund') GROUP BY store, day, currency;
CREATE VIEW hq_item_sales AS
SELECT d.store, (d.at AT TIME ZONE 'UTC')::date AS day, l.item, min(l.name) AS name, sum(l.qty) AS qty, sum(l.amount) AS amount
FROM hq_documents d CROSS JOIN LATERAL unnest(d.line_items, d.line_names, d.line_qtys, d.line_amounts) AS l(item, name, qty, amount)
WHERE d.kind IN ('sale', 'refund') GROUP BY d.store, day, l.item;
CREATE VIEW hq_vat_daily AS
SELECT d.store, (d.at AT TIME ZONE 'UTC')::date AS day, x.code, x.rate, sum(x.net) AS net, sum(x.tax) AS tax, sum(x.gross) AS gross
FROM hq_documents d CROSS JOIN LATERAL unnest(d.tax_codes, d.tax_rates, d.tax_nets, d.tax_taxes, d.tax_grosses) AS x(code, rate, net, tax, gross)
WHERE d.kind IN ('sale', 'refund') GROUP BY d.store, day, x.code, x.rate;
`

// migrateToDocuments is the step to schema 4: schema 3's projection tables give way to
// hq_documents and the views, projected again from the entries.
var migrateToDocuments = `DROP VIEW hq_takings_daily, hq_item_sales, hq_vat_daily;
DROP TABLE hq_receipts, hq_lines, hq_tenders, hq_taxes, hq_cash_moves, hq_stock_moves;
` + documentsSchema + projectDocumentsFrom(runKeys) + `;
INSERT INTO hq_schema (version) VALUES (4);
`

// migrateToChange is the step to schema 6: a document's change given back in cash
// (totals.change), which the business view takes off cash, read once from each stored
// entry that has one instead of from its payload at every refresh.
const migrateToChange = `ALTER TABLE hq_documents ADD COLUMN IF NOT EXISTS change bigint NOT NULL DEFAULT 0;
UPDATE hq_documents d SET change = c.change
FROM hq_entries e CROSS JOIN LATERAL (SELECT (convert_from(e.raw, 'UTF8')::jsonb->'totals'->>'change')::bigint AS change) c
WHERE e.store = d.store AND e.till = d.till AND e.seq = d.seq AND c.change IS NOT NULL AND c.change <> 0;
INSERT INTO hq_schema (version) VALUES (6);
`

// projectDocumentsFrom writes hq_documents from the verified prefix of every till (allKeys),
// on the server, each payload parsed once: the same rows as ingest writes from the
// entries it decoded (RebuildProjection, and the migration to schema 4 from runKeys).
func projectDocumentsFrom(keys string) string {
	return `INSERT INTO hq_documents (store, till, seq, receipt, central, kind, at, cashier, currency, gross, change, reason, ref,
	warehouse, dest, line_items, line_names, line_qtys, line_prices, line_amounts, line_taxes, tender_kinds, tender_amounts,
	tender_refs, tax_codes, tax_rates, tax_nets, tax_taxes, tax_grosses)
SELECT e.store, e.till, e.seq, e.receipt, upper(e.store) || '-C' || CASE WHEN u.n >= 1000000000 THEN u.n::text ELSE lpad(u.n::text, 9, '0') END,
	e.kind, e.at, j.p->>'cashier', j.p->>'currency', coalesce((j.p->'totals'->>'gross')::bigint, 0),
	coalesce((j.p->'totals'->>'change')::bigint, 0), j.p->>'reason', j.p->>'ref',
	CASE WHEN e.kind IN ('stock-transfer', 'internal-release') THEN j.p->'data'->>'from' END,
	CASE WHEN e.kind IN ('stock-transfer', 'internal-release') THEN j.p->'data'->>'to' END,
	ARRAY(SELECT x->>'item' FROM jsonb_array_elements(j.lines) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT x->>'name' FROM jsonb_array_elements(j.lines) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT (x->>'qty')::bigint FROM jsonb_array_elements(j.lines) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT coalesce((x->>'price')::bigint, 0) FROM jsonb_array_elements(j.lines) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT coalesce((x->>'amount')::bigint, 0) FROM jsonb_array_elements(j.lines) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT x->>'tax' FROM jsonb_array_elements(j.lines) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT x->>'kind' FROM jsonb_array_elements(j.tenders) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT (x->>'amount')::bigint FROM jsonb_array_elements(j.tenders) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT x->>'ref' FROM jsonb_array_elements(j.tenders) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT x->>'code' FROM jsonb_array_elements(j.taxes) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT coalesce((x->>'rate')::bigint, 0) FROM jsonb_array_elements(j.taxes) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT coalesce((x->>'net')::bigint, 0) FROM jsonb_array_elements(j.taxes) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT coalesce((x->>'tax')::bigint, 0) FROM jsonb_array_elements(j.taxes) WITH ORDINALITY AS a(x, o) ORDER BY o),
	ARRAY(SELECT coalesce((x->>'gross')::bigint, 0) FROM jsonb_array_elements(j.taxes) WITH ORDINALITY AS a(x, o) ORDER BY o)
FROM ` + keys + ` JOIN hq_entries e ON e.store = u.s AND e.till = u.t AND e.seq = u.q
CROSS JOIN LATERAL (SELECT p,
		CASE WHEN jsonb_typeof(p->'lines') = 'array' THEN p->'lines' ELSE '[]' END AS lines,
		CASE WHEN jsonb_typeof(p->'tenders') = 'array' THEN p->'tenders' ELSE '[]' END AS tenders,
		CASE WHEN jsonb_typeof(p->'totals'->'taxes') = 'array' THEN p->'totals'->'taxes' ELSE '[]' END AS taxes
	FROM (SELECT convert_from(e.raw, 'UTF8')::jsonb AS p OFFSET 0) p OFFSET 0) j`
}

// projectDocuments is projectDocumentsFrom every document of the verified prefix.
var projectDocuments = projectDocumentsFrom(allKeys)

// projectionEvict removes the projection of a till's entries from a seq on ($1 store,
// $2 till, $3 seq).
var projectionEvict = []string{`DELETE FROM hq_documents WHERE store = $1 AND till = $2 AND seq >= $3`}

// allKeys are every document of the verified prefix, with its central number n.
const allKeys = `(SELECT e.store, e.till, e.seq, c.n FROM hq_entries e JOIN hq_tills h ON h.store = e.store AND h.till = e.till
	LEFT JOIN (SELECT r.store, x.till, x.seq, r.first + x.o - 1 AS n FROM hq_central_runs r
		CROSS JOIN LATERAL unnest(r.tills, r.seqs) WITH ORDINALITY AS x(till, seq, o)) c ON c.store = e.store AND c.till = e.till AND c.seq = e.seq
	WHERE e.seq <= h.through AND e.receipt IS NOT NULL) AS u(s, t, q, n)`

// runKeys is allKeys over the runs of one till each, as schemas 2 to 4 keep them: the
// migrations to schemas 3 and 4 read them.
const runKeys = `(SELECT e.store, e.till, e.seq, c.n FROM hq_entries e JOIN hq_tills h ON h.store = e.store AND h.till = e.till
	LEFT JOIN (SELECT r.store, r.till, x.seq, r.first + x.o - 1 AS n FROM hq_central_runs r
		CROSS JOIN LATERAL unnest(r.seqs) WITH ORDINALITY AS x(seq, o)) c ON c.store = e.store AND c.till = e.till AND c.seq = e.seq
	WHERE e.seq <= h.through AND e.receipt IS NOT NULL) AS u(s, t, q, n)`

// projectStatements is schema 3's projection (the migration to it only) of the documents
// keys names (a FROM item with columns s, t, q and the central number n) as one
// statement, each payload parsed once: one INSERT per table,
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

// documentColumns are hq_documents' columns as appendDocumentRow writes them.
var documentColumns = []string{"store", "till", "seq", "receipt", "central", "kind", "at", "cashier", "currency", "gross", "change",
	"reason", "ref", "warehouse", "dest", "line_items", "line_names", "line_qtys", "line_prices", "line_amounts", "line_taxes",
	"tender_kinds", "tender_amounts", "tender_refs", "tax_codes", "tax_rates", "tax_nets", "tax_taxes", "tax_grosses"}

// dataText is what PostgreSQL's data->>key gives for a document's data: a string's
// value, another value's JSON text, NULL (nil) for a null or absent key or data that is
// not an object.
func dataText(data json.RawMessage, key string) *string {
	var m map[string]json.RawMessage
	if len(data) == 0 || json.Unmarshal(data, &m) != nil {
		return nil
	}
	v, ok := m[key]
	if !ok || string(v) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v)
	}
	return &s
}

// unknownDocs are the documents of refs this transaction did not insert and this
// process does not hold decoded (pgStore.docs, checked against the hash verified).
func (t *pgTxn) unknownDocs(stores []string, refs map[string][]centralRef) []docKey {
	var out []docKey
	for _, st := range stores {
		for _, r := range refs[st] {
			k := docKey{TillKey{st, r.till}, r.seq}
			if r.it != nil || t.ours[k] != nil {
				continue
			}
			if e := t.st.pendingDoc(k, r.hash); e != nil {
				t.remember(&item{entry: e})
				continue
			}
			out = append(out, k)
		}
	}
	return out
}

// project writes the projection of the documents refs (by store, as assignCentral
// numbered them from bases), all of which t knows decoded: one COPY into hq_documents.
func (t *pgTxn) project(ctx context.Context, stores []string, refs map[string][]centralRef, bases map[string]int64) error {
	buf := newCopyBuf()
	defer buf.release()
	n := 0
	for _, st := range stores {
		base, ok := bases[st]
		if !ok && len(refs[st]) > 0 {
			return fmt.Errorf("no central numbers for store %s", st)
		}
		for j, r := range refs[st] {
			it := r.it
			if it == nil {
				it = t.ours[docKey{TillKey{st, r.till}, r.seq}]
			}
			buf.appendDocumentRow(it.entry, uint64(base)+uint64(j)+1)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := copyIn(ctx, t.tx, "hq_documents", documentColumns, buf); err != nil {
		return fmt.Errorf("hq_documents: %w", err)
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
		if _, err := tx.Exec(ctx, `TRUNCATE hq_documents`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, projectDocuments)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hq: rebuild projection: %w", err)
	}
	return n, nil
}
