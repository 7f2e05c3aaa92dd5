package uplink_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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
	broker                    []string                     // Mosquitto's limits
	options                   func(string) *uplink.Options // a till's options for the broker URL
	templates                 string                       // the ledgers with their backlogs, built once
	pg                        *rig.Postgres
	bin                       string // tillhq
	run                       int    // numbers the database
	// nats, when set, runs the storm on a 3-node NATS cluster instead of Mosquitto: the
	// tills spread over the nodes' MQTT ports, the tillhq share the JetStream stream's
	// durable consumer (tillhq serve --jetstream).
	nats bool
	// cutHQ, on Mosquitto, runs the tillhq through a proxy that cuts their connections
	// once a third of the entries are acknowledged and restores the path two seconds
	// later: their sessions must come back and lose nothing.
	cutHQ bool
}

// stormResult is what a storm measured.
type stormResult struct {
	elapsed                time.Duration   // until every till's watermark reached its last seq
	toAck                  []time.Duration // per till, sorted
	dropped                int64           // $SYS/broker/publish/messages/dropped at the end
	resends                uint64          // the tills' resends from the watermark (uplink State.Resends)
	probes                 uint64          // the tills' probes (uplink State.Probes)
	resendsLong            uint64          // of resends, the long fallback's (State.ResendsLong)
	relinks                uint64          // sessions after a till's first (State.Sessions - 1)
	again                  uplink.Again    // entries the tills sent again, by why
	hqPeak                 []int64         // each tillhq's peak RSS in bytes (VmHWM)
	hqCPU                  []time.Duration // each tillhq's CPU time (user and system)
	mqPeak                 int64           // the broker's peak RSS
	stored                 int             // entries HQ holds, counted in the database
	through                int             // tills whose HQ watermark is their last seq
	dups                   string          // what each tillhq said it stored and saw twice
	entriesN               int
	tillsCPU, mqCPU, pgCPU time.Duration // of the simulated tills (this process), the broker, PostgreSQL
	extra                  int           // entries the tills journaled during the storm (an outage's start and end)
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

// ledgerDir is a directory for many tills' ledgers, on tmpfs when the machine has one:
// every real till has a disk of its own for its fsyncs (one per append and per ack), and
// the simulated ones must not queue theirs on one shared disk.
func ledgerDir(tb testing.TB) string {
	tb.Helper()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "storm-")
		if err == nil {
			tb.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return tb.TempDir()
}

// buildTemplates writes every till's ledger with its backlog under a ledgerDir, a till per
// core at a time.
func buildTemplates(tb testing.TB, tills, entries int) string {
	tb.Helper()
	dir := ledgerDir(tb)
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

// cpuOfAll is the processes' user and system time together.
func cpuOfAll(pids []int) (d time.Duration) {
	for _, pid := range pids {
		d += cpuOf(pid)
	}
	return d
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

// pgCPU is the CPU time of the PostgreSQL server listening on url's port: the postmaster,
// the children it has reaped, and those alive.
func pgCPU(url string) time.Duration {
	port := url[strings.LastIndex(url, ":")+1:]
	port, _, _ = strings.Cut(port, "/")
	pm := pidOf("-p " + port + " ")
	if pm == 0 {
		return 0
	}
	total := cpuOf(pm) + childrenCPU(pm)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(pm) {
			total += cpuOf(pid)
		}
	}
	return total
}

// childrenCPU is the user and system time of a process's reaped children.
func childrenCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	if len(f) < 15 {
		return 0
	}
	u, _ := strconv.ParseInt(f[13], 10, 64)
	k, _ := strconv.ParseInt(f[14], 10, 64)
	return time.Duration(u+k) * time.Second / 100
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
	var (
		mqPIDs   []int
		dropped  = func() int64 { return -1 }
		brokerOf func(i int) string // the broker URL of till or tillhq i
		hqBroker func(i int) string // of tillhq i
		hqArgs   func(i int) []string
		px       *rig.Proxy
	)
	if s.nats {
		cl := natsStormCluster(tb)
		for _, nd := range cl.Nodes {
			defer nd.Kill()
			mqPIDs = append(mqPIDs, pidOf(nd.Conf))
		}
		brokerOf = cl.MQTTURLs
		hqArgs = func(i int) []string { return []string{"--jetstream", cl.NATSURLs()} }
	} else {
		mq := rig.StartMosquitto(tb, &rig.MosquittoOptions{Extra: append(slices.Clone(s.broker), "sys_interval 1")})
		defer mq.Stop()
		mqPIDs = []int{pidOf(mq.Dir())}
		var stopSys func()
		dropped, stopSys = droppedWatch(tb, mq.URL())
		defer stopSys()
		brokerOf = func(int) string { return mq.URL() }
		if s.cutHQ {
			px = rig.StartProxy(tb, mq.Addr)
			defer px.Close()
		}
		hqArgs = func(int) []string {
			if s.consumers > 1 {
				return []string{"--share", "storm"}
			}
			return nil
		}
	}
	hqBroker = brokerOf
	if px != nil {
		hqBroker = func(int) string { return px.URL() }
	}
	db := freshDatabase(tb, s.pg, fmt.Sprintf("storm%d_%d", s.run, time.Now().UnixNano()%1e6))

	dir := tb.TempDir()
	var procs []*rig.Proc
	var pids []int
	// TILLBOX_FLEET_PROGRESS (a duration) prints a line of progress that often: the
	// tills' counts and each tillhq's (read from its /metrics).
	progress, _ := time.ParseDuration(os.Getenv("TILLBOX_FLEET_PROGRESS"))
	var metrics []string
	for i := range s.consumers {
		id := fmt.Sprintf("storm-hq-%d-%d-%d", os.Getpid(), s.run, i)
		args := append([]string{"serve", "--insecure", "--broker", hqBroker(i), "--store", db, "--client-id", id, "-v"}, hqArgs(i)...)
		if progress > 0 {
			addr := freeAddr(tb)
			metrics = append(metrics, "http://"+addr+"/metrics")
			args = append(args, "--http", addr)
		}
		if n := os.Getenv("TILLBOX_FLEET_CONNECTIONS"); n != "" && !s.nats {
			args = append(args, "--connections", n)
		}
		cmd := exec.Command(s.bin, args...)
		if prof := os.Getenv("TILLBOX_FLEET_HQPROFILE"); prof != "" {
			// A CPU profile of each tillhq serve, written when it stops.
			name := fmt.Sprintf("%s/tillhq-%dtills-%dhq-%d", prof, s.tills, s.consumers, i)
			cmd.Env = append(os.Environ(), "TILLHQ_CPUPROFILE="+name+".pprof", "TILLHQ_MEMPROFILE="+name+".heap")
		}
		p := rig.StartProc(tb, fmt.Sprintf("tillhq%d", i), dir, cmd)
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
	ldir := ledgerDir(tb)
	defer os.RemoveAll(ldir)
	ledgers := make([]*ledger.Ledger, s.tills)
	clients := make([]*uplink.Client, s.tills)
	for i := range s.tills {
		store, till := tillID(i)
		path := filepath.Join(ldir, till+".ledger")
		if err := copyFile(path, filepath.Join(s.templates, till+".ledger")); err != nil {
			tb.Fatal(err)
		}
		l, err := ledger.Open(path, &ledger.Options{Store: store, Till: till})
		if err != nil {
			tb.Fatal(err)
		}
		defer l.Close()
		o := s.options(brokerOf(i))
		if s.nats {
			o.TxQoS0 = true // the tills' setting for the cluster (see natsStormCluster)
		}
		c, err := uplink.New(l, o)
		if err != nil {
			tb.Fatal(err)
		}
		ledgers[i], clients[i] = l, c
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	cpu0, mq0, pg0 := readCPU(), cpuOfAll(mqPIDs), pgCPU(s.pg.URL)
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(rctx) }()
	}
	toAck := make([]time.Duration, s.tills)
	left := s.tills
	cut := px == nil
	lastProgress := start
	// Polled every 250 ms, a till's watermark first: the poll runs in this process, and its
	// reads of thousands of ledgers count as the tills' CPU.
	for deadline := start.Add(timeout); left > 0; time.Sleep(250 * time.Millisecond) {
		if !cut {
			var acked uint64
			for _, l := range ledgers {
				w, _ := l.Watermark()
				acked += w
			}
			if acked >= uint64(s.tills*s.entries/3) {
				cut = true
				px.Cut()
				fmt.Printf("      tillhq's connections cut at %d entries acknowledged, restored 2 s later\n", acked)
				time.Sleep(2 * time.Second)
				px.Restore()
			}
		}
		for i, l := range ledgers {
			if toAck[i] != 0 {
				continue
			}
			// A till that was offline for long journals it: its last seq may pass the backlog.
			if w, _ := l.Watermark(); w < uint64(s.entries) {
				continue
			} else if last, _ := l.LastSeq(); w == last {
				toAck[i] = time.Since(start)
				left--
			}
		}
		if progress > 0 && time.Since(lastProgress) >= progress {
			lastProgress = time.Now()
			printProgress(start, s.tills-left, ledgers, clients, metrics, pids, mqPIDs)
		}
		if time.Now().After(deadline) {
			st := clients[slices.Index(toAck, 0)].State()
			tb.Fatalf("%d of %d tills not acknowledged after %v; one of them: %+v", left, s.tills, timeout, st)
		}
	}
	res := stormResult{elapsed: time.Since(start), entriesN: s.tills * s.entries}
	lasts := map[hq.TillKey]uint64{}
	total := 0
	for i, l := range ledgers {
		store, till := tillID(i)
		last, _ := l.LastSeq()
		lasts[hq.TillKey{Store: store, Till: till}] = last
		total += int(last)
	}
	res.extra = total - res.entriesN
	for _, c := range clients {
		st := c.State()
		res.resends += st.Resends
		res.probes += st.Probes
		res.resendsLong += st.ResendsLong
		if st.Sessions > 0 {
			res.relinks += st.Sessions - 1
		}
		res.again = addAgain(res.again, st.Again)
	}
	for _, pid := range pids {
		res.hqPeak = append(res.hqPeak, peakRSS(pid))
		res.hqCPU = append(res.hqCPU, cpuOf(pid))
	}
	for _, pid := range mqPIDs {
		res.mqPeak += peakRSS(pid)
	}
	res.tillsCPU, res.mqCPU, res.pgCPU = readCPU().sub(cpu0).self, cpuOfAll(mqPIDs)-mq0, pgCPU(s.pg.URL)-pg0
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
	rows, err := conn.Query(ctx, `SELECT store, till, through FROM hq_tills`)
	if err != nil {
		tb.Fatal(err)
	}
	for rows.Next() {
		var k hq.TillKey
		var through int64
		if err := rows.Scan(&k.Store, &k.Till, &through); err != nil {
			tb.Fatal(err)
		}
		if last, ok := lasts[k]; ok && uint64(through) == last {
			res.through++
		}
	}
	rows.Close()
	if res.stored != total || res.through != s.tills {
		tb.Fatalf("HQ holds %d of %d entries, %d of %d tills through their last seq", res.stored, total, res.through, s.tills)
	}
	return res
}

func addAgain(a, b uplink.Again) uplink.Again {
	return uplink.Again{Probe: a.Probe + b.Probe, Gap: a.Gap + b.Gap, Blind: a.Blind + b.Blind, Answered: a.Answered + b.Answered, Long: a.Long + b.Long,
		Reconnect: a.Reconnect + b.Reconnect, Asked: a.Asked + b.Asked}
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape reads the named counters of a /metrics page.
func scrape(url string, names ...string) []float64 {
	out := make([]float64, len(names))
	resp, err := http.Get(url)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		for i, n := range names {
			if v, ok := strings.CutPrefix(sc.Text(), n+" "); ok {
				out[i], _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
	}
	return out
}

// currentRSS is a process's VmRSS in bytes.
func currentRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// printProgress is one line of a storm's progress.
func printProgress(start time.Time, done int, ledgers []*ledger.Ledger, clients []*uplink.Client, metrics []string, hqPIDs, mqPIDs []int) {
	var acked uint64
	for _, l := range ledgers {
		w, _ := l.Watermark()
		acked += w
	}
	var probes, resends, long, relinks uint64
	var again uplink.Again
	for _, c := range clients {
		st := c.State()
		probes, resends, long = probes+st.Probes, resends+st.Resends, long+st.ResendsLong
		if st.Sessions > 0 {
			relinks += st.Sessions - 1
		}
		again = addAgain(again, st.Again)
	}
	var hq []string
	for i, m := range metrics {
		v := scrape(m, "tillhq_entries_stored_total", "tillhq_duplicates_total", "tillhq_acks_published_total", "tillhq_consumer_pending_messages")
		hq = append(hq, fmt.Sprintf("[%d] stored %.0f dups %.0f acks %.0f pending %.0f cpu %.0f s", i, v[0], v[1], v[2], v[3], cpuOf(hqPIDs[i]).Seconds()))
	}
	var mq int64
	for _, pid := range mqPIDs {
		mq += currentRSS(pid)
	}
	fmt.Printf("      %6.0f s: %d tills done, %d acked; probes %d, resends %d (long %d), relinks %d, again %+v; %s; broker %.0f MB\n",
		time.Since(start).Seconds(), done, acked, probes, resends, long, relinks, again, strings.Join(hq, " "), mb(mq))
}

func cpuCores(ds []time.Duration, over time.Duration) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%.2f", d.Seconds()/over.Seconds()))
	}
	return out
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func (r stormResult) print(w io.Writer, s *storm) {
	var peaks, cpus []string
	for i := range r.hqPeak {
		peaks = append(peaks, fmt.Sprintf("%.0f MB", mb(r.hqPeak[i])))
		cpus = append(cpus, fmt.Sprintf("%.1f s (%.2f cores)", r.hqCPU[i].Seconds(), r.hqCPU[i].Seconds()/r.elapsed.Seconds()))
	}
	cores := func(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()/r.elapsed.Seconds()) }
	var hqAll time.Duration
	for _, d := range r.hqCPU {
		hqAll += d
	}
	per := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(r.entriesN) }
	defer fmt.Fprintf(w, "      cores used: tillhq %s, PostgreSQL %s, broker %s, the simulated tills %s (of %d, shared with whatever else runs); "+
		"CPU per entry: tillhq %.1f µs, PostgreSQL %.1f µs, broker %.1f µs, tills %.1f µs\n",
		strings.Join(cpuCores(r.hqCPU, r.elapsed), " + "), cores(r.pgCPU), cores(r.mqCPU), cores(r.tillsCPU), runtime.NumCPU(),
		per(hqAll), per(r.pgCPU), per(r.mqCPU), per(r.tillsCPU))
	kind, drops := "mosquitto", strconv.FormatInt(r.dropped, 10)
	if s.nats {
		kind, drops = "nats x3", "-" // no $SYS: a message the stream refused is resent like a dropped one
	}
	fmt.Fprintf(w, "%-9s %5d tills x %d, %d tillhq: all acknowledged in %6.1f s, %7.0f entries/s, time-to-ack p50 %5.1f s p99 %5.1f s, "+
		"broker drops %s, resends %d (long %d), probes %d, relinks %d, entries sent again %+v, tillhq peak RSS %s, CPU %s, broker peak RSS %.0f MB, outage entries %d;%s\n",
		kind, s.tills, s.entries, s.consumers, r.elapsed.Seconds(), r.rate(), r.p(0.5).Seconds(), r.p(0.99).Seconds(),
		drops, r.resends, r.resendsLong, r.probes, r.relinks, r.again, strings.Join(peaks, " + "), strings.Join(cpus, " + "), mb(r.mqPeak), r.extra, r.dups)
}

// TestFleetStorm is a reconnect storm against a broker whose queue is smaller than the
// backlog: 50 tills x 40 entries (500 x 400 with TILLBOX_SOAK=1) and one tillhq. The
// broker drops what does not fit; the tills' resends heal it. Nothing may be lost: every
// till's watermark reaches its last seq, HQ holds every entry, and HQ's memory stays
// bounded (its peak RSS read from /proc), since it takes in only what the broker has in
// flight toward it. Once a third of the entries are acknowledged, tillhq's connections
// are cut for two seconds: its persistent sessions come back and the storm completes.
func TestFleetStorm(t *testing.T) {
	tills, entries := loops(50, 500), loops(40, 400)
	s := &storm{
		tills: tills, entries: entries, consumers: 1, cutHQ: true,
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
// limits, drained by TILLBOX_FLEET_HQ (default "1,2": one, then two) tillhq serve on
// PostgreSQL; each of them with TILLBOX_FLEET_BROKERS (default "mosquitto,nats"): on
// that Mosquitto, then on a 3-node NATS cluster on loopback (the tills spread over its
// MQTT ports, the tillhq sharing its JetStream stream), printed one beside the other.
// Run it with -benchtime 1x.
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
	var hqCounts []int
	for _, f := range strings.Split(envStr("TILLBOX_FLEET_HQ", "1,2"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("TILLBOX_FLEET_HQ: %q", f)
		}
		hqCounts = append(hqCounts, n)
	}
	var clusters []bool
	for _, f := range strings.Split(envStr("TILLBOX_FLEET_BROKERS", "mosquitto,nats"), ",") {
		switch strings.TrimSpace(f) {
		case "mosquitto":
			clusters = append(clusters, false)
		case "nats":
			clusters = append(clusters, true)
		default:
			b.Fatalf("TILLBOX_FLEET_BROKERS: %q (want mosquitto, nats)", f)
		}
	}
	// TILLBOX_FLEET_RESEND shortens the tills' ResendAfter, so that a smaller storm
	// outlasts as many of its timeouts as a larger one does of the shipped 15 s.
	resendAfter, _ := time.ParseDuration(os.Getenv("TILLBOX_FLEET_RESEND"))
	limits := shippedLimits(b)
	pg := rig.StartPostgres(b)
	bin := rig.Build(b, "tillbox/uplink/hq/cmd/tillhq", b.TempDir())
	fmt.Printf("broker: mosquitto with the shipped limits %v; tills: uplink defaults (window 500, probe after 15s)\n", limits)
	for range b.N {
		for _, n := range sizes {
			fmt.Printf("building %d ledgers of %d entries...\n", n, entries)
			s := &storm{tills: n, entries: entries, broker: limits, templates: buildTemplates(b, n, entries), pg: pg, bin: bin,
				options: func(broker string) *uplink.Options { return &uplink.Options{Broker: broker, ResendAfter: resendAfter} }}
			base := fleetBaseline(b, s, limits)
			fmt.Printf("baseline: the broker delivering %d of the tills' payloads from one publisher to one QoS 1 consumer over mqttconn, "+
				"at most 2000 not yet received (HQ's in-flight): %.0f msg/s\n", n*entries, float64(n*entries)/base.Seconds())
			for _, consumers := range hqCounts {
				for _, cluster := range clusters {
					s.consumers, s.nats = consumers, cluster
					// A bound for a storm that does not complete: 20 minutes, or the
					// time at 300 entries/s (a machine shared with other work) if longer.
					res := s.runStorm(b, max(20*time.Minute, time.Duration(n*entries/300)*time.Second))
					res.print(os.Stdout, s)
					fmt.Printf("      storm / baseline = %.2f\n", base.Seconds()/res.elapsed.Seconds())
					unit := fmt.Sprintf("entries/s-%dtills-%dhq", n, consumers)
					if cluster {
						unit += "-nats"
					}
					b.ReportMetric(res.rate(), unit)
				}
			}
		}
	}
}

// fleetBaseline is the time a fresh broker with the same limits takes to deliver as many
// payloads as the storm's, taken from the first till's ledger, to one QoS 1 consumer.
func fleetBaseline(b *testing.B, s *storm, limits []string) time.Duration {
	_, till := tillID(0)
	l, err := ledger.Open(filepath.Join(s.templates, till+".ledger"), &ledger.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	var one [][]byte
	err = l.AfterRaw(0, s.entries, func(_ uint64, raw []byte) bool { one = append(one, slices.Clone(raw)); return true })
	l.Close()
	if err != nil || len(one) == 0 {
		b.Fatalf("baseline payloads: %v", err)
	}
	payloads := make([][]byte, 0, s.tills*s.entries)
	for len(payloads) < s.tills*s.entries {
		payloads = append(payloads, one[len(payloads)%len(one)])
	}
	mq := rig.StartMosquitto(b, &rig.MosquittoOptions{Extra: limits})
	defer mq.Stop()
	return delivered(b, mq.URL(), payloads, 2000)
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
