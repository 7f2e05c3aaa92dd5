package hq_test

import (
	"context"
	"strings"
	"testing"

	"tillbox/uplink/hq"
	"tillbox/uplink/wire"
)

// TestIngestHeld: a batch that brings a till an entry HQ already has reports, for a store
// that keeps tops, what is held above the watermark: from the lowest entry stored above
// the gap to the highest, how many of them are stored and which (the till's held
// message, from which the till learns every entry HQ lacks).
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
		// 5 to 8, of which 6 is missing: the till sends 3, 4 and 6 again, and no copy.
		if !ok {
			t.Fatalf("no held range for a copy")
		}
		wantHeld(t, h, 2, 5, 8, 5, 7, 8)
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
		wantHeld(t, res.Held[k], 5, 7, 8, 7, 8)
		res, err = hq.Ingest(ctx, st, batchOf(txs[5], txs[8], txs[8]))
		if err != nil {
			t.Fatal(err)
		}
		wantHeld(t, res.Held[k], 9, 0, 0)
	})
}

// wantHeld fails unless h is through, from-to and holds exactly seqs of that range, as a
// till reads it from its held message.
func wantHeld(t *testing.T, h hq.Held, through, from, to uint64, seqs ...uint64) {
	t.Helper()
	if h.Through != through || h.From != from || h.To != to || h.Count != uint64(len(seqs)) {
		t.Fatalf("held %+v, want through %d, %d-%d holding %v", h, through, from, to, seqs)
	}
	a, err := wire.DecodeAckMessage(wire.HeldPayload(nil, "", "", h.Holding()))
	if err != nil {
		t.Fatalf("held %+v: %v", h, err)
	}
	w, _ := a.Holding()
	holds := map[uint64]bool{}
	for _, s := range seqs {
		holds[s] = true
	}
	for seq := through + 1; seq <= to+1; seq++ {
		if lacks, said := w.Lacks(seq); !said || lacks == holds[seq] {
			t.Errorf("held %+v: seq %d lacking %v (said %v), want %v", h, seq, lacks, said, !holds[seq])
		}
	}
}
