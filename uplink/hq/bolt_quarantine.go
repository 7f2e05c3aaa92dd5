package hq

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"tillbox/ledger/journal"

	bolt "go.etcd.io/bbolt"
)

func (t *boltTxn) quarantineItem(_ context.Context, id uint64) (Quarantine, bool, error) {
	v := t.tx.Bucket(bQuarantine).Get(u64b(id))
	if v == nil {
		return Quarantine{}, false, nil
	}
	var q storedQ
	if err := json.Unmarshal(v, &q); err != nil {
		return Quarantine{}, false, fmt.Errorf("quarantine %d does not decode: %w", id, err)
	}
	return Quarantine{ID: id, At: q.At, Source: q.Source, Topic: q.Topic, Store: q.Store, Till: q.Till, Seq: q.Seq,
		Reason: q.Reason, Payload: q.Payload}, true, nil
}

func (t *boltTxn) dropQuarantine(_ context.Context, id uint64) error {
	return t.tx.Bucket(bQuarantine).Delete(u64b(id))
}

func (t *boltTxn) heldAt(_ context.Context, k TillKey, seq uint64) ([]byte, uint64, error) {
	e, m, err := t.till(k, false)
	if err != nil || e == nil {
		return nil, 0, err
	}
	return bytes.Clone(e.Get(u64b(seq))), binary.BigEndian.Uint64(m.Get(kThrough)), nil
}

func (t *boltTxn) evictFrom(ctx context.Context, k TillKey, seq uint64, reason string) (int, error) {
	e, m, err := t.till(k, false)
	if err != nil || e == nil {
		return 0, err
	}
	through := binary.BigEndian.Uint64(m.Get(kThrough))
	hi := seq
	if seq <= through {
		hi = through
	}
	n := 0
	rb, cb, of := t.tx.Bucket(bReceipts), t.tx.Bucket(bCentral), t.tx.Bucket(bCentralOf)
	for s := seq; s <= hi && s >= seq; s++ {
		raw := bytes.Clone(e.Get(u64b(s)))
		if raw == nil {
			continue
		}
		var r struct {
			Receipt string `json:"receipt"`
		}
		_ = json.Unmarshal(raw, &r)
		rv := ref(k, s)
		if r.Receipt != "" && bytes.Equal(rb.Get([]byte(r.Receipt)), rv) {
			if err := rb.Delete([]byte(r.Receipt)); err != nil {
				return n, err
			}
		}
		// The central number is retired: never given again.
		if num := of.Get(rv); num != nil {
			if err := cb.Delete(bytes.Clone(num)); err != nil {
				return n, err
			}
			if err := of.Delete(rv); err != nil {
				return n, err
			}
		}
		if err := e.Delete(u64b(s)); err != nil {
			return n, err
		}
		if err := t.quarantineOne(Quarantine{At: time.Now().UTC(), Source: "operator", Store: k.Store, Till: k.Till, Seq: s,
			Reason: reason, Payload: clipPayload(raw)}); err != nil {
			return n, err
		}
		n++
	}
	if seq > through {
		return n, nil
	}
	hash := journal.GenesisPrev
	if seq > 1 {
		var h struct {
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(e.Get(u64b(seq-1)), &h); err != nil {
			return n, fmt.Errorf("evict %s: seq %d does not decode: %w", k, seq-1, err)
		}
		hash = h.Hash
	}
	return n, t.setThrough(ctx, []TillState{{TillKey: k, Through: seq - 1, Hash: hash}})
}

// bQuarantineBounds holds the quarantine's bound: "store/till" 0x00 kind -> boundState
// (JSON).
var bQuarantineBounds = []byte("quarantine-bounds")

func boundName(k boundKey) []byte { return append(append(tillName(k.TillKey), 0), k.kind...) }

// bounds reads the states; bbolt's one writer at a time is the lock.
func (t *boltTxn) bounds(_ context.Context, keys []boundKey) (map[boundKey]boundState, error) {
	b, err := t.tx.CreateBucketIfNotExists(bQuarantineBounds)
	if err != nil {
		return nil, err
	}
	out := make(map[boundKey]boundState, len(keys))
	for _, k := range keys {
		var s boundState
		if v := b.Get(boundName(k)); v != nil {
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("%s %s does not decode: %w", k.TillKey, k.kind, err)
			}
		}
		out[k] = s
	}
	return out, nil
}

func (t *boltTxn) setBounds(_ context.Context, states map[boundKey]boundState) error {
	b, err := t.tx.CreateBucketIfNotExists(bQuarantineBounds)
	if err != nil {
		return err
	}
	for k, s := range states {
		v, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if err := b.Put(boundName(k), v); err != nil {
			return err
		}
	}
	return nil
}

func (s *boltStore) quarantineBounds(_ context.Context) ([]QuarantineBound, error) {
	var out []QuarantineBound
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bQuarantineBounds)
		if b == nil {
			return nil
		}
		return b.ForEach(func(name, v []byte) error {
			i := bytes.IndexByte(name, 0)
			j := bytes.IndexByte(name, '/')
			if i < 0 || j < 0 || j > i {
				return fmt.Errorf("bound %q: not store/till and kind", name)
			}
			var st boundState
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("bound %q does not decode: %w", name, err)
			}
			k := boundKey{TillKey{string(name[:j]), string(name[j+1 : i])}, string(name[i+1:])}
			out = append(out, st.public(k))
			return nil
		})
	})
	return out, err
}
