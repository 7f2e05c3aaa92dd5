package hq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// chainedSales makes n sales of store/till chained from seq 1, as a ledger would write
// them, without a ledger's fsync per entry.
func chainedSales(b testing.TB, store, till string, n int) []wire.Tx {
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
// check, watermark, central numbers, relational projection, commit), from one till, or
// spread over 1000 tills of 100 stores (a reconnect storm's batch). The two figures should
// be close: the store's round trips are per batch, not per till.
//
// The baseline is the same store leaving the projection unwritten, in a second database
// of the same server, fed the same batches: each batch goes to both, one after the other,
// so that what else runs on the machine weighs on both alike. It prints µs/entry with
// the projection, base-µs/entry without it, and their ratio.
func BenchmarkIngestPostgres(b *testing.B) {
	for _, tills := range []int{1, 1000} {
		b.Run(fmt.Sprintf("tills=%d", tills), func(b *testing.B) { benchIngest(b, tills) })
	}
}

// benchStores migrates two databases of pg and opens the store on each: one projecting,
// one not.
func benchStores(b *testing.B, pg *rig.Postgres) (projected, unprojected hq.Store) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE unprojected`); err != nil {
		b.Fatal(err)
	}
	var out [2]hq.Store
	for i, url := range []string{pg.URL, strings.Replace(pg.URL, "/postgres?", "/unprojected?", 1)} {
		if err := hq.Migrate(ctx, url); err != nil {
			b.Fatal(err)
		}
		st, err := hq.OpenPostgres(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		out[i] = st
	}
	return out[0], hq.Unprojected(out[1])
}

func benchIngest(b *testing.B, tills int) {
	pg := rig.StartPostgres(b)
	ctx := context.Background()
	projected, unprojected := benchStores(b, pg)
	const batch = 1000
	per := b.N * batch / tills // each till's entries, all batches together
	chains := make([][]wire.Tx, tills)
	for i := range chains {
		chains[i] = chainedSales(b, fmt.Sprintf("s%03d", i%100), fmt.Sprintf("t%04d", i), per)
	}
	var spent [2]time.Duration // projected, unprojected
	b.ResetTimer()
	for i := range b.N {
		var in hq.Batch
		// Entry g of the run is entry g/tills of till g%tills: every batch spans
		// min(tills, batch) tills, each continuing its chain.
		for g := i * batch; g < (i+1)*batch; g++ {
			in.Entries = append(in.Entries, hq.Incoming{Tx: chains[g%tills][g/tills], Source: "mqtt"})
		}
		// Alternate which store goes first, so neither always finds the other's work
		// still being written out.
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, which := range order {
			st := []hq.Store{projected, unprojected}[which]
			start := time.Now()
			res, err := hq.Ingest(ctx, st, in)
			spent[which] += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if res.Stored != len(in.Entries) || len(res.Moved) != min(tills, batch) {
				b.Fatalf("batch %d: stored %d of %d, %d tills moved", i, res.Stored, len(in.Entries), len(res.Moved))
			}
		}
	}
	b.StopTimer()
	per1 := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N*batch) }
	b.ReportMetric(per1(spent[0]), "µs/entry")
	b.ReportMetric(per1(spent[1]), "base-µs/entry")
	b.ReportMetric(per1(spent[0])/per1(spent[1]), "ratio")
}
