package hq_test

import (
	"context"
	"encoding/json"
	"fmt"
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
// one op is one batch of 1000 new, chained sales stored in one transaction (insert, chain
// check, watermark, central numbers, commit), from one till, or spread over 1000 tills of
// 100 stores (a reconnect storm's batch). The two figures should be close: the store's
// round trips are per batch, not per till.
func BenchmarkIngestPostgres(b *testing.B) {
	for _, tills := range []int{1, 1000} {
		b.Run(fmt.Sprintf("tills=%d", tills), func(b *testing.B) { benchIngest(b, tills) })
	}
}

func benchIngest(b *testing.B, tills int) {
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
	per := b.N * batch / tills // each till's entries, all batches together
	chains := make([][]wire.Tx, tills)
	for i := range chains {
		chains[i] = chainedSales(b, fmt.Sprintf("s%03d", i%100), fmt.Sprintf("t%04d", i), per)
	}
	b.ResetTimer()
	for i := range b.N {
		var in hq.Batch
		// Entry g of the run is entry g/tills of till g%tills: every batch spans
		// min(tills, batch) tills, each continuing its chain.
		for g := i * batch; g < (i+1)*batch; g++ {
			in.Entries = append(in.Entries, hq.Incoming{Tx: chains[g%tills][g/tills], Source: "mqtt"})
		}
		res, err := hq.Ingest(ctx, st, in)
		if err != nil {
			b.Fatal(err)
		}
		if res.Stored != len(in.Entries) || len(res.Moved) != min(tills, batch) {
			b.Fatalf("batch %d: stored %d of %d, %d tills moved", i, res.Stored, len(in.Entries), len(res.Moved))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/entry")
}
