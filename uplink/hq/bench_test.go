package hq_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// chainedSales makes n sales of store/till chained from seq 1, as a ledger would write
// them, without a ledger's fsync per entry.
func chainedSales(b *testing.B, store, till string, n int) []wire.Tx {
	b.Helper()
	prev, at := journal.GenesisPrev, time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	out := make([]wire.Tx, 0, n)
	for i := range n {
		e := rig.Sale(i)
		e.V, e.Store, e.Till, e.Seq, e.Prev = journal.FormatVersion, store, till, uint64(i+1), prev
		e.Receipt = journal.ReceiptNumber(journal.DefaultPrefix(store, till), e.Seq)
		e.At = at.Add(time.Duration(i) * time.Second)
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
		out = append(out, tx)
		prev = h
	}
	return out
}

// BenchmarkIngestPostgres is what HQ's PostgreSQL store pays per entry during a drain:
// one op is one batch of 1000 new, chained sales of one till stored in one transaction
// (insert, chain check, watermark, central numbers, commit).
func BenchmarkIngestPostgres(b *testing.B) {
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
	const batch = 1000
	txs := chainedSales(b, "s042", "t01", b.N*batch)
	b.ResetTimer()
	for i := range b.N {
		var in hq.Batch
		for _, tx := range txs[i*batch : (i+1)*batch] {
			in.Entries = append(in.Entries, hq.Incoming{Tx: tx, Source: "mqtt"})
		}
		res, err := hq.Ingest(ctx, st, in)
		if err != nil {
			b.Fatal(err)
		}
		if res.Stored != batch || res.Through[hq.TillKey{Store: "s042", Till: "t01"}] != uint64((i+1)*batch) {
			b.Fatalf("batch %d: %+v", i, res)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/entry")
}
