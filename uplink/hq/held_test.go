package hq_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
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

// TestIngestHeldWide: a held range is mapped while its top lies within wire.MaxHeldMap of
// the watermark; above that HQ counts it without saying which entries it holds, and the
// till sends the range again whole.
func TestIngestHeldWide(t *testing.T) {
	pg := rig.StartPostgres(t)
	ctx := context.Background()
	if err := hq.Migrate(ctx, pg.URL); err != nil {
		t.Fatal(err)
	}
	st, err := hq.Open(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, txs := tillEntries(t, "t01", 3)
	k := hq.TillKey{Store: txs[0].Entry.Store, Till: txs[0].Entry.Till}
	top := atSeq(t, txs[2], 1+wire.MaxHeldMap) // the watermark will be 1
	if _, err := hq.Ingest(ctx, st, batchOf(txs[0], txs[2], top)); err != nil {
		t.Fatal(err)
	}
	res, err := hq.Ingest(ctx, st, batchOf(top))
	if err != nil {
		t.Fatal(err)
	}
	wantHeld(t, res.Held[k], 1, 3, top.Entry.Seq, 3, top.Entry.Seq)
	if res.Held[k].Map == nil {
		t.Fatalf("held %d-%d above 1 without a map", 3, top.Entry.Seq)
	}
	res, err = hq.Ingest(ctx, st, batchOf(txs[2], atSeq(t, txs[2], 2+wire.MaxHeldMap)))
	if err != nil {
		t.Fatal(err)
	}
	h := res.Held[k]
	if h.Through != 1 || h.From != 3 || h.To != uint64(wire.MaxHeldMap+2) || h.Count != 3 || h.Map != nil {
		t.Fatalf("held %+v, want through 1, 3-%d, 3 of them, no map", h, wire.MaxHeldMap+2)
	}
	a, err := wire.DecodeAckMessage(wire.HeldPayload(nil, "", "", h.Holding()))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := a.Holding()
	if lacks, said := w.Lacks(4); said || lacks {
		t.Fatalf("a range counted incomplete without a map says seq 4 lacking %v (said %v)", lacks, said)
	}
	if lacks, said := w.Lacks(2); !said || !lacks {
		t.Fatalf("seq 2 below the range: lacking %v (said %v)", lacks, said)
	}
}

// atSeq is tx moved to seq, hashed again: an entry above a gap that the chain never reaches
// (HQ holds it pending, as it came).
func atSeq(t *testing.T, tx wire.Tx, seq uint64) wire.Tx {
	t.Helper()
	e := tx.Entry
	e.Seq, e.Hash, e.Sig = seq, "", ""
	h, err := e.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = h
	raw, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	out, err := wire.DecodeTx(wire.Topic{Store: e.Store, Till: e.Till, Kind: wire.KindTx}, raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
