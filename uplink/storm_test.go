package uplink_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5"

	"tillbox/ledger"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
)

// storm is one reconnect storm: tills, each with a backlog of entries in its own ledger,
// all started at the same instant against a fresh Mosquitto and consumers tillhq serve
// processes (on a shared subscription when more than one) over a fresh PostgreSQL
// database.
type storm struct {
	tills, entries, consumers int
	broker                    []string                      // Mosquitto's limits
	options                   func(string) *uplink.Options  // a till's options for the broker URL
	templates                 string                        // the ledgers with their backlogs, built once
	pg                        *rig.Postgres
	bin                       string // tillhq
	run                       int    // numbers the database
}

// stormResult is what a storm measured.
type stormResult struct {
	elapsed  time.Duration   // until every till's watermark reached its last seq
	toAck    []time.Duration // per till, sorted
	dropped  int64           // $SYS/broker/publish/messages/dropped at the end
	resends  uint64          // the tills' resends from the watermark (uplink State.Resends)
	hqPeak   []int64         // each tillhq's peak RSS in bytes (VmHWM)
	hqCPU    []time.Duration // each tillhq's CPU time (user and system)
	mqPeak   int64           // the broker's peak RSS
	stored   int             // entries HQ holds, counted in the database
	through  int             // tills whose HQ watermark is their last seq
	dups     string          // what each tillhq said it stored and saw twice
	entriesN int
}

func (r stormResult) rate() float64 { return float64(r.entriesN) / r.elapsed.Seconds() }

func (r stormResult) p(q float64) time.Duration {
	if len(r.toAck) == 0 {
		return 0
	}
	return r.toAck[min(len(r.toAck)-1, int(float64(len(r.toAck))*q))]
}

// tillID names till i of a storm: ten tills per store.
func tillID(i int) (store, till string) { return fmt.Sprintf("s%03d", i/10), fmt.Sprintf("t%04d", i) }

// buildTemplates writes every till's ledger with its backlog under dir, on tmpfs when the
// machine has one (an fsync per entry is then cheap), two tills at a time.
func buildTemplates(tb testing.TB, tills, entries int) string {
	tb.Helper()
	dir := tb.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "storm-")
		if err == nil {
			tb.Cleanup(func() { os.RemoveAll(d) })
			dir = d
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, runtime.NumCPU())
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < tills; i = int(next.Add(1) - 1) {
				store, till := tillID(i)
				l, err := ledger.Open(filepath.Join(dir, till+".ledger"), &ledger.Options{Store: store, Till: till})
				if err != nil {
					errs <- err
					return
				}
				for j := range entries {
					if _, err := l.Append(rig.Sale(i*entries + j)); err != nil {
						l.Close()
						errs <- err
						return
					}
				}
				if err := l.Close(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return dir
}

// shippedLimits are the sizing lines of the shipped broker configuration (queues,
// in-flight, packet size, connections, TCP): the storm runs them on a plain listener,
// without the TLS and ACL lines.
func shippedLimits(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile("../scripts/mosquitto/tillbox.conf")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "max_") || strings.HasPrefix(line, "set_tcp_nodelay") {
			out = append(out, line)
		}
	}
	if len(out) < 3 {
		tb.Fatalf("the shipped configuration has no limits: %q", out)
	}
	return out
}

// freshDatabase creates an empty, migrated database and returns its URL.
func freshDatabase(tb testing.TB, pg *rig.Postgres, name string) string {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	url := strings.Replace(pg.URL, "/postgres?", "/"+name+"?", 1)
	if err := hq.Migrate(ctx, url); err != nil {
		tb.Fatal(err)
	}
	return url
}

// pidOf finds the process whose command line contains marker.
func pidOf(marker string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), marker) {
			return pid
		}
	}
	return 0
}

// peakRSS is a process's VmHWM in bytes.
func peakRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuOf is a process's user and system time.
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from the 3rd on
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ
}

// droppedWatch follows the broker's count of dropped messages.
func droppedWatch(tb testing.TB, broker string) (last func() int64, stop func()) {
	tb.Helper()
	var v atomic.Int64
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("storm-sys"))
	if tok := cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("$SYS: connect: %v", tok.Error())
	}
	tok := cli.Subscribe("$SYS/broker/publish/messages/dropped", 0, func(_ mqtt.Client, m mqtt.Message) {
		if n, err := strconv.ParseInt(string(m.Payload()), 10, 64); err == nil {
			v.Store(n)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("$SYS: subscribe: %v", tok.Error())
	}
	return v.Load, func() { cli.Disconnect(100) }
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// runStorm runs one storm and measures it. It fails tb when a till is not acknowledged
// within timeout or HQ does not hold every entry.
func (s *storm) runStorm(tb testing.TB, timeout time.Duration) stormResult {
	tb.Helper()
	s.run++
	ctx := context.Background()
	mq := rig.StartMosquitto(tb, &rig.MosquittoOptions{Extra: append(slices.Clone(s.broker), "sys_interval 1")})
	defer mq.Stop()
	mqPID := pidOf(mq.Dir())
	db := freshDatabase(tb, s.pg, fmt.Sprintf("storm%d_%d", s.run, time.Now().UnixNano()%1e6))
	dropped, stopSys := droppedWatch(tb, mq.URL())
	defer stopSys()

	dir := tb.TempDir()
	var procs []*rig.Proc
	var pids []int
	for i := range s.consumers {
		id := fmt.Sprintf("storm-hq-%d-%d-%d", os.Getpid(), s.run, i)
		args := []string{"serve", "--broker", mq.URL(), "--store", db, "--client-id", id, "-v"}
		if s.consumers > 1 {
			args = append(args, "--share", "storm")
		}
		p := rig.StartProc(tb, fmt.Sprintf("tillhq%d", i), dir, exec.Command(s.bin, args...))
		procs = append(procs, p)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if b, _ := os.ReadFile(p.Log); strings.Contains(string(b), "hq: consuming") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("tillhq %d did not subscribe\n%s", i, rig.Tail(p.Log, 20))
			}
		}
		pids = append(pids, pidOf(id))
	}

	// The tills: a fresh copy of each ledger, opened before the clock starts.
	ledgers := make([]*ledger.Ledger, s.tills)
	clients := make([]*uplink.Client, s.tills)
	for i := range s.tills {
		store, till := tillID(i)
		path := filepath.Join(dir, till+".ledger")
		if err := copyFile(path, filepath.Join(s.templates, till+".ledger")); err != nil {
			tb.Fatal(err)
		}
		l, err := ledger.Open(path, &ledger.Options{Store: store, Till: till})
		if err != nil {
			tb.Fatal(err)
		}
		defer l.Close()
		c, err := uplink.New(l, s.options(mq.URL()))
		if err != nil {
			tb.Fatal(err)
		}
		ledgers[i], clients[i] = l, c
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(rctx) }()
	}
	toAck := make([]time.Duration, s.tills)
	left := s.tills
	for deadline := start.Add(timeout); left > 0; time.Sleep(20 * time.Millisecond) {
		for i, l := range ledgers {
			if toAck[i] != 0 {
				continue
			}
			if w, _ := l.Watermark(); w >= uint64(s.entries) {
				toAck[i] = time.Since(start)
				left--
			}
		}
		if time.Now().After(deadline) {
			st := clients[slices.Index(toAck, 0)].State()
			tb.Fatalf("%d of %d tills not acknowledged after %v; one of them: %+v", left, s.tills, timeout, st)
		}
	}
	res := stormResult{elapsed: time.Since(start), entriesN: s.tills * s.entries}
	for _, c := range clients {
		res.resends += c.State().Resends
	}
	for _, pid := range pids {
		res.hqPeak = append(res.hqPeak, peakRSS(pid))
		res.hqCPU = append(res.hqCPU, cpuOf(pid))
	}
	res.mqPeak = peakRSS(mqPID)
	time.Sleep(1200 * time.Millisecond) // one more $SYS interval
	res.dropped = dropped()
	slices.Sort(toAck)
	res.toAck = toAck
	cancel()
	wg.Wait()
	for i, p := range procs {
		p.Stop(10 * time.Second)
		b, _ := os.ReadFile(p.Log)
		if j := strings.LastIndex(string(b), "tillhq: stopped: "); j >= 0 {
			line, _, _ := strings.Cut(string(b[j+len("tillhq: stopped: "):]), "\n")
			res.dups += fmt.Sprintf(" [%d] %s", i, line)
		}
	}

	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM hq_entries`).Scan(&res.stored); err != nil {
		tb.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM hq_tills WHERE through = $1`, s.entries).Scan(&res.through); err != nil {
		tb.Fatal(err)
	}
	if res.stored != res.entriesN || res.through != s.tills {
		tb.Fatalf("HQ holds %d of %d entries, %d of %d tills through their last seq", res.stored, res.entriesN, res.through, s.tills)
	}
	return res
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func (r stormResult) print(w io.Writer, s *storm) {
	var peaks, cpus []string
	for i := range r.hqPeak {
		peaks = append(peaks, fmt.Sprintf("%.0f MB", mb(r.hqPeak[i])))
		cpus = append(cpus, fmt.Sprintf("%.1f s (%.2f cores)", r.hqCPU[i].Seconds(), r.hqCPU[i].Seconds()/r.elapsed.Seconds()))
	}
	fmt.Fprintf(w, "%5d tills x %d, %d tillhq: all acknowledged in %6.1f s, %7.0f entries/s, time-to-ack p50 %5.1f s p99 %5.1f s, "+
		"broker drops %d, resends %d, tillhq peak RSS %s, CPU %s, broker peak RSS %.0f MB;%s\n",
		s.tills, s.entries, s.consumers, r.elapsed.Seconds(), r.rate(), r.p(0.5).Seconds(), r.p(0.99).Seconds(),
		r.dropped, r.resends, strings.Join(peaks, " + "), strings.Join(cpus, " + "), mb(r.mqPeak), r.dups)
}

// TestFleetStorm is a reconnect storm against a broker whose queue is smaller than the
// backlog: 50 tills x 40 entries (500 x 400 with TILLBOX_SOAK=1) and one tillhq. The
// broker drops what does not fit; the tills' resends heal it. Nothing may be lost: every
// till's watermark reaches its last seq, HQ holds every entry, and HQ's memory stays
// bounded (its peak RSS read from /proc), since it takes in only what the broker has in
// flight toward it.
func TestFleetStorm(t *testing.T) {
	tills, entries := loops(50, 500), loops(40, 400)
	s := &storm{
		tills: tills, entries: entries, consumers: 1,
		broker:    []string{"max_queued_messages 500", "max_inflight_messages 100"},
		options:   func(b string) *uplink.Options { o := fastOptions(b); o.KeepAlive = 30 * time.Second; return o },
		templates: buildTemplates(t, tills, entries),
		pg:        rig.StartPostgres(t),
		bin:       buildTillhq(t),
	}
	res := s.runStorm(t, time.Duration(loops(2, 20))*time.Minute)
	res.print(os.Stdout, s)
	const bound = 150 << 20
	if res.hqPeak[0] == 0 || res.hqPeak[0] > bound {
		t.Fatalf("tillhq peak RSS %.0f MB, bound %.0f MB", mb(res.hqPeak[0]), mb(bound))
	}
}

// BenchmarkFleet is the fleet benchmark (scripts/bench-fleet.sh): TILLBOX_FLEET_TILLS
// (default "100,1000") tills with TILLBOX_FLEET_ENTRIES (default 200) entries each, all
// started at once with the shipped uplink options against Mosquitto with the shipped
// limits, drained by one and then two tillhq serve on PostgreSQL. Run it with
// -benchtime 1x.
func BenchmarkFleet(b *testing.B) {
	var sizes []int
	for _, f := range strings.Split(envStr("TILLBOX_FLEET_TILLS", "100,1000"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("TILLBOX_FLEET_TILLS: %q", f)
		}
		sizes = append(sizes, n)
	}
	entries := envInt("TILLBOX_FLEET_ENTRIES", 200)
	limits := shippedLimits(b)
	pg := rig.StartPostgres(b)
	bin := rig.Build(b, "tillbox/uplink/hq/cmd/tillhq", b.TempDir())
	fmt.Printf("broker: mosquitto with the shipped limits %v; tills: uplink defaults (window 500, resend after 15s)\n", limits)
	for range b.N {
		for _, n := range sizes {
			fmt.Printf("building %d ledgers of %d entries...\n", n, entries)
			s := &storm{tills: n, entries: entries, broker: limits, templates: buildTemplates(b, n, entries), pg: pg, bin: bin,
				options: func(broker string) *uplink.Options { return &uplink.Options{Broker: broker} }}
			for _, consumers := range []int{1, 2} {
				s.consumers = consumers
				res := s.runStorm(b, 20*time.Minute)
				res.print(os.Stdout, s)
				b.ReportMetric(res.rate(), fmt.Sprintf("entries/s-%dtills-%dhq", n, consumers))
			}
		}
	}
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
