package hq

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// pgDocs keeps documents in the table hq_docs, which it creates when missing (outside the
// numbered migrations: nothing else refers to it).
type pgDocs struct{ s *pgStore }

const pgDocsTable = `CREATE TABLE IF NOT EXISTS hq_docs (
	kind text NOT NULL,
	key  text NOT NULL,
	doc  jsonb NOT NULL,
	updated timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (kind, key)
)`

func openPgDocs(ctx context.Context, s *pgStore) (Docs, error) {
	// Two tillhq starting at once would race in CREATE TABLE IF NOT EXISTS (PostgreSQL
	// does not make it atomic): one at a time, under the migrations' lock.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7411042)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, pgDocsTable)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("hq: documents: %w", err)
	}
	return &pgDocs{s: s}, nil
}

func (d *pgDocs) Get(ctx context.Context, kind, key string) ([]byte, error) {
	var b []byte
	err := d.s.pool.QueryRow(ctx, `SELECT doc::text FROM hq_docs WHERE kind = $1 AND key = $2`, kind, key).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("hq: %s %s: %w", kind, key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("hq: %s %s: %w", kind, key, err)
	}
	return b, nil
}

func (d *pgDocs) Put(ctx context.Context, kind, key string, doc []byte) error {
	_, err := d.s.pool.Exec(ctx, `INSERT INTO hq_docs (kind, key, doc) VALUES ($1, $2, $3::text::jsonb)
		ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc, updated = now()`, kind, key, string(doc))
	if err != nil {
		return fmt.Errorf("hq: put %s %s: %w", kind, key, err)
	}
	return nil
}

func (d *pgDocs) Update(ctx context.Context, kind, key string, fn func([]byte) ([]byte, error)) error {
	err := pgx.BeginFunc(ctx, d.s.pool, func(tx pgx.Tx) error {
		// A missing row cannot be locked: an advisory lock on the key serialises its creation.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, kind+"/"+key); err != nil {
			return err
		}
		var old []byte
		err := tx.QueryRow(ctx, `SELECT doc::text FROM hq_docs WHERE kind = $1 AND key = $2 FOR UPDATE`, kind, key).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		doc, err := fn(old)
		if err != nil || doc == nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO hq_docs (kind, key, doc) VALUES ($1, $2, $3::text::jsonb)
			ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc, updated = now()`, kind, key, string(doc))
		return err
	})
	if err != nil {
		return fmt.Errorf("hq: update %s %s: %w", kind, key, err)
	}
	return nil
}

func (d *pgDocs) List(ctx context.Context, kind string, fn func(string, []byte) error) error {
	rows, err := d.s.pool.Query(ctx, `SELECT key, doc::text FROM hq_docs WHERE kind = $1 ORDER BY key`, kind)
	if err != nil {
		return fmt.Errorf("hq: list %s: %w", kind, err)
	}
	type kv struct {
		k string
		v []byte
	}
	var all []kv
	for rows.Next() {
		var e kv
		if err := rows.Scan(&e.k, &e.v); err != nil {
			rows.Close()
			return fmt.Errorf("hq: list %s: %w", kind, err)
		}
		all = append(all, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("hq: list %s: %w", kind, err)
	}
	for _, e := range all {
		if err := fn(e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}

func (d *pgDocs) Delete(ctx context.Context, kind, key string) error {
	if _, err := d.s.pool.Exec(ctx, `DELETE FROM hq_docs WHERE kind = $1 AND key = $2`, kind, key); err != nil {
		return fmt.Errorf("hq: delete %s %s: %w", kind, key, err)
	}
	return nil
}
