package uplink_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5"

	"tillbox/ledger"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/mqttconn"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// BenchmarkDrain drains a backlog of TILLBOX_BENCH_ENTRIES (default 100,000) entries
// from a till's ledger into PostgreSQL through one local Mosquitto (with the shipped
// limits) until HQ acknowledged all of them, at the till's window TILLBOX_BENCH_WINDOW
// (default 500, the shipped one). It prints the rate beside two baselines over the same
// transport (mqttconn) at the same window, with the same payloads: QoS 1 publishes to the
// broker (the window bounded by the broker's PUBACKs), and the broker delivering them to
// one QoS 1 consumer (the window bounded by what that consumer received, as the till's is
// by HQ's acks); then the online latency from Append to watermark advance.
//
// On a shared machine one drain varies by a fifth from run to run, so it runs
// TILLBOX_BENCH_ROUNDS (default 5) rounds, each the baselines and then a drain of a fresh
// copy of the same ledger into an emptied database, and compares the medians. Run it with
// -benchtime 1x (scripts/bench-drain.sh does).
func BenchmarkDrain(b *testing.B) {
	n := envInt("TILLBOX_BENCH_ENTRIES", 100_000)
	window := envInt("TILLBOX_BENCH_WINDOW", 500)
	rounds := envInt("TILLBOX_BENCH_ROUNDS", 5)
	limits := shippedLimits(b)
	mq := rig.StartMosquitto(b, &rig.MosquittoOptions{Extra: limits})
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

	fmt.Printf("building a backlog of %d entries (one fsync'd commit each)...\n", n)
	dir := b.TempDir()
	backlog := filepath.Join(dir, "backlog.ledger")
	opts := &ledger.Options{Store: "s042", Till: "t01"}
	l, err := ledger.Open(backlog, opts)
	if err != nil {
		b.Fatal(err)
	}
	var payloads [][]byte
	size := 0
	for i := 0; i < n; i++ {
		res, err := l.Append(rig.Sale(i))
		if err != nil {
			b.Fatal(err)
		}
		payloads = append(payloads, bytes.Clone(res.Raw))
		size += len(res.Raw)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	image, err := os.ReadFile(backlog)
	if err != nil {
		b.Fatal(err)
	}

	for i := 0; i < b.N; i++ {
		var bases, delivers, drains []time.Duration
		var cpu cpuTimes
		for r := range rounds {
			bases = append(bases, baseline(b, mq.URL(), payloads, window))
			delivers = append(delivers, delivered(b, mq.URL(), payloads, window))
			resetHQ(b, pg.URL, mq.URL())
			path := filepath.Join(dir, fmt.Sprintf("round%d.ledger", r))
			if err := os.WriteFile(path, image, 0o600); err != nil {
				b.Fatal(err)
			}
			if l, err = ledger.Open(path, opts); err != nil {
				b.Fatal(err)
			}
			stopProfile := profileIf(b, os.Getenv("TILLBOX_BENCH_CPUPROFILE"), r == 0)
			cpu0 := readCPU()
			drains = append(drains, drainOnce(b, l, st, mq.URL(), window, n))
			cpu = cpu.add(readCPU().sub(cpu0))
			stopProfile()
			fmt.Printf("round %d:  publish %8.0f msg/s, delivery %8.0f msg/s, drain %8.0f entries/s\n",
				r+1, rate(n, bases[r]), rate(n, delivers[r]), rate(n, drains[r]))
			if r < rounds-1 {
				l.Close()
			}
		}
		p50, p99, samples := onlineLatency(b, l, st, mq.URL(), window)
		l.Close()
		base, deliver, drain := median(bases), median(delivers), median(drains)
		perEntry := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(n*rounds) }
		fmt.Printf("\nentries:  %d, %d bytes average payload; medians of %d rounds\n", n, size/n, rounds)
		fmt.Printf("broker:   mosquitto with the shipped limits %v\n", limits)
		fmt.Printf("publish:  QoS 1 publishes over mqttconn, at most %d without the broker's PUBACK: %8.0f msg/s (%v)\n",
			window, rate(n, base), base.Round(time.Millisecond))
		fmt.Printf("delivery: the same through the broker to one QoS 1 consumer over mqttconn, at most %d not yet received: %8.0f msg/s (%v)\n",
			window, rate(n, deliver), deliver.Round(time.Millisecond))
		fmt.Printf("drain:    ledger -> mosquitto -> HQ (PostgreSQL) -> ack -> watermark: %8.0f entries/s (%v, till window %d)\n",
			rate(n, drain), drain.Round(time.Millisecond), window)
		fmt.Printf("ratio:    drain / publish = %.2f (target >= 0.50), drain / delivery = %.2f\n",
			base.Seconds()/drain.Seconds(), deliver.Seconds()/drain.Seconds())
		fmt.Printf("cpu:      during the drains, %.1f µs per entry on the whole machine: %.1f in this process (till and HQ), %.1f elsewhere (broker, database, kernel)\n",
			perEntry(cpu.machine), perEntry(cpu.self), perEntry(cpu.machine-cpu.self))
		fmt.Printf("online:   Append -> watermark advance, one sale at a time: p50 %v, p99 %v (n=%d)\n",
			p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), samples)
		b.ReportMetric(rate(n, drain), "drain-entries/s")
		b.ReportMetric(rate(n, base), "baseline-msg/s")
		b.ReportMetric(rate(n, deliver), "delivery-msg/s")
		b.ReportMetric(base.Seconds()/drain.Seconds(), "ratio")
		b.ReportMetric(deliver.Seconds()/drain.Seconds(), "ratio-delivery")
		b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
		b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// resetHQ empties HQ's tables, checkpoints, and clears the till's retained ack at the
// broker, so that every round starts alike.
func resetHQ(b *testing.B, url, broker string) {
	ctx := context.Background()
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-reset"))
	if tok := cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("reset HQ: connect: %v", tok.Error())
	}
	tok := cli.Publish(wire.Topics{Prefix: wire.DefaultPrefix}.Ack("s042", "t01"), 1, true, []byte{})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("reset HQ: clear ack: %v", tok.Error())
	}
	cli.Disconnect(100)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{`TRUNCATE hq_entries, hq_tills, hq_central_runs, hq_stores, hq_quarantine`, `CHECKPOINT`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			b.Fatalf("reset HQ: %s: %v", q, err)
		}
	}
}

// cpuTimes are CPU time used so far: by this process, and by the whole machine (busy
// time of every core, from /proc/stat).
type cpuTimes struct{ self, machine time.Duration }

func (c cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{self: c.self - o.self, machine: c.machine - o.machine}
}

func (c cpuTimes) add(o cpuTimes) cpuTimes {
	return cpuTimes{self: c.self + o.self, machine: c.machine + o.machine}
}

func readCPU() cpuTimes {
	var c cpuTimes
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu  user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		for i := 1; i < len(f) && i <= 8; i++ {
			if i == 4 || i == 5 {
				continue
			}
			if v, err := strconv.ParseInt(f[i], 10, 64); err == nil {
				c.machine += time.Duration(v) * time.Second / 100 // USER_HZ
			}
		}
	}
	return c
}

// profileIf writes a CPU profile of this process to path (when set, and for the first
// round only) until the returned function is called: the drain's share of the work that runs in Go (till and HQ).
func profileIf(b *testing.B, path string, first bool) func() {
	if path == "" || !first {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// transport is a client over the till's own transport (mqttconn), as the till's session
// makes it.
func transport(b *testing.B, broker, id string) mqtt.Client {
	cli, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Brief, Broker: broker, ClientID: id, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatalf("%s: %v", id, err)
	}
	return cli
}

// baseline publishes every payload QoS 1 over mqttconn with at most window unacknowledged
// by the broker, to a topic nobody reads, and returns the time until the last PUBACK.
func baseline(b *testing.B, broker string, payloads [][]byte, window int) time.Duration {
	cli := transport(b, broker, "baseline")
	defer cli.Disconnect(100)
	toks := make([]mqtt.Token, 0, len(payloads))
	start := time.Now()
	for i, p := range payloads {
		if i >= window && !toks[i-window].WaitTimeout(30*time.Second) {
			b.Fatal("baseline: no PUBACK in 30s")
		}
		toks = append(toks, cli.Publish("bench/baseline", 1, false, p))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			b.Fatalf("baseline publish: %v", tok.Error())
		}
	}
	return time.Since(start)
}

// delivered publishes every payload QoS 1 over mqttconn to one QoS 1 subscriber over
// mqttconn, with at most window published and not yet received by it, and returns the
// time until it received the last one.
func delivered(b *testing.B, broker string, payloads [][]byte, window int) time.Duration {
	var got atomic.Int64
	room := make(chan struct{}, 1)
	sub := transport(b, broker, "delivery-sub")
	defer sub.Disconnect(100)
	if tok := sub.Subscribe("bench/delivery", 1, func(mqtt.Client, mqtt.Message) {
		got.Add(1)
		select {
		case room <- struct{}{}:
		default:
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("delivery: subscribe: %v", tok.Error())
	}
	pub := transport(b, broker, "delivery-pub")
	defer pub.Disconnect(100)
	n := int64(len(payloads))
	start := time.Now()
	for i, p := range payloads {
		for int64(i)-got.Load() >= int64(window) {
			select {
			case <-room:
			case <-time.After(30 * time.Second):
				b.Fatalf("delivery: stalled at %d of %d", got.Load(), n)
			}
		}
		pub.Publish("bench/delivery", 1, false, p)
	}
	for got.Load() < n {
		select {
		case <-room:
		case <-time.After(30 * time.Second):
			b.Fatalf("delivery: %d of %d received", got.Load(), n)
		}
	}
	return time.Since(start)
}

func drainOnce(b *testing.B, l *ledger.Ledger, st hq.Store, broker string, window, n int) time.Duration {
	stopHQ := runHQForBench(b, st, broker)
	defer stopHQ()
	o := &uplink.Options{Broker: broker, Window: window, PollInterval: 50 * time.Millisecond}
	c, err := uplink.New(l, o)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(time.Millisecond) {
		if w, _ := l.Watermark(); w >= uint64(n) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("drain did not finish: %+v", c.State())
		}
	}
}

func runHQForBench(b *testing.B, st hq.Store, broker string) func() {
	cons, err := hq.NewConsumer(st, &hq.Options{Broker: broker, ClientID: "tillhq-bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cons.Run(ctx) }()
	return func() { cancel(); <-done }
}

// onlineLatency appends sales one at a time with the link up and measures from Append's
// return to the watermark covering the sale.
func onlineLatency(b *testing.B, l *ledger.Ledger, st hq.Store, broker string, window int) (p50, p99 time.Duration, n int) {
	stopHQ := runHQForBench(b, st, broker)
	defer stopHQ()
	c, err := uplink.New(l, &uplink.Options{Broker: broker, Window: window})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(30 * time.Second); !c.State().Online; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("not online")
		}
	}
	var lat []time.Duration
	for i := 0; i < 500; i++ {
		res, err := l.Append(rig.Sale(i))
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		c.Notify()
		for deadline := t0.Add(30 * time.Second); ; {
			if w, _ := l.Watermark(); w >= res.Entry.Seq {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("seq %d never acknowledged", res.Entry.Seq)
			}
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], lat[len(lat)*99/100], len(lat)
}
