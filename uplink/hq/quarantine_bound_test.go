package hq_test

import (
	"bytes"
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

// heldByKind counts the quarantine of k by kind.
func heldByKind(t *testing.T, st hq.Store, k hq.TillKey) map[string]int {
	t.Helper()
	got := map[string]int{}
	err := st.Quarantined(context.Background(), func(q hq.Quarantine) error {
		if q.Store == k.Store && q.Till == k.Till {
			got[hq.QuarantineKind(q)]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// droppedOf is what the store counted as dropped of k and kind.
func droppedOf(t *testing.T, st hq.Store, k hq.TillKey, kind string) uint64 {
	t.Helper()
	bounds, err := hq.QuarantineBounds(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bounds {
		if b.Store == k.Store && b.Till == k.Till && b.Kind == kind {
			return b.Dropped
		}
	}
	return 0
}

// TestQuarantineBoundedPerTillAndKind: a till flooding conflicting entries and malformed
// messages has at most the bound of each kind kept; every message over it is counted,
// the first batch over it says so (once per window), conflicts over the bound raise no
// alert each, and other tills and other kinds of the same till keep their own bound.
// Throughout, the till's real entries are stored, and so is a real entry whose forged
// rivals were dropped at the chain check.
func TestQuarantineBoundedPerTillAndKind(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		k1, k2 := hq.TillKey{Store: "s042", Till: "t01"}, hq.TillKey{Store: "s042", Till: "t02"}
		lim := &hq.QuarantineLimits{Window: time.Hour, Records: 5}
		_, real1 := tillEntries(t, "t01", 5)
		_, real2 := tillEntries(t, "t02", 3)
		b := batchOf(real1[:3]...)
		b.Limits = lim
		if res, err := hq.Ingest(ctx, st, b); err != nil || res.Through[k1] != 3 {
			t.Fatalf("real entries: %+v, %v", res, err)
		}
		// The flood: 4 batches of 6 forgeries of seqs 1-3 (each its own content: a conflict)
		// and 3 messages that did not decode.
		const batches, forgeries, junk = 4, 6, 3
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		firsts, alerts, quarantined := 0, 0, 0
		for i := range batches {
			var fb hq.Batch
			for j := range forgeries {
				seq, prev := uint64(j%3+1), strings.Repeat("ab", 32)
				if seq == 1 {
					prev = journal.GenesisPrev
				}
				at = at.Add(time.Second)
				fb.Entries = append(fb.Entries, hq.Incoming{Source: "mqtt",
					Tx: entryTx(t, "t01", seq, journal.ReceiptNumber("S042-T01", seq), prev, at)})
			}
			for range junk {
				fb.Quarantine = append(fb.Quarantine, hq.Quarantine{Source: "mqtt", Topic: wire.Topics{}.Tx("s042", "t01"),
					Store: "s042", Till: "t01", Reason: "wire: decode tx: " + wire.ErrNotJSON.Error(), Payload: []byte("{not json")})
			}
			if i == batches-1 { // the other till, in the same batch, is bounded apart
				fb.Entries = append(fb.Entries, hq.Incoming{Source: "mqtt", Tx: real2[0]},
					hq.Incoming{Source: "mqtt", Tx: entryTx(t, "t02", 1, journal.ReceiptNumber("S042-T02", 1), journal.GenesisPrev, at)})
			}
			fb.Limits = lim
			res, err := hq.Ingest(ctx, st, fb)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range res.Dropped {
				if d.TillKey != k1 {
					t.Fatalf("batch %d dropped of %s: %+v", i, d.TillKey, d)
				}
				if d.First {
					firsts++
				}
			}
			alerts += len(res.Alerts)
			quarantined += res.Quarantined
		}
		held := heldByKind(t, st, k1)
		if held[hq.QuarantineConflict] != 5 || held[hq.QuarantineMalformed] != 5 || len(held) != 2 {
			t.Fatalf("held of t01: %v, want 5 of each kind", held)
		}
		if got := droppedOf(t, st, k1, hq.QuarantineConflict); got != batches*forgeries-5 {
			t.Fatalf("conflicts dropped %d, want %d", got, batches*forgeries-5)
		}
		if got := droppedOf(t, st, k1, hq.QuarantineMalformed); got != batches*junk-5 {
			t.Fatalf("malformed dropped %d, want %d", got, batches*junk-5)
		}
		if firsts != 2 || alerts != 5+1 || quarantined != 5+5+1 {
			t.Fatalf("reported: %d bounds passed (want 2), %d alerts (want 6), %d quarantined (want 11)", firsts, alerts, quarantined)
		}
		if held := heldByKind(t, st, k2); held[hq.QuarantineConflict] != 1 || droppedOf(t, st, k2, hq.QuarantineConflict) != 0 {
			t.Fatalf("t02: held %v, dropped %d", held, droppedOf(t, st, k2, hq.QuarantineConflict))
		}
		// The till's own entries are stored while its bound is full, and what HQ holds is
		// its own.
		b = batchOf(real1[3:]...)
		b.Limits = lim
		if res, err := hq.Ingest(ctx, st, b); err != nil || res.Through[k1] != 5 {
			t.Fatalf("real entries after the flood: %+v, %v", res, err)
		}
		if n, err := hq.Check(ctx, st, k1); err != nil || n != 5 {
			t.Fatalf("check t01: %d, %v", n, err)
		}
		r, err := st.Lookup(ctx, real1[1].Entry.Receipt)
		if err != nil || r.Hash != real1[1].Entry.Hash {
			t.Fatalf("receipt 2 reads %+v, %v", r, err)
		}

		// Broken chains over the bound: each forgery at through+1 is removed from what is
		// held, and recorded only while the bound allows; the real entry is then stored.
		k3 := hq.TillKey{Store: "s042", Till: "t03"}
		_, real3 := tillEntries(t, "t03", 3)
		one := &hq.QuarantineLimits{Window: time.Hour, Records: 1}
		b = batchOf(real3[:2]...)
		b.Limits = one
		if _, err := hq.Ingest(ctx, st, b); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			b = batchOf(entryTx(t, "t03", 3, journal.ReceiptNumber("S042-T03", 3), strings.Repeat("cd", 32), at.Add(time.Duration(i)*time.Minute)))
			b.Limits = one
			res, err := hq.Ingest(ctx, st, b)
			if err != nil || res.Through[k3] != 2 {
				t.Fatalf("forgery %d at through+1: %+v, %v", i, res, err)
			}
		}
		if held := heldByKind(t, st, k3); held[hq.QuarantineBrokenChain] != 1 || droppedOf(t, st, k3, hq.QuarantineBrokenChain) != 2 {
			t.Fatalf("t03: held %v, dropped %d", held, droppedOf(t, st, k3, hq.QuarantineBrokenChain))
		}
		b = batchOf(real3[2])
		b.Limits = one
		if res, err := hq.Ingest(ctx, st, b); err != nil || res.Through[k3] != 3 || len(res.Dropped) != 0 {
			t.Fatalf("t03's own seq 3: %+v, %v", res, err)
		}

		// The bytes of a window: 1 kB payloads under a 4 kB bound keep three.
		k4 := hq.TillKey{Store: "s042", Till: "t04"}
		var bb hq.Batch
		for range 6 {
			bb.Quarantine = append(bb.Quarantine, hq.Quarantine{Source: "mqtt", Store: "s042", Till: "t04",
				Reason: "wire: decode tx: " + wire.ErrTooLarge.Error(), Payload: bytes.Repeat([]byte("x"), 1000)})
		}
		bb.Limits = &hq.QuarantineLimits{Bytes: 4000}
		res, err := hq.Ingest(ctx, st, bb)
		if err != nil || res.Quarantined != 3 || len(res.Dropped) != 1 || res.Dropped[0].Dropped != 3 || len(res.Refused) != 3 {
			t.Fatalf("bytes bound: %+v, %v", res, err)
		}
		if held := heldByKind(t, st, k4); held[hq.QuarantineTooLarge] != 3 {
			t.Fatalf("t04 held %v", held)
		}
	})
}

// floodOf is n entries of store/till at seqs 1 to 3, each with its own content: against a
// till HQ holds those seqs of, every one is a conflict.
func floodOf(b *testing.B, store, till string, n, round int) hq.Batch {
	b.Helper()
	var in hq.Batch
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(round*n) * time.Second)
	for i := range n {
		e := rig.Sale(i)
		e.V, e.Store, e.Till, e.Seq = journal.FormatVersion, store, till, uint64(i%3+1)
		e.Receipt, e.At, e.Prev = journal.ReceiptNumber(journal.DefaultPrefix(store, till), e.Seq), at.Add(time.Duration(i)*time.Second), strings.Repeat("ab", 32)
		if e.Seq == 1 {
			e.Prev = journal.GenesisPrev
		}
		h, err := e.ComputeHash()
		if err != nil {
			b.Fatal(err)
		}
		e.Hash = h
		raw, err := json.Marshal(&e)
		if err != nil {
			b.Fatal(err)
		}
		tx, err := wire.DecodeEntry(raw)
		if err != nil {
			b.Fatal(err)
		}
		in.Entries = append(in.Entries, hq.Incoming{Tx: tx, Source: "mqtt"})
	}
	return in
}

// BenchmarkQuarantineFlood is what one hostile till's flood costs HQ's PostgreSQL store:
// one op is one batch of 1000 entries conflicting with what HQ holds of the till, in one
// transaction, once with no bound (every one quarantined: the baseline, as before the
// bound) and once under the default bound (its first 500 kept, the rest counted), in the
// same run, alternating. It reports both times per batch and their ratio.
func BenchmarkQuarantineFlood(b *testing.B) {
	pg := rig.StartPostgres(b)
	ctx := context.Background()
	if err := hq.Migrate(ctx, pg.URL); err != nil {
		b.Fatal(err)
	}
	st, err := hq.OpenPostgres(ctx, pg.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cases := []struct {
		till string
		lim  *hq.QuarantineLimits
	}{{"t01", &hq.QuarantineLimits{}}, {"t02", nil}}
	for _, c := range cases {
		if _, err := hq.Ingest(ctx, st, hq.Batch{Entries: func() (in []hq.Incoming) {
			for _, tx := range chainedSales(b, "s042", c.till, 3) {
				in = append(in, hq.Incoming{Tx: tx, Source: "mqtt"})
			}
			return in
		}()}); err != nil {
			b.Fatal(err)
		}
	}
	const batch = 1000
	floods := make([][]hq.Batch, len(cases))
	for i, c := range cases {
		for r := range b.N {
			f := floodOf(b, "s042", c.till, batch, r)
			f.Limits = c.lim
			floods[i] = append(floods[i], f)
		}
	}
	b.ResetTimer()
	spent := make([]time.Duration, len(cases))
	for r := range b.N {
		for i := range cases {
			start := time.Now()
			if _, err := hq.Ingest(ctx, st, floods[i][r]); err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(start)
		}
	}
	b.StopTimer()
	unbounded, bounded := spent[0]/time.Duration(b.N), spent[1]/time.Duration(b.N)
	b.ReportMetric(float64(unbounded.Microseconds())/1000, "ms/batch-unbounded")
	b.ReportMetric(float64(bounded.Microseconds())/1000, "ms/batch-bounded")
	b.ReportMetric(float64(bounded)/float64(unbounded), "bounded/unbounded")
}
