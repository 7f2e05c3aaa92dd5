package hq

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"tillbox/ledger/journal"
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
