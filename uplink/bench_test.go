package uplink_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/uplinktest"
)

// benchMosquitto is the broker configuration the drain benchmark and the bare baseline
// share: Mosquitto's defaults, except that the consumer may hold more than 20 messages in
// flight (it PUBACKs after its commit, so 20 would cap each commit at 20 rows) and a
// client's queue may hold a till's whole window.
var benchMosquitto = []string{"max_inflight_messages 2000", "max_queued_messages 100000", "set_tcp_nodelay true"}

// BenchmarkDrain drains a backlog of TILLBOX_BENCH_ENTRIES (default 100,000) entries
// from a till's ledger into PostgreSQL through one local Mosquitto until HQ acknowledged
// all of them, and prints the rate beside bare pipelined QoS 1 publishes of the same
// payloads to the same broker, then the online latency from Append to watermark advance.
// Run it with -benchtime 1x (scripts/bench-drain.sh does).
func BenchmarkDrain(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("TILLBOX_BENCH_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	window := 1000
	if v, err := strconv.Atoi(os.Getenv("TILLBOX_BENCH_WINDOW")); err == nil && v > 0 {
		window = v
	}
	mq := uplinktest.StartMosquitto(b, &uplinktest.MosquittoOptions{Extra: benchMosquitto})
	pg := uplinktest.StartPostgres(b)
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
	l, err := ledger.Open(filepath.Join(b.TempDir(), "t01.ledger"), &ledger.Options{Store: "s042", Till: "t01"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	var payloads [][]byte
	for i := 0; i < n; i++ {
		res, err := l.Append(uplinktest.Sale(i))
		if err != nil {
			b.Fatal(err)
		}
		payloads = append(payloads, bytes.Clone(res.Raw))
	}
	size := 0
	for _, p := range payloads {
		size += len(p)
	}

	for i := 0; i < b.N; i++ {
		base := baseline(b, mq.URL(), payloads)
		drain := drainOnce(b, l, st, mq.URL(), window, n)
		p50, p99, samples := onlineLatency(b, l, st, mq.URL(), window)
		fmt.Printf("\nentries:  %d, %d bytes average payload\n", n, size/n)
		fmt.Printf("broker:   mosquitto, %v\n", benchMosquitto)
		fmt.Printf("baseline: bare pipelined QoS 1 publishes from paho: %8.0f msg/s (%v)\n", float64(n)/base.Seconds(), base.Round(time.Millisecond))
		fmt.Printf("drain:    ledger -> mosquitto -> HQ (PostgreSQL) -> ack -> watermark: %8.0f entries/s (%v, till window %d)\n",
			float64(n)/drain.Seconds(), drain.Round(time.Millisecond), window)
		fmt.Printf("ratio:    drain / baseline = %.2f (target >= 0.50)\n", base.Seconds()/drain.Seconds())
		fmt.Printf("online:   Append -> watermark advance, one sale at a time: p50 %v, p99 %v (n=%d)\n",
			p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), samples)
		b.ReportMetric(float64(n)/drain.Seconds(), "drain-entries/s")
		b.ReportMetric(float64(n)/base.Seconds(), "baseline-msg/s")
		b.ReportMetric(base.Seconds()/drain.Seconds(), "ratio")
		b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
		b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
	}
}

// baseline publishes every payload QoS 1 with up to 60,000 unacknowledged (paho's message
// ids allow 65,535) to a topic nobody reads, and returns the time until the last PUBACK.
func baseline(b *testing.B, broker string, payloads [][]byte) time.Duration {
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("baseline").SetOrderMatters(false).
		SetWriteTimeout(10 * time.Second))
	if tok := cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("baseline connect: %v", tok.Error())
	}
	defer cli.Disconnect(100)
	const inflight = 60000
	toks := make([]mqtt.Token, 0, len(payloads))
	start := time.Now()
	for i, p := range payloads {
		if i >= inflight && !toks[i-inflight].WaitTimeout(30*time.Second) {
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
		res, err := l.Append(uplinktest.Sale(i))
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
