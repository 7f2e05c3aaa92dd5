package hq

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
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
CROSS JOIN LATERAL (SELECT convert_from(e.raw, 'UTF8')::jsonb AS p) j
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

var projectBatch = projectStatements(batchKeys)

// queueProjection queues the projection of the documents refs (by store) behind their
// central numbers.
func (t *pgTxn) queueProjection(stores []string, refs map[string][]centralRef) {
	var ss, ts []string
	var qs, los, ks []int64
	for _, st := range stores {
		start := 0 // the run's first ref: runs are as assignCentral writes them
		for j, r := range refs[st] {
			if j > 0 && refs[st][j-1].till != r.till {
				start = j
			}
			ss, ts, qs = append(ss, st), append(ts, r.till), append(qs, int64(r.seq))
			los, ks = append(los, int64(refs[st][start].seq)), append(ks, int64(j-start))
		}
	}
	if len(qs) == 0 {
		return
	}
	t.queue(projectBatch, ss, ts, qs, los, ks)
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
