package hq_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// forgeTx is a well-formed entry of s042/till at seq that links to nothing the till wrote,
// with the receipt number given.
func forgeTx(t *testing.T, till string, seq uint64, receipt string) wire.Tx {
	t.Helper()
	e := rig.Sale(int(seq % 1000))
	e.V, e.Store, e.Till, e.Seq, e.Receipt = 1, "s042", till, seq, receipt
	e.At = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Prev = strings.Repeat("ab", 32)
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

// TestOnlyTheVerifiedPrefixIsShown: an entry far above the watermark, and the entries
// above a gap, are held but never read as stored, by seq, by receipt or by central number;
// once the gap closes they are promoted and read like the others.
func TestOnlyTheVerifiedPrefixIsShown(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		k := hq.TillKey{Store: "s042", Till: "t01"}
		_, txs := tillEntries(t, "t01", 5)
		// A hostile entry far above the watermark that repeats the number of receipt 1, and
		// one with a number no verified receipt has.
		far := forgeTx(t, "t01", 1_000_000, txs[0].Entry.Receipt)
		farOwn := forgeTx(t, "t01", 2_000_000, journal.ReceiptNumber("S042-T01", 777777))
		res, err := hq.Ingest(ctx, st, batchOf(txs[0], txs[1], txs[3], far, farOwn))
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != 5 || res.Through[k] != 2 {
			t.Fatalf("ingest: %+v", res)
		}
		seen := func() []uint64 {
			var got []uint64
			if err := st.Entries(ctx, k, 0, func(r hq.Record) error { got = append(got, r.Seq); return nil }); err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := seen(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
			t.Fatalf("entries shown above the watermark: %v", got)
		}
		r, err := st.Lookup(ctx, txs[0].Entry.Receipt)
		if err != nil || r.Seq != 1 || r.Hash != txs[0].Entry.Hash {
			t.Fatalf("receipt 1 reads %+v, %v: want the till's seq 1", r, err)
		}
		for _, n := range []string{farOwn.Entry.Receipt, txs[3].Entry.Receipt} {
			if r, err := st.Lookup(ctx, n); !errors.Is(err, hq.ErrNotFound) {
				t.Fatalf("lookup %q above the watermark: %+v, %v; want ErrNotFound", n, r, err)
			}
		}
		// The gap closes: seq 4 is promoted with a central number, the forgeries stay out.
		res, err = hq.Ingest(ctx, st, batchOf(txs[2]))
		if err != nil || res.Through[k] != 4 {
			t.Fatalf("gap closed: %+v, %v", res, err)
		}
		r, err = st.Lookup(ctx, txs[3].Entry.Receipt)
		if err != nil || r.Seq != 4 || r.Central != hq.CentralNumber("s042", 4) {
			t.Fatalf("promoted receipt 4 reads %+v, %v", r, err)
		}
		if got, err := st.Lookup(ctx, r.Central); err != nil || got.Seq != 4 {
			t.Fatalf("central %s reads %+v, %v", r.Central, got, err)
		}
		if got := seen(); len(got) != 4 || got[3] != 4 {
			t.Fatalf("entries after the gap closed: %v", got)
		}
		if r, err := st.Lookup(ctx, farOwn.Entry.Receipt); !errors.Is(err, hq.ErrNotFound) {
			t.Fatalf("forgery at seq 2000000 reads %+v, %v", r, err)
		}
		if n, err := hq.Check(ctx, st, k); err != nil || n != 4 {
			t.Fatalf("check: %d, %v", n, err)
		}
	})
}
