package hq_test

import (
	"context"
	"strings"
	"testing"

	"tillbox/uplink/hq"
)

// TestIngestHeld: a batch that brings a till an entry HQ already has reports, for a store
// that keeps tops, what is held above the watermark: from the lowest entry it can vouch
// for above the gap to the highest (the till's held message).
func TestIngestHeld(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		_, txs := tillEntries(t, "t01", 9)
		k := hq.TillKey{Store: txs[0].Entry.Store, Till: txs[0].Entry.Till}
		// 1-2 and 5, 7-8 held; 3-4 and 6 missing.
		if _, err := hq.Ingest(ctx, st, batchOf(txs[0], txs[1], txs[4], txs[6], txs[7])); err != nil {
			t.Fatal(err)
		}
		res, err := hq.Ingest(ctx, st, batchOf(txs[7]))
		if err != nil {
			t.Fatal(err)
		}
		h, ok := res.Held[k]
		if bolt := strings.Contains(t.Name(), "bolt"); bolt {
			if ok {
				t.Fatalf("bbolt keeps no tops, but held %+v", h)
			}
			return
		}
		// PostgreSQL reads no links above the gap at 3: it names the batch's copy, and the
		// till sends 3-7 again (5 and 7 are copies, 3, 4 and 6 fill the gaps).
		if !ok || h != (hq.Held{Through: 2, From: 8, To: 8}) {
			t.Fatalf("held %+v (%v), want through 2, 8-8", h, ok)
		}
		// A batch without a copy reports nothing.
		res, err = hq.Ingest(ctx, st, batchOf(txs[2]))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := res.Held[k]; ok || res.Through[k] != 3 {
			t.Fatalf("held %+v through %d after a new entry", res.Held, res.Through[k])
		}
		// The copy of one at the watermark: what is above it.
		res, err = hq.Ingest(ctx, st, batchOf(txs[2], txs[3]))
		if err != nil {
			t.Fatal(err)
		}
		if h := res.Held[k]; h != (hq.Held{Through: 5, From: 7, To: 8}) {
			t.Fatalf("held %+v, want through 5, 7-8", h)
		}
		res, err = hq.Ingest(ctx, st, batchOf(txs[5], txs[8], txs[8]))
		if err != nil {
			t.Fatal(err)
		}
		if h := res.Held[k]; h != (hq.Held{Through: 9}) {
			t.Fatalf("held %+v, want through 9 and nothing above", h)
		}
	})
}
