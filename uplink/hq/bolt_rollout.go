package hq

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// boltDocs keeps documents in one bucket per kind, "doc-KIND", in the store's file.
type boltDocs struct{ s *boltStore }

func openBoltDocs(s *boltStore) (Docs, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, k := range []string{DocRelease, DocRollout, DocGroup} {
			if _, err := tx.CreateBucketIfNotExists(docBucket(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hq: documents: %w", err)
	}
	return &boltDocs{s: s}, nil
}

func docBucket(kind string) []byte { return []byte("doc-" + kind) }

func (d *boltDocs) bucket(tx *bolt.Tx, kind string) (*bolt.Bucket, error) {
	b := tx.Bucket(docBucket(kind))
	if b == nil {
		return nil, fmt.Errorf("hq: documents: unknown kind %q", kind)
	}
	return b, nil
}

func (d *boltDocs) Get(_ context.Context, kind, key string) ([]byte, error) {
	var out []byte
	err := d.s.db.View(func(tx *bolt.Tx) error {
		b, err := d.bucket(tx, kind)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	if err == nil && out == nil {
		err = fmt.Errorf("hq: %s %s: %w", kind, key, ErrNotFound)
	}
	return out, err
}

func (d *boltDocs) Put(ctx context.Context, kind, key string, doc []byte) error {
	return d.Update(ctx, kind, key, func([]byte) ([]byte, error) { return doc, nil })
}

func (d *boltDocs) Update(_ context.Context, kind, key string, fn func([]byte) ([]byte, error)) error {
	err := d.s.db.Update(func(tx *bolt.Tx) error {
		b, err := d.bucket(tx, kind)
		if err != nil {
			return err
		}
		var old []byte
		if v := b.Get([]byte(key)); v != nil {
			old = append([]byte(nil), v...)
		}
		doc, err := fn(old)
		if err != nil || doc == nil {
			return err
		}
		return b.Put([]byte(key), doc)
	})
	if err != nil {
		return fmt.Errorf("hq: update %s %s: %w", kind, key, err)
	}
	return nil
}

func (d *boltDocs) List(_ context.Context, kind string, fn func(string, []byte) error) error {
	var keys []string
	var docs [][]byte
	err := d.s.db.View(func(tx *bolt.Tx) error {
		b, err := d.bucket(tx, kind)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			keys, docs = append(keys, string(k)), append(docs, append([]byte(nil), v...))
			return nil
		})
	})
	if err != nil {
		return err
	}
	// fn runs outside the read transaction, so it may update the store.
	for i, k := range keys {
		if err := fn(k, docs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (d *boltDocs) Delete(_ context.Context, kind, key string) error {
	return d.s.db.Update(func(tx *bolt.Tx) error {
		b, err := d.bucket(tx, kind)
		if err != nil {
			return err
		}
		return b.Delete([]byte(key))
	})
}
