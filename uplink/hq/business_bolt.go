package hq

import (
	"context"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// dayTakings reads each till's verified prefix backwards from its watermark and stops at
// the first entry from before the day: a till journals its entries in time order (its
// ledger refuses one dated before the last), so a day costs the entries since its start,
// not the whole history.
func (s *boltStore) dayTakings(ctx context.Context, day TradingDay) ([]Takings, error) {
	by := map[takingsKey]*Takings{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bTills).ForEach(func(name, v []byte) error {
			if v != nil {
				return nil
			}
			k, ok := parseTillName(string(name))
			if !ok {
				return nil
			}
			b := tx.Bucket(bTills).Bucket(name)
			through := binary.BigEndian.Uint64(b.Bucket(bMeta).Get(kThrough))
			if through == 0 {
				return nil
			}
			c := b.Bucket(bEntries).Cursor()
			key, raw := c.Seek(u64b(through))
			if key == nil || binary.BigEndian.Uint64(key) > through {
				key, raw = c.Prev()
			}
			for ; key != nil; key, raw = c.Prev() {
				if err := ctx.Err(); err != nil {
					return err
				}
				before, err := countTakings(by, k, raw, day)
				if err != nil {
					return err
				}
				if before {
					break
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]Takings, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	return out, nil
}

func parseTillName(name string) (TillKey, bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			return TillKey{name[:i], name[i+1:]}, i > 0 && i < len(name)-1
		}
	}
	return TillKey{}, false
}
