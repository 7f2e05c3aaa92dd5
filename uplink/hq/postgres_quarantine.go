package hq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tillbox/ledger/journal"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func (t *pgTxn) quarantineItem(ctx context.Context, id uint64) (Quarantine, bool, error) {
	var q Quarantine
	var qid, seq int64
	err := t.tx.QueryRow(ctx, `SELECT id, at, source, coalesce(topic, ''), coalesce(store, ''), coalesce(till, ''), coalesce(seq, 0), reason, coalesce(payload, ''::bytea)
FROM hq_quarantine WHERE id = $1`, int64(id)).Scan(&qid, &q.At, &q.Source, &q.Topic, &q.Store, &q.Till, &seq, &q.Reason, &q.Payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return Quarantine{}, false, nil
	}
	if err != nil {
		return Quarantine{}, false, fmt.Errorf("quarantine %d: %w", id, err)
	}
	q.ID, q.Seq = uint64(qid), uint64(seq)
	return q, true, nil
}

func (t *pgTxn) dropQuarantine(ctx context.Context, id uint64) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM hq_quarantine WHERE id = $1`, int64(id)); err != nil {
		return fmt.Errorf("quarantine %d: drop: %w", id, err)
	}
	return nil
}

func (t *pgTxn) heldAt(ctx context.Context, k TillKey, seq uint64) ([]byte, uint64, error) {
	if err := t.flush(ctx); err != nil {
		return nil, 0, err
	}
	var through int64
	err := t.tx.QueryRow(ctx, `SELECT through FROM hq_tills WHERE store = $1 AND till = $2 FOR UPDATE`, k.Store, k.Till).Scan(&through)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("held %s: %w", k, err)
	}
	var raw []byte
	err = t.tx.QueryRow(ctx, `SELECT raw FROM hq_entries WHERE store = $1 AND till = $2 AND seq = $3`, k.Store, k.Till, int64(seq)).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, uint64(through), nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("held %s seq %d: %w", k, seq, err)
	}
	return raw, uint64(through), nil
}

func (t *pgTxn) evictFrom(ctx context.Context, k TillKey, seq uint64, reason string) (int, error) {
	_, through, err := t.heldAt(ctx, k, seq)
	if err != nil {
		return 0, err
	}
	hi := seq
	if seq <= through {
		hi = through
	}
	tag, err := t.tx.Exec(ctx, `WITH d AS (
	DELETE FROM hq_entries WHERE store = $1 AND till = $2 AND seq >= $3 AND seq <= $4 RETURNING seq, raw)
INSERT INTO hq_quarantine (at, source, store, till, seq, reason, payload)
SELECT now(), 'operator', $1, $2, seq, $5, substring(raw from 1 for $6) FROM d ORDER BY seq`,
		k.Store, k.Till, int64(seq), int64(hi), reason, MaxQuarantinePayload)
	if err != nil {
		return 0, fmt.Errorf("evict %s from %d: %w", k, seq, err)
	}
	if seq > through {
		return int(tag.RowsAffected()), nil
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE hq_tills SET through = $3 - 1, updated_at = now(), through_hash = coalesce(
	(SELECT hash FROM hq_entries WHERE store = $1 AND till = $2 AND seq = $3 - 1), $4),
	last_doc = coalesce((SELECT receipt FROM hq_entries WHERE store = $1 AND till = $2 AND seq < $3 AND receipt IS NOT NULL
		ORDER BY seq DESC LIMIT 1), '')
WHERE store = $1 AND till = $2`, k.Store, k.Till, int64(seq), journal.GenesisPrev)
	// The central numbers of the evicted entries are retired: the store's runs lose the
	// till's seqs from seq on (their places, and so the other numbers, stay).
	b.Queue(`UPDATE hq_central_runs r SET seqs = ARRAY(SELECT CASE WHEN x.t = $2 AND x.q >= $3 THEN NULL ELSE x.q END
	FROM unnest(r.tills, r.seqs) WITH ORDINALITY AS x(t, q, o) ORDER BY x.o)
WHERE r.store = $1 AND EXISTS (SELECT 1 FROM unnest(r.tills, r.seqs) AS x(t, q) WHERE x.t = $2 AND x.q >= $3)`, k.Store, k.Till, int64(seq))
	for _, q := range projectionEvict {
		b.Queue(q, k.Store, k.Till, int64(seq))
	}
	br := t.tx.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return 0, fmt.Errorf("evict %s from %d: %w", k, seq, err)
		}
	}
	if err := br.Close(); err != nil {
		return 0, fmt.Errorf("evict %s from %d: %w", k, seq, err)
	}
	return int(tag.RowsAffected()), nil
}

// quarantineBoundsTable is the quarantine's bound, one row per till and kind. It is
// created when missing (outside the numbered migrations: nothing else refers to it).
const quarantineBoundsTable = `CREATE TABLE IF NOT EXISTS hq_quarantine_bounds (
	store          text COLLATE "C" NOT NULL,
	till           text COLLATE "C" NOT NULL,
	kind           text COLLATE "C" NOT NULL,
	window_start   timestamptz,
	records        integer NOT NULL DEFAULT 0, -- kept in the present window
	bytes          bigint NOT NULL DEFAULT 0,  -- kept in the present window
	dropped        bigint NOT NULL DEFAULT 0,  -- over the bound, ever
	window_dropped bigint NOT NULL DEFAULT 0,
	last_dropped   timestamptz,
	PRIMARY KEY (store, till, kind))`

func createQuarantineBounds(ctx context.Context, pool *pgxpool.Pool) error {
	// Two tillhq starting at once would race in CREATE TABLE IF NOT EXISTS: one at a
	// time, under the migrations' lock.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('hq_quarantine_bounds') IS NOT NULL`).Scan(&exists); err != nil || exists {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7411042)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, quarantineBoundsTable)
		return err
	})
	if err != nil {
		return fmt.Errorf("quarantine bound: %w", err)
	}
	return nil
}

func boundColumns(keys []boundKey) (stores, tills, kinds []string) {
	n := len(keys)
	stores, tills, kinds = make([]string, n), make([]string, n), make([]string, n)
	for i, k := range keys {
		stores[i], tills[i], kinds[i] = k.Store, k.Till, k.kind
	}
	return stores, tills, kinds
}

// bounds creates the missing rows and locks them all, in key order.
func (t *pgTxn) bounds(ctx context.Context, keys []boundKey) (map[boundKey]boundState, error) {
	stores, tills, kinds := boundColumns(keys)
	if _, err := t.tx.Exec(ctx, `INSERT INTO hq_quarantine_bounds (store, till, kind)
SELECT s, t, k FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(s, t, k, o) ORDER BY o
ON CONFLICT DO NOTHING`, stores, tills, kinds); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(ctx, `SELECT b.store, b.till, b.kind, b.window_start, b.records, b.bytes, b.dropped, b.window_dropped, b.last_dropped
FROM hq_quarantine_bounds b JOIN unnest($1::text[], $2::text[], $3::text[]) AS u(s, t, k) ON b.store = u.s AND b.till = u.t AND b.kind = u.k
ORDER BY b.store, b.till, b.kind FOR UPDATE OF b`, stores, tills, kinds)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[boundKey]boundState, len(keys))
	for rows.Next() {
		var k boundKey
		var s boundState
		var start, last *time.Time
		var dropped, wdropped int64
		if err := rows.Scan(&k.Store, &k.Till, &k.kind, &start, &s.Records, &s.Bytes, &dropped, &wdropped, &last); err != nil {
			return nil, err
		}
		if start != nil {
			s.WindowStart = *start
		}
		if last != nil {
			s.LastDropped = *last
		}
		s.Dropped, s.WindowDropped = uint64(dropped), uint64(wdropped)
		out[k] = s
	}
	return out, rows.Err()
}

func (t *pgTxn) setBounds(ctx context.Context, states map[boundKey]boundState) error {
	keys := make([]boundKey, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	stores, tills, kinds := boundColumns(keys)
	n := len(keys)
	starts, lasts := make([]*time.Time, n), make([]*time.Time, n)
	records, bytes, dropped, wdropped := make([]int32, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, k := range keys {
		s := states[k]
		if !s.WindowStart.IsZero() {
			starts[i] = &s.WindowStart
		}
		if !s.LastDropped.IsZero() {
			lasts[i] = &s.LastDropped
		}
		records[i], bytes[i], dropped[i], wdropped[i] = int32(s.Records), s.Bytes, int64(s.Dropped), int64(s.WindowDropped)
	}
	_, err := t.tx.Exec(ctx, `UPDATE hq_quarantine_bounds b SET window_start = u.ws, records = u.r, bytes = u.by, dropped = u.d,
	window_dropped = u.wd, last_dropped = u.ld
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[], $9::timestamptz[])
	AS u(s, t, k, ws, r, by, d, wd, ld)
WHERE b.store = u.s AND b.till = u.t AND b.kind = u.k`, stores, tills, kinds, starts, records, bytes, dropped, wdropped, lasts)
	return err
}

func (s *pgStore) quarantineBounds(ctx context.Context) ([]QuarantineBound, error) {
	rows, err := s.pool.Query(ctx, `SELECT store, till, kind, window_start, records, bytes, dropped, window_dropped, last_dropped
FROM hq_quarantine_bounds ORDER BY store, till, kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []QuarantineBound
	for rows.Next() {
		var k boundKey
		var st boundState
		var start, last *time.Time
		var dropped, wdropped int64
		if err := rows.Scan(&k.Store, &k.Till, &k.kind, &start, &st.Records, &st.Bytes, &dropped, &wdropped, &last); err != nil {
			return nil, err
		}
		if start != nil {
			st.WindowStart = *start
		}
		if last != nil {
			st.LastDropped = *last
		}
		st.Dropped, st.WindowDropped = uint64(dropped), uint64(wdropped)
		out = append(out, st.public(k))
	}
	return out, rows.Err()
}
