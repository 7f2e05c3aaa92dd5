package hq

import (
	"context"
	"errors"
	"fmt"

	"tillbox/ledger/journal"

	"github.com/jackc/pgx/v5"
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
	(SELECT hash FROM hq_entries WHERE store = $1 AND till = $2 AND seq = $3 - 1), $4)
WHERE store = $1 AND till = $2`, k.Store, k.Till, int64(seq), journal.GenesisPrev)
	// The central numbers of the evicted entries are retired: runs lose their seqs from
	// seq on, and a run left empty goes.
	b.Queue(`UPDATE hq_central_runs r SET seqs = ARRAY(SELECT s FROM unnest(r.seqs) WITH ORDINALITY AS u(s, o) WHERE s < $3 ORDER BY o)
WHERE r.store = $1 AND r.till = $2 AND $3 <= ANY(r.seqs)`, k.Store, k.Till, int64(seq))
	b.Queue(`DELETE FROM hq_central_runs WHERE store = $1 AND till = $2 AND cardinality(seqs) = 0`, k.Store, k.Till)
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
