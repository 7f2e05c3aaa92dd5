package hq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// chainedSales makes n sales of store/till chained from seq 1, a second apart, as a
// ledger would write them, without a ledger's fsync per entry.
func chainedSales(b testing.TB, store, till string, n int) []wire.Tx {
	b.Helper()
	return chainedSalesAt(b, store, till, n, time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), time.Second)
}

// chainedSalesAt is chainedSales with the first sale at first and each next one step later.
func chainedSalesAt(b testing.TB, store, till string, n int, first time.Time, step time.Duration) []wire.Tx {
	b.Helper()
	prev := journal.GenesisPrev
	out := make([]wire.Tx, 0, n)
	for i := range n {
		e := rig.Sale(i)
		e.V, e.Store, e.Till, e.Seq, e.Prev = journal.FormatVersion, store, till, uint64(i+1), prev
		e.Receipt = journal.ReceiptNumber(journal.DefaultPrefix(store, till), e.Seq)
		e.At = first.Add(time.Duration(i) * step)
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
// The baseline is the same store leaving the projection unwritten, on a second server,
// fed the same batches: each batch goes to both, one after the other, so that what else
// runs on the machine weighs on both alike. It prints, with the projection and without
// it (base-) and their ratio: the wall time per entry, and the CPU time per entry that
// PostgreSQL's backends and this process spent (cpu-), which other work on the machine
// disturbs far less; and of the CPU with the projection, PostgreSQL's (pg-cpu-) and this
// process's (go-cpu-: the ingest's client side, what tillhq spends in it).
func BenchmarkIngestPostgres(b *testing.B) {
	for _, tills := range []int{1, 1000} {
		b.Run(fmt.Sprintf("tills=%d", tills), func(b *testing.B) { benchIngest(b, tills) })
	}
}

// benchStore is one side of the comparison: a store on its own server.
type benchStore struct {
	st         hq.Store
	postmaster int
	wall, cpu  time.Duration
	server     time.Duration // of cpu, PostgreSQL's share
}

func openBenchStore(b *testing.B) *benchStore {
	pg := rig.StartPostgres(b)
	ctx := context.Background()
	if err := hq.Migrate(ctx, pg.URL); err != nil {
		b.Fatal(err)
	}
	st, err := hq.OpenPostgres(ctx, pg.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var data string
	if err := conn.QueryRow(ctx, `SHOW data_directory`).Scan(&data); err != nil {
		b.Fatal(err)
	}
	pid, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		b.Fatal(err)
	}
	s := &benchStore{st: st}
	s.postmaster, _ = strconv.Atoi(strings.SplitN(string(pid), "\n", 2)[0])
	return s
}

// ingest ingests in and adds the wall and CPU time it took.
func (s *benchStore) ingest(b *testing.B, in hq.Batch) hq.Result {
	server0 := serverCPU(s.postmaster)
	self0, wall0 := selfCPU(), time.Now()
	res, err := hq.Ingest(context.Background(), s.st, in)
	s.wall += time.Since(wall0)
	self := selfCPU() - self0
	server := serverCPU(s.postmaster) - server0
	s.cpu += self + server
	s.server += server
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// selfCPU is the user and system time this process has spent.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the user and system time spent by the children of the process postmaster
// (a PostgreSQL server's backends and workers), or 0 where /proc does not say.
func serverCPU(postmaster int) time.Duration {
	var total time.Duration
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime: fields 4, 14 and 15; comm may hold spaces.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != postmaster {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * time.Second / clockTicks
	}
	return total
}

// clockTicks is the unit of /proc's process times (USER_HZ, 100 on Linux).
const clockTicks = 100

func benchIngest(b *testing.B, tills int) {
	projected, unprojected := openBenchStore(b), openBenchStore(b)
	hq.Unprojected(unprojected.st)
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
		// Alternate which store goes first, so neither always finds the other's work
		// still being written out.
		order := []*benchStore{projected, unprojected}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, s := range order {
			if res := s.ingest(b, in); res.Stored != len(in.Entries) || len(res.Moved) != min(tills, batch) {
				b.Fatalf("batch %d: stored %d of %d, %d tills moved", i, res.Stored, len(in.Entries), len(res.Moved))
			}
		}
	}
	b.StopTimer()
	per1 := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(b.N*batch) }
	b.ReportMetric(per1(projected.wall), "µs/entry")
	b.ReportMetric(per1(unprojected.wall), "base-µs/entry")
	b.ReportMetric(per1(projected.wall)/per1(unprojected.wall), "ratio")
	if unprojected.cpu > 0 {
		b.ReportMetric(per1(projected.cpu), "cpu-µs/entry")
		b.ReportMetric(per1(unprojected.cpu), "base-cpu-µs/entry")
		b.ReportMetric(per1(projected.cpu)/per1(unprojected.cpu), "cpu-ratio")
		b.ReportMetric(per1(projected.server), "pg-cpu-µs/entry")
		b.ReportMetric(per1(projected.cpu-projected.server), "go-cpu-µs/entry")
	}
}
