package hq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaVersion is the PostgreSQL schema this build needs; Migrate brings a database to it.
const schemaVersion = 6

var migrations = []string{`
CREATE TABLE IF NOT EXISTS hq_schema (version int PRIMARY KEY);
CREATE TABLE IF NOT EXISTS hq_tills (
	store        text NOT NULL,
	till         text NOT NULL,
	through      bigint NOT NULL DEFAULT 0,
	through_hash text NOT NULL,
	updated_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (store, till));
CREATE TABLE IF NOT EXISTS hq_entries (
	store       text NOT NULL,
	till        text NOT NULL,
	seq         bigint NOT NULL,
	hash        text NOT NULL,
	prev        text NOT NULL,
	kind        text NOT NULL,
	receipt     text,
	at          timestamptz NOT NULL,
	raw         bytea NOT NULL,
	source      text NOT NULL,
	received_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (store, till, seq));
CREATE INDEX IF NOT EXISTS hq_entries_receipt ON hq_entries (receipt) WHERE receipt IS NOT NULL;
CREATE TABLE IF NOT EXISTS hq_central (
	central text PRIMARY KEY,
	store   text NOT NULL,
	till    text NOT NULL,
	seq     bigint NOT NULL,
	UNIQUE (store, till, seq));
CREATE TABLE IF NOT EXISTS hq_stores (
	store        text PRIMARY KEY,
	central_next bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS hq_quarantine (
	id      bigserial PRIMARY KEY,
	at      timestamptz NOT NULL,
	source  text NOT NULL,
	topic   text,
	store   text,
	till    text,
	seq     bigint,
	reason  text NOT NULL,
	payload bytea);
INSERT INTO hq_schema (version) VALUES (1) ON CONFLICT DO NOTHING;
`, `
-- Ids, receipt and central numbers are ASCII compared byte by byte: in the "C" collation
-- the keys' comparisons are memcmp instead of the database locale's rules.
ALTER TABLE hq_tills ALTER COLUMN store TYPE text COLLATE "C", ALTER COLUMN till TYPE text COLLATE "C";
ALTER TABLE hq_entries ALTER COLUMN store TYPE text COLLATE "C", ALTER COLUMN till TYPE text COLLATE "C",
	ALTER COLUMN receipt TYPE text COLLATE "C";
ALTER TABLE hq_stores ALTER COLUMN store TYPE text COLLATE "C";
ALTER TABLE hq_quarantine ALTER COLUMN store TYPE text COLLATE "C", ALTER COLUMN till TYPE text COLLATE "C";
-- Central numbers by runs: one row per till per commit instead of one row (and two index
-- entries) per receipt, which was as costly as storing the entry itself. The run's
-- entries seqs[1], seqs[2], ... have the store's numbers first, first+1, ...
CREATE TABLE hq_central_runs (
	store text COLLATE "C" NOT NULL,
	first bigint NOT NULL,
	till  text COLLATE "C" NOT NULL,
	seqs  bigint[] NOT NULL,
	lo    bigint NOT NULL,
	PRIMARY KEY (store, first));
CREATE INDEX hq_central_runs_till ON hq_central_runs (store, till, lo);
INSERT INTO hq_central_runs (store, first, till, seqs, lo)
	SELECT store, substring(central from '-C([0-9]+)$')::bigint, till, ARRAY[seq], seq FROM hq_central;
DROP TABLE hq_central;
INSERT INTO hq_schema (version) VALUES (2);
`, projectionSchema + projectStatements(runKeys) + `;
INSERT INTO hq_schema (version) VALUES (3);
`, migrateToDocuments, `
-- Each till's head holds what ingest otherwise looked up per till under its lock: the
-- receipt of the last document at or below the watermark, and the highest seq stored
-- (nothing above it waits to be linked, so a till whose batch continues its watermark
-- needs no read of its entries). Heads are updated by every batch: half of each page is
-- left for the new versions, so that they stay on the page (HOT).
ALTER TABLE hq_tills ADD COLUMN last_doc text COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN stored_top bigint NOT NULL DEFAULT 0;
ALTER TABLE hq_tills SET (fillfactor = 50);
-- Central numbers by runs of a store instead of a till: one row per store per commit
-- (a reconnect storm's batch holds an entry of each of a thousand tills, and a row and
-- two index entries per till cost as much as the entries). Entry i of a run, tills[i]'s
-- seqs[i], has the store's number first+i-1; a number retired by an evict keeps its
-- till and loses its seq (NULL). An entry's own number is its document's central.
ALTER TABLE hq_central_runs ADD COLUMN tills text[] COLLATE "C";
UPDATE hq_central_runs SET tills = array_fill(till, ARRAY[cardinality(seqs)]);
ALTER TABLE hq_central_runs ALTER COLUMN tills SET NOT NULL, DROP COLUMN till, DROP COLUMN lo;
UPDATE hq_tills h SET
	last_doc = coalesce((SELECT e.receipt FROM hq_entries e WHERE e.store = h.store AND e.till = h.till AND e.seq <= h.through
		AND e.receipt IS NOT NULL ORDER BY e.seq DESC LIMIT 1), ''),
	stored_top = coalesce((SELECT max(e.seq) FROM hq_entries e WHERE e.store = h.store AND e.till = h.till), 0);
INSERT INTO hq_schema (version) VALUES (5);
`, migrateToChange}

// pgStore keeps entries in PostgreSQL; several consumers may share one database.
type pgStore struct {
	pool *pgxpool.Pool
	// tills are the tills known to have a head row (they are never deleted): a batch
	// creates only the others'. A head found missing all the same (the tables emptied
	// beneath a running process) empties it and is created. Each holds the highest seq
	// this process last saw stored of the till (its watermark or top, as last committed):
	// a batch's entry at or below it is likely held (a resend, a probe), and is compared
	// before the batch's COPY instead of failing it.
	tillsMu sync.Mutex
	tills   map[TillKey]uint64
	// docs are documents this process inserted above their till's watermark, decoded,
	// by key: a batch that closes the gap below them projects them from here instead of
	// reading them back (checked against the hash it verified). At most maxPendingDocs.
	docs map[docKey]*journal.Entry
	// unprojected leaves the relational projection unwritten: only the ingest benchmark
	// sets it, for its baseline.
	unprojected bool
}

// Migrate creates or upgrades the schema at url. It is idempotent.
func Migrate(ctx context.Context, url string) error {
	return migrateTo(ctx, url, len(migrations))
}

func migrateTo(ctx context.Context, url string, version int) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("hq: migrate: %w", err)
	}
	defer conn.Close(ctx)
	// One migrator at a time, whatever else connects.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7411042)`); err != nil {
		return fmt.Errorf("hq: migrate: lock: %w", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock(7411042)`)
	// Step i brings the schema to version i+1; the steps a database has had are skipped.
	var have int
	var exists bool
	err = conn.QueryRow(ctx, `SELECT to_regclass('hq_schema') IS NOT NULL`).Scan(&exists)
	if err == nil && exists {
		err = conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM hq_schema`).Scan(&have)
	}
	if err != nil {
		return fmt.Errorf("hq: migrate: read version: %w", err)
	}
	for i, m := range migrations[min(have, version):version] {
		step := have + i + 1
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, m)
			return err
		}); err != nil {
			return fmt.Errorf("hq: migrate: to version %d: %w", step, err)
		}
	}
	return nil
}

// OpenPostgres connects to the database at url, whose schema must be current.
func OpenPostgres(ctx context.Context, url string) (Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("hq: open postgres: %w", err)
	}
	if cfg.MaxConns < 4 {
		cfg.MaxConns = 4
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("hq: open postgres: %w", err)
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT max(version) FROM hq_schema`).Scan(&v); err != nil || v < schemaVersion {
		pool.Close()
		if err == nil {
			err = fmt.Errorf("version %d, need %d", v, schemaVersion)
		}
		return nil, fmt.Errorf("hq: open postgres: %w (run tillhq migrate): %v", ErrSchema, err)
	}
	if err := createQuarantineBounds(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("hq: open postgres: %w", err)
	}
	return &pgStore{pool: pool, tills: map[TillKey]uint64{}, docs: map[docKey]*journal.Entry{}}, nil
}

// maxKnownTills bounds pgStore.tills: past it, the set starts again empty.
const maxKnownTills = 1 << 20

// maxPendingDocs bounds pgStore.docs: about 2 KB each (the decoded entry; its payload
// is held by the entry's strings), beyond a fleet storm's entries waiting above a gap
// between two connections at once.
const maxPendingDocs = 1 << 13

// unknownTills returns those of keys not known to have a head row.
func (s *pgStore) unknownTills(keys []TillKey) []TillKey {
	s.tillsMu.Lock()
	defer s.tillsMu.Unlock()
	var out []TillKey
	for _, k := range keys {
		if _, ok := s.tills[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// knowTills records that the tills of seen have head rows (committed), each with the
// highest seq seen stored, or with forget empties the set.
func (s *pgStore) knowTills(seen map[TillKey]uint64, forget bool) {
	s.tillsMu.Lock()
	defer s.tillsMu.Unlock()
	if forget || len(s.tills)+len(seen) > maxKnownTills {
		s.tills = map[TillKey]uint64{}
	}
	for k, top := range seen {
		s.tills[k] = max(s.tills[k], top)
	}
}

// likelyHeld splits items (by till and seq) into those at or below their till's highest
// seq this process saw stored, and the others, keeping their order.
func (s *pgStore) likelyHeld(items []*item) (held, rest []*item) {
	s.tillsMu.Lock()
	defer s.tillsMu.Unlock()
	var top uint64
	var k TillKey
	for i, it := range items {
		if i == 0 || it.key != k {
			k, top = it.key, s.tills[it.key]
		}
		if it.seq <= top {
			held = append(held, it)
		} else {
			rest = append(rest, it)
		}
	}
	return held, rest
}

// pendingDoc is the decoded document key with hash, when this process holds it.
func (s *pgStore) pendingDoc(k docKey, hash string) *journal.Entry {
	s.tillsMu.Lock()
	defer s.tillsMu.Unlock()
	if e := s.docs[k]; e != nil && e.Hash == hash {
		return e
	}
	return nil
}

// committed updates what the process knows after t's commit: the documents it verified
// leave docs, those it inserted and left above their watermark join it (when full, it
// starts again empty: what another process verified is never taken out otherwise).
func (s *pgStore) committed(t *pgTxn) {
	if t.unprojected || len(t.verified) == 0 && len(t.inserted) == 0 {
		return
	}
	verified := make(map[docKey]bool, len(t.verified))
	for _, k := range t.verified {
		verified[k] = true
	}
	s.tillsMu.Lock()
	defer s.tillsMu.Unlock()
	for _, k := range t.verified {
		delete(s.docs, k)
	}
	for _, it := range t.inserted {
		k := docKey{it.key, it.seq}
		if it.receipt == "" || !it.inserted || verified[k] {
			continue
		}
		if len(s.docs) >= maxPendingDocs {
			s.docs = map[docKey]*journal.Entry{}
		}
		s.docs[k] = it.entry
	}
}

func (s *pgStore) Close() error { s.pool.Close(); return nil }

func (s *pgStore) run(ctx context.Context, fn func(t txn) error) error {
	var t *pgTxn
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		t = &pgTxn{tx: tx, st: s, unprojected: s.unprojected}
		if err := fn(t); err != nil {
			return err
		}
		return t.flush(ctx)
	})
	if t != nil && t.forgetTills {
		s.knowTills(nil, true)
	}
	if err != nil {
		return fmt.Errorf("hq: postgres commit: %w", err)
	}
	if t != nil {
		s.knowTills(t.seen, false)
		s.committed(t)
	}
	return nil
}

// pgTxn is one transaction. Writes whose result nothing waits for (the watermarks) are
// queued and go to the server with the next statements that must be sent anyway (the
// central numbers), or before the commit: one round trip less while the tills are locked.
type pgTxn struct {
	tx pgx.Tx
	st *pgStore
	// seen are the tills whose heads lockTills locked (they exist once committed), each
	// with the highest seq known stored once this transaction commits.
	seen        map[TillKey]uint64
	forgetTills bool // a head the store knew was missing
	pending     *pgx.Batch
	unprojected bool
	// ours are the entries read back for the projection, decoded (those the batch brought
	// come with their central refs).
	ours map[docKey]*item
	// pre are the heads lockFirst locked and read.
	pre map[TillKey]TillState
	// verified are the documents this transaction numbered, inserted the items it
	// inserted: what pgStore.committed learns from.
	verified []docKey
	inserted []*item
}

func (t *pgTxn) queue(sql string, args ...any) {
	if t.pending == nil {
		t.pending = &pgx.Batch{}
	}
	t.pending.Queue(sql, args...)
}

// flush sends what is queued in one round trip and fails on the first statement that
// failed.
func (t *pgTxn) flush(ctx context.Context) error {
	b := t.pending
	if b == nil {
		return nil
	}
	t.pending = nil
	br := t.tx.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

func (t *pgTxn) insert(ctx context.Context, items []*item) error {
	// Almost always every key is new: COPY them, which is PostgreSQL's cheapest way in.
	// A key already held fails the COPY as a whole; its savepoint is then rolled back and
	// the batch takes the statement that sorts new keys from held ones. So the keys
	// likely held (at or below what this process last saw stored of their till: a
	// resend, a probe) are looked up first, and only those not found go with the COPY.
	held, rest := t.st.likelyHeld(items)
	if len(held) > 0 {
		if err := t.heldHashes(ctx, held); err != nil {
			return err
		}
		for _, it := range held {
			if it.existing == "" {
				rest = append(rest, it)
			}
		}
		if len(rest) > 0 && len(rest) < len(items) {
			slices.SortFunc(rest, itemCmp)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	t.inserted = rest
	switch copied, err := t.copyNew(ctx, rest); {
	case err != nil:
		return err
	case copied:
		for _, it := range rest {
			it.inserted = true
		}
		return nil
	}
	return t.insertEach(ctx, rest)
}

// itemCmp orders items by till and seq, as planBatch sorts them.
func itemCmp(a, b *item) int {
	if c := tillCmp(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// insertEach inserts the items whose key is new and sets existing for the others.
func (t *pgTxn) insertEach(ctx context.Context, items []*item) error {
	n := len(items)
	stores, tills, hashes, prevs, kinds, receipts, sources := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seqs, ats, raws := make([]int64, n), make([]time.Time, n), make([][]byte, n)
	for i, it := range items {
		stores[i], tills[i], seqs[i], hashes[i], prevs[i] = it.key.Store, it.key.Till, int64(it.seq), it.hash, it.prev
		kinds[i], receipts[i], ats[i], raws[i], sources[i] = it.kind, it.receipt, it.at, it.raw, it.source
	}
	rows, err := t.tx.Query(ctx, `
INSERT INTO hq_entries (store, till, seq, hash, prev, kind, receipt, at, raw, source)
SELECT s, t, q, h, p, k, NULLIF(r, ''), a, w, src
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::bytea[], $10::text[])
	AS u(s, t, q, h, p, k, r, a, w, src)
ON CONFLICT DO NOTHING
RETURNING store, till, seq`, stores, tills, seqs, hashes, prevs, kinds, receipts, ats, raws, sources)
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	type key struct {
		k   TillKey
		seq int64
	}
	idx := make(map[key]*item, n)
	for _, it := range items {
		idx[key{it.key, int64(it.seq)}] = it
	}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.k.Store, &k.k.Till, &k.seq); err != nil {
			rows.Close()
			return fmt.Errorf("insert: %w", err)
		}
		if it := idx[k]; it != nil {
			it.inserted = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	var missed []*item
	for _, it := range items {
		if !it.inserted {
			missed = append(missed, it)
		}
	}
	return t.heldHashes(ctx, missed)
}

// heldHashes sets existing to the stored hash of each of items that is held.
func (t *pgTxn) heldHashes(ctx context.Context, items []*item) error {
	if len(items) == 0 {
		return nil
	}
	type key struct {
		k   TillKey
		seq int64
	}
	idx := make(map[key]*item, len(items))
	ms, mt, mq := make([]string, len(items)), make([]string, len(items)), make([]int64, len(items))
	for i, it := range items {
		idx[key{it.key, int64(it.seq)}] = it
		ms[i], mt[i], mq[i] = it.key.Store, it.key.Till, int64(it.seq)
	}
	rows, err := t.tx.Query(ctx, `
SELECT e.store, e.till, e.seq, e.hash FROM hq_entries e
JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS u(s, t, q) ON e.store = u.s AND e.till = u.t AND e.seq = u.q`, ms, mt, mq)
	if err != nil {
		return fmt.Errorf("insert: held hashes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k key
		var h string
		if err := rows.Scan(&k.k.Store, &k.k.Till, &k.seq, &h); err != nil {
			return fmt.Errorf("insert: held hashes: %w", err)
		}
		if it := idx[k]; it != nil {
			it.existing = h
		}
	}
	return rows.Err()
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

var entryColumns = []string{"store", "till", "seq", "hash", "prev", "kind", "receipt", "at", "raw", "source"}

// copyNew inserts items with COPY inside a savepoint and reports whether it did; false
// with no error means a key was already held and nothing was inserted.
func (t *pgTxn) copyNew(ctx context.Context, items []*item) (bool, error) {
	sp, err := t.tx.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("insert: savepoint: %w", err)
	}
	buf := newCopyBuf()
	defer buf.release()
	for _, it := range items {
		buf.appendEntryRow(it)
	}
	err = copyIn(ctx, sp, "hq_entries", entryColumns, buf)
	if err == nil {
		if err := sp.Commit(ctx); err != nil {
			return false, fmt.Errorf("insert: release savepoint: %w", err)
		}
		return true, nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		if err := sp.Rollback(ctx); err != nil {
			return false, fmt.Errorf("insert: rollback to savepoint: %w", err)
		}
		return false, nil
	}
	return false, fmt.Errorf("insert: copy: %w", err)
}

func (t *pgTxn) quarantine(ctx context.Context, qs []Quarantine) error {
	n := len(qs)
	ats, sources, topics, stores, tills, reasons := make([]time.Time, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	seqs, payloads := make([]int64, n), make([][]byte, n)
	for i, q := range qs {
		ats[i], sources[i], topics[i], stores[i], tills[i] = q.At, q.Source, q.Topic, q.Store, q.Till
		seqs[i], reasons[i], payloads[i] = int64(q.Seq), q.Reason, q.Payload
	}
	// In the order given: ids number the quarantine as it was found.
	_, err := t.tx.Exec(ctx, `INSERT INTO hq_quarantine (at, source, topic, store, till, seq, reason, payload)
SELECT a, src, NULLIF(tp, ''), NULLIF(s, ''), NULLIF(tl, ''), NULLIF(q, 0), r, p
FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bytea[])
	WITH ORDINALITY AS u(a, src, tp, s, tl, q, r, p, ord)
ORDER BY ord`, ats, sources, topics, stores, tills, seqs, reasons, payloads)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	return nil
}

// tillColumns splits keys into the arrays the set-based statements unnest.
func tillColumns(keys []TillKey) (stores, tills []string) {
	stores, tills = make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		stores[i], tills[i] = k.Store, k.Till
	}
	return stores, tills
}

// spanColumns splits spans into the arrays the set-based statements unnest: each span's
// store, till, first and last seq.
func spanColumns(spans []span) (stores, tills []string, froms, tos []int64) {
	n := len(spans)
	stores, tills, froms, tos = make([]string, n), make([]string, n), make([]int64, n), make([]int64, n)
	for i, s := range spans {
		stores[i], tills[i], froms[i], tos[i] = s.key.Store, s.key.Till, int64(s.from), int64(s.to)
	}
	return stores, tills, froms, tos
}

// lockFirst creates the tills it does not know and locks the heads of keys (sorted,
// distinct) in one round trip, before the batch inserts anything: so a till's entries
// are only ever inserted by the transaction that holds its head, and no transaction
// waits for another's uncommitted entry while it holds heads. With skip it does not wait
// for a head another transaction holds, and returns those keys, in order, as skipped:
// the batch leaves their entries to a transaction of their own, after its commit.
// Without skip it waits for each in turn. Both statements go in key order: the insert
// waits for another consumer's uncommitted new till in the same order as that one waits
// for ours, and FOR UPDATE below ORDER BY locks rows as they come out of the sort, so
// two transactions waiting on each other's heads never deadlock.
func (t *pgTxn) lockFirst(ctx context.Context, keys []TillKey, skip bool) ([]TillKey, error) {
	heads, err := t.lockHeads(ctx, keys, t.st.unknownTills(keys), skip)
	if errors.Is(err, errHeadMissing) {
		t.forgetTills = true
		heads, err = t.lockHeads(ctx, keys, keys, skip)
	}
	if err != nil {
		return nil, err
	}
	if t.pre == nil {
		t.pre = make(map[TillKey]TillState, len(heads))
	}
	if t.seen == nil {
		t.seen = make(map[TillKey]uint64, len(heads))
	}
	var skipped []TillKey
	for i, h := range heads {
		if h.Store == "" {
			skipped = append(skipped, keys[i])
			continue
		}
		t.pre[h.TillKey] = h
		t.seen[h.TillKey] = max(h.Through, h.top)
	}
	return skipped, nil
}

// lockTills returns the heads lockFirst locked (locking those it did not, as lockFirst
// does, waiting); only for the tills with entries stored above the watermark beyond
// this batch's own (pending above a gap, or another consumer's) does a round trip read
// those.
func (t *pgTxn) lockTills(ctx context.Context, keys []TillKey, ours []span) ([]TillState, map[TillKey][]link, error) {
	var missing []TillKey
	for _, k := range keys {
		if _, ok := t.pre[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		if _, err := t.lockFirst(ctx, missing, false); err != nil {
			return nil, nil, err
		}
	}
	heads := make([]TillState, len(keys))
	for i, k := range keys {
		heads[i] = t.pre[k]
	}
	// The links above each watermark, up to its top and at most scanSpan, but for the
	// span of them this transaction inserted (the caller knows those): read in a
	// statement of their own, so a snapshot taken once the locks are held, which sees
	// what the consumers that held them before committed.
	var spans []span
	for i, h := range heads {
		if h.top <= h.Through {
			continue
		}
		from, to := h.Through+1, min(h.top, h.Through+scanSpan)
		s := ours[i]
		if s.from == 0 {
			spans = append(spans, span{key: h.TillKey, from: from, to: to})
			continue
		}
		if s.from > from {
			spans = append(spans, span{key: h.TillKey, from: from, to: min(to, s.from-1)})
		}
		if s.to < to {
			spans = append(spans, span{key: h.TillKey, from: max(from, s.to+1), to: to})
		}
	}
	if len(spans) == 0 {
		return heads, nil, nil
	}
	links, err := t.scanFrom(ctx, spans, true)
	if err != nil {
		return nil, nil, fmt.Errorf("lock tills: read links: %w", err)
	}
	return heads, links, nil
}

// errHeadMissing is lockHeads' report of a till it did not create and found no head of.
var errHeadMissing = errors.New("till head missing")

// lockHeads creates the heads of fresh (in key order) and locks and reads those of keys,
// in keys' order. With skip, a head another transaction holds is left out: its place is
// the zero TillState.
func (t *pgTxn) lockHeads(ctx context.Context, keys, fresh []TillKey, skip bool) ([]TillState, error) {
	b := &pgx.Batch{}
	if len(fresh) > 0 {
		fs, ft := tillColumns(fresh)
		b.Queue(`INSERT INTO hq_tills (store, till, through, through_hash)
SELECT s, t, 0, $3 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(s, t, ord) ORDER BY ord
ON CONFLICT DO NOTHING`, fs, ft, journal.GenesisPrev)
	}
	stores, tills := tillColumns(keys)
	lock := `FOR UPDATE OF h`
	if skip {
		lock += ` SKIP LOCKED`
	}
	b.Queue(`SELECT h.store, h.till, h.through, h.through_hash, h.last_doc, h.stored_top FROM hq_tills h
JOIN unnest($1::text[], $2::text[]) AS u(s, t) ON h.store = u.s AND h.till = u.t
ORDER BY h.store, h.till `+lock, stores, tills)
	br := t.tx.SendBatch(ctx, b)
	defer br.Close()
	if len(fresh) > 0 {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("lock tills: %w", err)
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("lock tills: %w", err)
	}
	defer rows.Close()
	idx := make(map[TillKey]int, len(keys))
	for i, k := range keys {
		idx[k] = i
	}
	out := make([]TillState, len(keys))
	got := 0
	for rows.Next() {
		var h TillState
		var through, top int64
		if err := rows.Scan(&h.Store, &h.Till, &through, &h.Hash, &h.lastDoc, &top); err != nil {
			return nil, fmt.Errorf("lock tills: %w", err)
		}
		h.Through, h.top = uint64(through), uint64(top)
		i, ok := idx[h.TillKey]
		if !ok {
			return nil, fmt.Errorf("lock tills: unexpected till %s", h.TillKey)
		}
		out[i] = h
		got++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock tills: %w", err)
	}
	if got != len(keys) && !skip {
		if len(fresh) < len(keys) {
			return nil, errHeadMissing
		}
		return nil, fmt.Errorf("lock tills: %d of %d tills found", got, len(keys))
	}
	return out, nil
}

func (t *pgTxn) scan(ctx context.Context, spans []span) (map[TillKey][]link, error) {
	return t.scanFrom(ctx, spans, false)
}

// scanFrom is scan; with reachable, a span whose first seq is not stored is not read:
// the chain cannot reach what lies above that gap, so its links would not be used (a
// till whose entries wait above a gap, the entry below it with another consumer, is
// otherwise read again by each batch that holds an entry of it).
func (t *pgTxn) scanFrom(ctx context.Context, spans []span, reachable bool) (map[TillKey][]link, error) {
	stores, tills, froms, tos := spanColumns(spans)
	gate := ``
	if reachable {
		gate = `
WHERE EXISTS (SELECT 1 FROM hq_entries g WHERE g.store = u.s AND g.till = u.t AND g.seq = u.lo)`
	}
	rows, err := t.tx.Query(ctx, `SELECT e.store, e.till, e.seq, e.prev, e.hash, coalesce(e.receipt, '')
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u(s, t, lo, hi)
JOIN hq_entries e ON e.store = u.s AND e.till = u.t AND e.seq >= u.lo AND e.seq <= u.hi`+gate, stores, tills, froms, tos)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	out, err := readLinks(rows)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return out, nil
}

// heldAbove reads, in one statement for every span, what is stored of its till from
// from to to (the primary key's range): how many, the lowest and highest, and the seqs up
// to wire.MaxHeldMap above the watermark, of which Held's map is made when the range lies
// within them. Only tills that resent entries above a gap come here: answers to probes.
func (t *pgTxn) heldAbove(ctx context.Context, spans []span) (map[TillKey]Held, error) {
	stores, tills, froms, tos := spanColumns(spans)
	rows, err := t.tx.Query(ctx, `SELECT u.s, u.t, count(*), min(e.seq), max(e.seq),
	coalesce(array_agg(e.seq) FILTER (WHERE e.seq < u.lo + $5), '{}')
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u(s, t, lo, hi)
JOIN hq_entries e ON e.store = u.s AND e.till = u.t AND e.seq >= u.lo AND e.seq <= u.hi
GROUP BY u.s, u.t`, stores, tills, froms, tos, int64(wire.MaxHeldMap))
	if err != nil {
		return nil, fmt.Errorf("held above: %w", err)
	}
	defer rows.Close()
	from := make(map[TillKey]uint64, len(spans))
	for _, s := range spans {
		from[s.key] = s.from
	}
	out := make(map[TillKey]Held, len(spans))
	for rows.Next() {
		var k TillKey
		var count, lo, hi int64
		var seqs []int64
		if err := rows.Scan(&k.Store, &k.Till, &count, &lo, &hi, &seqs); err != nil {
			return nil, fmt.Errorf("held above: %w", err)
		}
		h := Held{From: uint64(lo), To: uint64(hi), Count: uint64(count)}
		if h.To < from[k]+wire.MaxHeldMap {
			in := make([]uint64, len(seqs))
			for i, q := range seqs {
				in[i] = uint64(q)
			}
			h.Map = wire.HeldMapOf(h.From, h.To, in)
		}
		out[k] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("held above: %w", err)
	}
	return out, nil
}

// readLinks reads rows of (store, till, seq, prev, hash, receipt) by till, and closes them.
func readLinks(rows pgx.Rows) (map[TillKey][]link, error) {
	defer rows.Close()
	out := map[TillKey][]link{}
	for rows.Next() {
		var k TillKey
		var l link
		var seq int64
		if err := rows.Scan(&k.Store, &k.Till, &seq, &l.prev, &l.hash, &l.receipt); err != nil {
			return nil, err
		}
		l.seq = uint64(seq)
		out[k] = append(out[k], l)
	}
	return out, rows.Err()
}

func (t *pgTxn) evict(ctx context.Context, evs []eviction) error {
	n := len(evs)
	stores, tills, seqs, reasons := make([]string, n), make([]string, n), make([]int64, n), make([]string, n)
	keep := make([]bool, n)
	for i, ev := range evs {
		stores[i], tills[i], seqs[i], reasons[i], keep[i] = ev.key.Store, ev.key.Till, int64(ev.seq), ev.reason, !ev.drop
	}
	_, err := t.tx.Exec(ctx, `WITH d AS (
	DELETE FROM hq_entries e USING unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $6::bool[]) AS u(s, t, q, r, k)
	WHERE e.store = u.s AND e.till = u.t AND e.seq = u.q
	RETURNING e.store, e.till, e.seq, u.r, u.k, e.raw)
INSERT INTO hq_quarantine (at, source, store, till, seq, reason, payload)
SELECT now(), 'chain', store, till, seq, r, substring(raw from 1 for $5) FROM d WHERE k ORDER BY store, till, seq`,
		stores, tills, seqs, reasons, MaxQuarantinePayload, keep)
	if err != nil {
		return fmt.Errorf("evict: %w", err)
	}
	return nil
}

func (t *pgTxn) setThrough(ctx context.Context, heads []TillState) error {
	n := len(heads)
	stores, tills, throughs, hashes := make([]string, n), make([]string, n), make([]int64, n), make([]string, n)
	docs, tops := make([]string, n), make([]int64, n)
	for i, h := range heads {
		stores[i], tills[i], throughs[i], hashes[i], docs[i], tops[i] = h.Store, h.Till, int64(h.Through), h.Hash, h.lastDoc, int64(h.top)
		if h.top != noTop {
			t.seen[h.TillKey] = max(t.seen[h.TillKey], h.Through, h.top)
		}
	}
	t.queue(`UPDATE hq_tills h SET through = u.th, through_hash = u.hh, last_doc = u.ld, stored_top = greatest(h.stored_top, u.tp),
	updated_at = CASE WHEN u.th <> h.through THEN now() ELSE h.updated_at END
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[]) AS u(s, t, th, hh, ld, tp)
WHERE h.store = u.s AND h.till = u.t`, stores, tills, throughs, hashes, docs, tops)
	return nil
}

// assignCentral reserves every store's numbers and writes the runs in one round trip,
// with the watermarks queued before it: the stores' rows are created and locked in name
// order (after all till locks), and one statement adds each store's count and writes
// one run per store from the numbers it reserved.
func (t *pgTxn) assignCentral(ctx context.Context, stores []string, refs map[string][]centralRef) error {
	counts := make([]int64, len(stores))
	var rs, rt []string
	var rq []int64
	for i, st := range stores {
		counts[i] = int64(len(refs[st]))
		for _, r := range refs[st] {
			rs, rt, rq = append(rs, st), append(rt, r.till), append(rq, int64(r.seq))
			t.verified = append(t.verified, docKey{TillKey{st, r.till}, r.seq})
		}
	}
	t.queue(`INSERT INTO hq_stores (store) SELECT s FROM unnest($1::text[]) WITH ORDINALITY AS u(s, ord) ORDER BY ord
ON CONFLICT DO NOTHING`, stores)
	t.queue(`SELECT store FROM hq_stores WHERE store = ANY($1::text[]) ORDER BY store FOR UPDATE`, stores)
	// The last statement returns each store's base: its numbers of this batch are
	// base+1, base+2, ... in the order given.
	t.queue(`WITH c AS (
	UPDATE hq_stores h SET central_next = h.central_next + u.n FROM unnest($1::text[], $2::bigint[]) AS u(s, n)
	WHERE h.store = u.s RETURNING h.store, h.central_next - u.n AS base),
r AS (SELECT x.s, array_agg(x.t ORDER BY x.o) AS tills, array_agg(x.q ORDER BY x.o) AS seqs
	FROM unnest($3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS x(s, t, q, o) GROUP BY x.s),
w AS (INSERT INTO hq_central_runs (store, first, tills, seqs) SELECT r.s, c.base + 1, r.tills, r.seqs FROM r JOIN c ON c.store = r.s)
SELECT store, base FROM c`,
		stores, counts, rs, rt, rq)
	// The projection is written once the numbers are known, from the entries this
	// transaction inserted; those it did not (pending until this batch closed their gap)
	// are read back first.
	var missing []docKey
	if !t.unprojected {
		missing = t.unknownDocs(stores, refs)
	}
	bases, err := t.flushBases(ctx)
	if err != nil {
		return fmt.Errorf("central numbers: %w", err)
	}
	if t.unprojected {
		return nil
	}
	if len(missing) > 0 {
		if err := t.readStored(ctx, missing); err != nil {
			return fmt.Errorf("projection: %w", err)
		}
	}
	if err := t.project(ctx, stores, refs, bases); err != nil {
		return fmt.Errorf("projection: %w", err)
	}
	return nil
}

// flushBases flushes what is queued, the last statement being the central numbers',
// and returns the stores' bases it read.
func (t *pgTxn) flushBases(ctx context.Context) (map[string]int64, error) {
	b := t.pending
	t.pending = nil
	br := t.tx.SendBatch(ctx, b)
	defer br.Close()
	for range b.Len() - 1 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	bases := map[string]int64{}
	for rows.Next() {
		var st string
		var base int64
		if err := rows.Scan(&st, &base); err != nil {
			rows.Close()
			return nil, err
		}
		bases[st] = base
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return bases, br.Close()
}

func (s *pgStore) Tills(ctx context.Context) ([]TillState, error) {
	rows, err := s.pool.Query(ctx, `SELECT store, till, through, through_hash FROM hq_tills ORDER BY store, till`)
	if err != nil {
		return nil, fmt.Errorf("hq: tills: %w", err)
	}
	defer rows.Close()
	var out []TillState
	for rows.Next() {
		var ts TillState
		var th int64
		if err := rows.Scan(&ts.Store, &ts.Till, &th, &ts.Hash); err != nil {
			return nil, fmt.Errorf("hq: tills: %w", err)
		}
		ts.Through = uint64(th)
		out = append(out, ts)
	}
	return out, rows.Err()
}

func (s *pgStore) Through(ctx context.Context, k TillKey) (uint64, error) {
	var th int64
	err := s.pool.QueryRow(ctx, `SELECT through FROM hq_tills WHERE store = $1 AND till = $2`, k.Store, k.Till).Scan(&th)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("hq: through %s: %w", k, err)
	}
	return uint64(th), nil
}

const recordCols = `e.store, e.till, e.seq, e.hash, coalesce(e.receipt, ''), d.central, e.source, e.raw`

// recordFrom finds an entry's central number in its document's row (by its primary key).
// Every query over it selects with visible: only the verified prefix of a till's chain
// (seq <= its watermark) is ever read as stored.
const recordFrom = ` FROM hq_entries e JOIN hq_tills h ON h.store = e.store AND h.till = e.till
LEFT JOIN hq_documents d ON d.store = e.store AND d.till = e.till AND d.at = e.at AND d.seq = e.seq `

const visible = `e.seq <= h.through AND `

func scanRecord(row pgx.Row) (Record, error) {
	var r Record
	var seq int64
	var central *string
	err := row.Scan(&r.Store, &r.Till, &seq, &r.Hash, &r.Receipt, &central, &r.Source, &r.Raw)
	r.Seq = uint64(seq)
	if central != nil {
		r.Central = *central
	}
	return r, err
}

func (s *pgStore) Entries(ctx context.Context, k TillKey, after uint64, fn func(Record) error) error {
	for {
		rows, err := s.pool.Query(ctx, `SELECT `+recordCols+recordFrom+`WHERE `+visible+`e.store = $1 AND e.till = $2 AND e.seq > $3 ORDER BY e.seq LIMIT 5000`,
			k.Store, k.Till, int64(after))
		if err != nil {
			return fmt.Errorf("hq: entries %s: %w", k, err)
		}
		var recs []Record
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("hq: entries %s: %w", k, err)
			}
			recs = append(recs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("hq: entries %s: %w", k, err)
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
			after = r.Seq
		}
		if len(recs) < 5000 {
			return nil
		}
	}
}

func (s *pgStore) Lookup(ctx context.Context, number string) (Record, error) {
	err := pgx.ErrNoRows
	var r Record
	if store, n, ok := parseCentral(number); ok {
		var till *string
		var seq *int64
		err = s.pool.QueryRow(ctx, `SELECT tills[$2 - first + 1], seqs[$2 - first + 1] FROM hq_central_runs
WHERE store = $1 AND first <= $2 ORDER BY first DESC LIMIT 1`, store, int64(n)).Scan(&till, &seq)
		if err == nil && (seq == nil || till == nil) {
			err = pgx.ErrNoRows // beyond the run (not assigned yet), or retired
		}
		if err == nil {
			r, err = scanRecord(s.pool.QueryRow(ctx, `SELECT `+recordCols+recordFrom+`WHERE `+visible+`e.store = $1 AND e.till = $2 AND e.seq = $3`,
				store, *till, *seq))
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = scanRecord(s.pool.QueryRow(ctx, `SELECT `+recordCols+recordFrom+`WHERE `+visible+`e.receipt = $1 ORDER BY e.store, e.till LIMIT 1`, number))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, fmt.Errorf("hq: lookup %q: %w", number, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("hq: lookup %q: %w", number, err)
	}
	return r, nil
}

func (s *pgStore) Quarantined(ctx context.Context, fn func(Quarantine) error) error {
	rows, err := s.pool.Query(ctx, `SELECT id, at, source, coalesce(topic, ''), coalesce(store, ''), coalesce(till, ''), coalesce(seq, 0), reason, coalesce(payload, ''::bytea)
FROM hq_quarantine ORDER BY id`)
	if err != nil {
		return fmt.Errorf("hq: quarantine: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var q Quarantine
		var id, seq int64
		if err := rows.Scan(&id, &q.At, &q.Source, &q.Topic, &q.Store, &q.Till, &seq, &q.Reason, &q.Payload); err != nil {
			return fmt.Errorf("hq: quarantine: %w", err)
		}
		q.ID, q.Seq = uint64(id), uint64(seq)
		if err := fn(q); err != nil {
			return err
		}
	}
	return rows.Err()
}
