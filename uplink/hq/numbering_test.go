package hq_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// linkedEntry is a well-formed entry of s042/till at seq linked to prev: a sale with the
// receipt given, or a power-up when receipt is empty.
func linkedEntry(t *testing.T, till string, seq uint64, receipt, prev string) wire.Tx {
	t.Helper()
	return entryTx(t, till, seq, receipt, prev, time.Date(2026, 3, 2, 10, 0, int(seq), 0, time.UTC))
}

// entryTx is the entry of s042/till at seq, linked to prev and dated at, as HQ decodes it
// from the wire: a sale with the receipt given, or a power-up when receipt is empty.
func entryTx(t *testing.T, till string, seq uint64, receipt, prev string, at time.Time) wire.Tx {
	t.Helper()
	e := rig.Sale(int(seq % 1000))
	if receipt == "" {
		e = journal.Entry{Kind: journal.KindPowerUp}
	}
	e.V, e.Store, e.Till, e.Seq, e.Receipt, e.Prev, e.At = 1, "s042", till, seq, receipt, prev, at
	h, err := e.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = h
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := wire.DecodeTx(wire.Topic{Store: "s042", Till: till, Kind: wire.KindTx}, b)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestReceiptNumbering: a document whose receipt number repeats the previous document's
// of its till, or goes back below it, is not verified even though its chain links: it goes
// to the quarantine with an alert, the watermark stays before it, and the till's real entry
// is stored when it comes. A step of more than one is taken: a ledger from before the
// document counter numbered its documents by seq.
func TestReceiptNumbering(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		k := hq.TillKey{Store: "s042", Till: "t01"}
		_, txs := tillEntries(t, "t01", 3)
		if res, err := hq.Ingest(ctx, st, batchOf(txs...)); err != nil || res.Through[k] != 3 {
			t.Fatalf("ingest: %+v, %v", res, err)
		}
		refused := func(what string, tx wire.Tx, through uint64) {
			t.Helper()
			res, err := hq.Ingest(ctx, st, batchOf(tx))
			if err != nil {
				t.Fatal(err)
			}
			if res.Through[k] != through || res.Quarantined != 1 || len(res.Alerts) != 1 || !strings.Contains(res.Alerts[0], "receipt numbering") {
				t.Fatalf("%s: %+v", what, res)
			}
			// A repeat's number is a held document's: only that one may answer to it.
			if r, err := st.Lookup(ctx, tx.Entry.Receipt); err == nil && r.Seq == tx.Entry.Seq {
				t.Fatalf("%s: the refused document is shown: %+v", what, r)
			}
			if q := quarantinedAt(t, st, k, tx.Entry.Seq); len(q) == 0 {
				t.Fatalf("%s: nothing quarantined at seq %d", what, tx.Entry.Seq)
			}
		}
		refused("repeat", linkedEntry(t, "t01", 4, "S042-T01-000003", txs[2].Entry.Hash), 3)

		// A technical entry, then a document that goes back to number 2.
		up := linkedEntry(t, "t01", 4, "", txs[2].Entry.Hash)
		if res, err := hq.Ingest(ctx, st, batchOf(up)); err != nil || res.Through[k] != 4 {
			t.Fatalf("power-up: %+v, %v", res, err)
		}
		refused("step back", linkedEntry(t, "t01", 5, "S042-T01-000002", up.Entry.Hash), 4)

		// The till's own next document follows number 3.
		next := linkedEntry(t, "t01", 5, "S042-T01-000004", up.Entry.Hash)
		if res, err := hq.Ingest(ctx, st, batchOf(next)); err != nil || res.Through[k] != 5 || res.Quarantined != 0 {
			t.Fatalf("the real document: %+v, %v", res, err)
		}
		if r, err := st.Lookup(ctx, "S042-T01-000004"); err != nil || r.Seq != 5 {
			t.Fatalf("lookup: %+v, %v", r, err)
		}
		// Numbered by seq, as an older ledger did: 4 is followed by 6 (seq 6).
		old := linkedEntry(t, "t01", 6, "S042-T01-000006", next.Entry.Hash)
		if res, err := hq.Ingest(ctx, st, batchOf(old)); err != nil || res.Through[k] != 6 || res.Quarantined != 0 {
			t.Fatalf("a document numbered by seq: %+v, %v", res, err)
		}
	})
}
