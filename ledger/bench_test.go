package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkAppendVsBareBolt measures, in one run, Append (entry, receipt index, chain link,
// meta; and a realistic sale with a stock delta and a print job) against a baseline of bare
// fsync'd bbolt Updates that put the same bytes under sequential keys. The three are
// interleaved in small blocks so that the disk's mood affects them alike. It prints p50,
// p99 and throughput of each and the ratios (target: Append within 1.3x of the baseline).
//
//	make bench   (go test -run '^$' -bench AppendVsBareBolt -benchtime 2000x ./ledger/)
func BenchmarkAppendVsBareBolt(b *testing.B) {
	dir := b.TempDir()
	l, err := Open(filepath.Join(dir, "till.ledger"), testOpts())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	db, err := bolt.Open(filepath.Join(dir, "bare.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bucket := []byte("entries")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		b.Fatal(err)
	}
	e := sale(testClock(), 1299)
	payload := mustAppend(b, l, e).Raw // the bytes Append stores for this sale
	doc := []byte(`{"lines":[{"text":"Chleb żytni","right":"10,49"},{"text":"Woda 0,5l","right":"2,50"}],"cut":"partial"}`)

	const block = 25
	var plain, withSides, bare []time.Duration
	var seq uint64
	b.ResetTimer()
	for i := 0; i < b.N; i += block {
		n := min(block, b.N-i)
		for j := 0; j < n; j++ {
			t0 := time.Now()
			if _, err := l.Append(e); err != nil {
				b.Fatal(err)
			}
			plain = append(plain, time.Since(t0))
		}
		for j := 0; j < n; j++ {
			t0 := time.Now()
			if _, err := l.Append(e, StockDelta("1001", -1000), StockDelta("2002", -1000), PrintJob(doc)); err != nil {
				b.Fatal(err)
			}
			withSides = append(withSides, time.Since(t0))
		}
		for j := 0; j < n; j++ {
			seq++
			t0 := time.Now()
			err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(u64(seq), payload) })
			if err != nil {
				b.Fatal(err)
			}
			bare = append(bare, time.Since(t0))
		}
	}
	b.StopTimer()
	if b.N < 100 {
		return // the calibration runs; figures are printed for the measured one
	}
	p, s, r := summarize(plain), summarize(withSides), summarize(bare)
	b.ReportMetric(p.p50.Seconds()*1e6, "append-p50-µs")
	b.ReportMetric(p.p99.Seconds()*1e6, "append-p99-µs")
	b.ReportMetric(r.p50.Seconds()*1e6, "bare-p50-µs")
	b.ReportMetric(p.mean.Seconds()/r.mean.Seconds(), "append/bare")
	fmt.Fprintf(os.Stdout, "\nledger Append vs bare fsync'd bbolt Update, %d each, %d-byte entry\n", b.N, len(payload))
	fmt.Fprintf(os.Stdout, "%-28s %10s %10s %12s %12s\n", "", "p50", "p99", "commits/s", "vs bare")
	for _, row := range []struct {
		name string
		s    stats
	}{{"bare bbolt Update (baseline)", r}, {"Append", p}, {"Append + stock + print job", s}} {
		fmt.Fprintf(os.Stdout, "%-28s %10s %10s %12.0f %11.2fx\n", row.name, row.s.p50.Round(time.Microsecond),
			row.s.p99.Round(time.Microsecond), row.s.rate, row.s.mean.Seconds()/r.mean.Seconds())
	}
	fmt.Fprintf(os.Stdout, "target: Append within 1.30x of the baseline's mean latency\n")
}

type stats struct {
	p50, p99, mean time.Duration
	rate           float64 // commits per second, one writer
}

func summarize(d []time.Duration) stats {
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	mean := sum / time.Duration(len(s))
	return stats{p50: s[len(s)/2], p99: s[len(s)*99/100], mean: mean, rate: float64(len(s)) / sum.Seconds()}
}
