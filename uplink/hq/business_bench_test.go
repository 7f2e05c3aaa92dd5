package hq_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"tillbox/uplink/hq"
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
// baseline for PostgreSQL, and the bbolt store's DayTakings, the three in turn within
// each op. It reports each one's wall and CPU time (this process's and the PostgreSQL
// server's) per refresh and prints the ratio to the baseline. With -v it prints
// PostgreSQL's plan of the statement.
func BenchmarkDayTakings(b *testing.B) {
	const stores, tillsPer, perTill = 10, 10, 500
	end := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	day := hq.DayOf(end.Add(-time.Hour), time.UTC)
	pg, pst, conn := migratedPostgres(b)
	ctx := context.Background()
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
	// The three are run in turn within each op, so that the machine's load falls on each
	// alike; CPU is this process's and the PostgreSQL server's backends'.
	postmaster := pg.Postmaster(b)
	sides := []struct {
		name      string
		f         func() error
		wall, cpu time.Duration
	}{
		{name: "baseline", f: func() error {
			rows, err := conn.Query(ctx, `SELECT store, currency, receipts, gross FROM hq_takings_daily WHERE day = $1::date`, day.Date)
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		}},
		{name: "postgres", f: func() error { _, err := hq.DayTakings(ctx, pst, day); return err }},
		{name: "bolt", f: func() error { _, err := hq.DayTakings(ctx, bst, day); return err }},
	}
	n := 0
	for b.Loop() {
		for i := range sides {
			s := &sides[i]
			server0, self0, wall0 := serverCPU(postmaster), selfCPU(), time.Now()
			if err := s.f(); err != nil {
				b.Fatal(err)
			}
			s.wall += time.Since(wall0)
			s.cpu += selfCPU() - self0 + serverCPU(postmaster) - server0
		}
		n++
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	for _, s := range sides {
		b.ReportMetric(us(s.wall), s.name+"-µs/op")
		b.ReportMetric(us(s.cpu), s.name+"-cpu-µs/op")
	}
	b.ReportMetric(float64(receipts), "receipts/day")
	base, pgs, bolt := sides[0], sides[1], sides[2]
	fmt.Printf("BenchmarkDayTakings: %d receipts on %s of %d, %d rounds: DayTakings postgres %.0f µs wall %.0f µs CPU, bolt %.0f µs wall %.0f µs CPU; "+
		"baseline hq_takings_daily for the day %.0f µs wall %.0f µs CPU; postgres/baseline wall %.2f CPU %.2f\n",
		receipts, day.Date, stores*tillsPer*perTill, n, us(pgs.wall), us(pgs.cpu), us(bolt.wall), us(bolt.cpu),
		us(base.wall), us(base.cpu), float64(pgs.wall)/float64(base.wall), float64(pgs.cpu)/float64(base.cpu))
}
