package hq_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// monthOfSales makes n sales of store/till chained from seq 1, spread evenly over the 30
// days before end.
func monthOfSales(b *testing.B, store, till string, n int, end time.Time) []wire.Tx {
	b.Helper()
	return chainedSalesAt(b, store, till, n, end.Add(-30*24*time.Hour), 30*24*time.Hour/time.Duration(n))
}

// BenchmarkDayTakings is what one refresh of the business view costs its store: one op
// is DayTakings for the last of 30 days of sales (100 tills in 10 stores, 500 sales each:
// 50,000 receipts, 1,600 on the day). Beside it, measured in the same run on the same
// data: the projection's own view for the same day (hq_takings_daily, by UTC day) as the
// baseline for PostgreSQL, and the bbolt store's DayTakings. With -v it prints
// PostgreSQL's plan of the statement.
func BenchmarkDayTakings(b *testing.B) {
	const stores, tillsPer, perTill = 10, 10, 500
	end := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	day := hq.DayOf(end.Add(-time.Hour), time.UTC)
	pg := rig.StartPostgres(b)
	ctx := context.Background()
	if err := hq.Migrate(ctx, pg.URL); err != nil {
		b.Fatal(err)
	}
	pst, err := hq.Open(ctx, pg.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer pst.Close()
	bst, err := hq.OpenBolt(filepath.Join(b.TempDir(), "hq.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer bst.Close()
	for s := range stores {
		for tl := range tillsPer {
			txs := monthOfSales(b, fmt.Sprintf("s%03d", s), fmt.Sprintf("t%02d", tl), perTill, end)
			for i := 0; i < len(txs); i += 1000 {
				for _, st := range []hq.Store{pst, bst} {
					if _, err := hq.Ingest(ctx, st, batchOf(txs[i:min(i+1000, len(txs))]...)); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	var receipts int64
	for _, st := range []hq.Store{pst, bst} {
		ts, err := hq.DayTakings(ctx, st, day)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, t := range ts {
			n += t.Receipts()
		}
		if receipts != 0 && n != receipts || n == 0 {
			b.Fatalf("the stores disagree: %d and %d receipts on %s", receipts, n, day.Date)
		}
		receipts = n
	}
	if testing.Verbose() {
		for _, q := range []string{hq.PgTakings} {
			rows, err := conn.Query(ctx, "EXPLAIN ANALYZE "+q, day.From, day.To)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var l string
				rows.Scan(&l)
				b.Log(l)
			}
			rows.Close()
		}
	}
	per := map[string]float64{}
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
			per[name] = float64(b.Elapsed().Microseconds()) / float64(b.N)
			b.ReportMetric(float64(receipts), "receipts/day")
		})
	}
	run("postgres-view-baseline", func() error {
		rows, err := conn.Query(ctx, `SELECT store, currency, receipts, gross FROM hq_takings_daily WHERE day = $1::date`, day.Date)
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	})
	run("postgres", func() error { _, err := hq.DayTakings(ctx, pst, day); return err })
	run("bolt", func() error { _, err := hq.DayTakings(ctx, bst, day); return err })
	if base := per["postgres-view-baseline"]; base > 0 && per["postgres"] > 0 {
		fmt.Printf("BenchmarkDayTakings: %d receipts on %s of %d: DayTakings postgres %.0f µs, bolt %.0f µs; hq_takings_daily for the day %.0f µs (baseline); postgres/baseline %.2f\n",
			receipts, day.Date, stores*tillsPer*perTill, per["postgres"], per["bolt"], base, per["postgres"]/base)
	}
}
