package hq_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"tillbox/ledger"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

func soakOr(short, long int) int {
	if os.Getenv("TILLBOX_SOAK") == "1" {
		return long
	}
	return short
}

func TestNewJetStreamConsumerRefuses(t *testing.T) {
	st, err := hq.Open(context.Background(), filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct {
		name string
		o    hq.Options
		js   hq.JetStream
	}{
		{"no NATS URL", hq.Options{Broker: "tcp://127.0.0.1:1883"}, hq.JetStream{}},
		{"a broker of the list without host", hq.Options{Broker: "tcp://127.0.0.1:1883,tcp://"}, hq.JetStream{URLs: "nats://127.0.0.1:4222"}},
		{"an empty broker list", hq.Options{}, hq.JetStream{URLs: "nats://127.0.0.1:4222"}},
		{"a shared subscription too", hq.Options{Broker: "tcp://127.0.0.1:1883", Share: "g"}, hq.JetStream{URLs: "nats://127.0.0.1:4222"}},
		{"a prefix no subject can carry", hq.Options{Broker: "tcp://127.0.0.1:1883", Prefix: "tillbox/v1.5"}, hq.JetStream{URLs: "nats://127.0.0.1:4222"}},
	} {
		if _, err := hq.NewJetStreamConsumer(st, &c.o, c.js); !errors.Is(err, hq.ErrOptions) {
			t.Errorf("%s: %v, want ErrOptions", c.name, err)
		}
	}
	j, err := hq.NewJetStreamConsumer(st, &hq.Options{Broker: "tcp://127.0.0.1:1, tcp://127.0.0.1:2"}, hq.JetStream{URLs: "nats://127.0.0.1:4222"})
	if err != nil || j.Consumer == nil {
		t.Fatalf("two brokers: %v", err)
	}
}

// TestClusterNodeAndTillhqKilledMidDrain: a 3-node NATS cluster (MQTT on with the shipped
// mqtt settings, the tx stream with 3 replicas), three tillhq on one PostgreSQL sharing
// one durable consumer, and tills spread over the nodes, half publishing with QoS 0 and
// half with QoS 1. Each round the tills go offline, each journals a backlog, and they all
// come back at once; mid-drain one node and one tillhq are killed with SIGKILL, the tills
// go on selling, and both are started again. After the last round every entry is stored
// once, every chain verifies (tillhq check), every till's watermark is at its last seq and
// HQ's at the same. TILLBOX_SOAK=1 runs more tills, entries and rounds (4, or
// TILLBOX_SOAK_ROUNDS).
func TestClusterNodeAndTillhqKilledMidDrain(t *testing.T) {
	tills, backlog, rounds := soakOr(6, 24), soakOr(400, 3000), soakOr(1, 4)
	if n, err := strconv.Atoi(os.Getenv("TILLBOX_SOAK_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	cl := rig.StartNATSClusterWith(t, 3, &rig.NATSOptions{MQTT: rig.MQTTSettings(t, "../../scripts/nats/tillbox.conf")})
	pg := rig.StartPostgres(t)
	bin := rig.Build(t, "tillbox/uplink/hq/cmd/tillhq", t.TempDir())
	if out, err := exec.Command(bin, "migrate", "--store", pg.URL).CombinedOutput(); err != nil {
		t.Fatalf("tillhq migrate: %v\n%s", err, out)
	}
	dir := t.TempDir()
	var hqs []*rig.Proc
	for i := range 3 {
		name := fmt.Sprintf("tillhq-%d", i)
		p := rig.StartProc(t, name, dir, exec.Command(bin, "serve", "--insecure", "--broker", cl.MQTTURLs(i), "--jetstream", cl.NATSURLs(),
			"--store", pg.URL, "--client-id", name, "--ack-wait", "3s", "--batch", "200", "-v"))
		waitLog(t, p, "hq: consuming", 0)
		hqs = append(hqs, p)
	}

	ledgers := make([]*ledger.Ledger, tills)
	clients := make([]*uplink.Client, tills)
	stops := make([]func(), tills)
	for i := range tills {
		l, err := ledger.Open(filepath.Join(t.TempDir(), "till.ledger"), &ledger.Options{Store: fmt.Sprintf("s%02d", i/3), Till: fmt.Sprintf("t%02d", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ledgers[i] = l
	}
	// Each till starts on a node of its own and moves on round the list. Half of them
	// publish with QoS 0 (uplink.Options.TxQoS0, the cluster's setting), half with QoS 1
	// (a till still set up for Mosquitto), whose entries the tx stream holds twice: each
	// kind loses nothing, and HQ stores each entry once.
	startTills := func() {
		for i, l := range ledgers {
			o := rig.TillOptions(cl.MQTTURLs(i))
			o.TxQoS0 = i%2 == 0
			clients[i], stops[i] = rig.RunTill(t, l, o)
		}
	}
	total := func() (n uint64) {
		for _, l := range ledgers {
			last, _ := l.LastSeq()
			n += last
		}
		return n
	}
	conn, err := pgx.Connect(context.Background(), pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	stored := func() (n uint64) {
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM hq_entries`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for r := range rounds {
		// The tills offline, each journaling its backlog; then all of them back at once.
		for _, stop := range stops {
			if stop != nil {
				stop()
			}
		}
		for _, l := range ledgers {
			sell(t, l, nil, backlog)
		}
		from := stored()
		startTills()
		node, victim := cl.Nodes[r%3], hqs[(r+1)%3]
		// Mid-drain: some of the round's backlog stored, most still to come.
		want := from + (total()-from)/10
		waitUntilWithin(t, 3*time.Minute, "a tenth of the backlog stored", func() bool { return stored() >= want })
		sessions := logCount(victim, "hq: consuming")
		node.Kill()
		victim.Kill()
		at := stored()
		t.Logf("round %d: killed %s and %s with %d of %d entries stored (%d of the round's %d)", r, node.Name, victim.Name, at, total(), at-from, total()-from)
		for i, l := range ledgers {
			sell(t, l, clients[i], 50)
		}
		// The rest of the cluster and of the tillhq go on draining without them.
		waitUntilWithin(t, 3*time.Minute, "progress without the dead node and tillhq", func() bool { return stored() > at+uint64(tills)*20 })
		node.Restart()
		victim.Restart()
		waitLog(t, victim, "hq: consuming", sessions)
	}
	waitUntilWithin(t, 15*time.Minute, "every entry stored", func() bool { return stored() >= total() })
	for i, l := range ledgers {
		rig.WaitSynced(t, l, clients[i])
	}
	t.Logf("%d rounds, %d tills, %d entries", rounds, tills, total())
	if n, want := stored(), total(); n != want {
		t.Fatalf("HQ holds %d entries, the tills journaled %d", n, want)
	}
	st, err := hq.Open(context.Background(), pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts, err := st.Tills(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != tills {
		t.Fatalf("HQ knows %d tills, want %d", len(ts), tills)
	}
	for i, l := range ledgers {
		last, _ := l.LastSeq()
		k := hq.TillKey{Store: l.Store(), Till: l.Till()}
		th, err := st.Through(context.Background(), k)
		if err != nil || th != last {
			t.Errorf("till %d %v: HQ through %d (%v), last seq %d", i, k, th, err, last)
		}
	}
	var quarantined int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM hq_quarantine`).Scan(&quarantined); err != nil || quarantined != 0 {
		t.Errorf("quarantine holds %d (%v), want 0", quarantined, err)
	}
	if out, err := exec.Command(bin, "check", "--store", pg.URL).CombinedOutput(); err != nil {
		t.Fatalf("tillhq check: %v\n%s", err, out)
	}
	for _, p := range hqs {
		p.Stop(10 * time.Second)
		b, _ := os.ReadFile(p.Log)
		if i := strings.LastIndex(string(b), "tillhq: stopped: "); i >= 0 {
			line, _, _ := strings.Cut(string(b[i:]), "\n")
			t.Logf("%s: %s", p.Name, line)
		}
	}
}

// sell journals n sales on l and tells its uplink, when it runs.
func sell(t *testing.T, l *ledger.Ledger, c *uplink.Client, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.Append(rig.Sale(i)); err != nil {
			t.Fatal(err)
		}
	}
	if c != nil {
		c.Notify()
	}
}

func logCount(p *rig.Proc, what string) int {
	b, _ := os.ReadFile(p.Log)
	return strings.Count(string(b), what)
}

// waitLog waits until p's log holds what more than before times.
func waitLog(t *testing.T, p *rig.Proc, what string, before int) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if logCount(p, what) > before && !p.Exited() {
			return
		}
		if time.Now().After(deadline) || p.Exited() {
			t.Fatalf("%s did not log %q\n%s", p.Name, what, rig.Tail(p.Log, 30))
		}
	}
}

// TestJetStreamRetainedTxQuarantined: a tx published retained (a till must never do it)
// is found by a JetStream consumer as by the Mosquitto one: quarantined with its reason
// and cleared from the cluster, so a later subscriber gets no retained tx; the tills'
// plain tx still arrive through the stream.
func TestJetStreamRetainedTxQuarantined(t *testing.T) {
	cl := rig.StartNATSClusterWith(t, 3, &rig.NATSOptions{MQTT: rig.MQTTSettings(t, "../../scripts/nats/tillbox.conf")})
	_, txs := tillEntries(t, "t01", 3)
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cl.Nodes[1].MQTTURL()).SetClientID("misbehaving").SetAutoReconnect(false))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	topic := wire.Topics{}.Tx("s042", "t01")
	if tok := pub.Publish(topic, 1, true, txs[0].Raw); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish retained: %v", tok.Error())
	}

	st, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	j, err := hq.NewJetStreamConsumer(st, &hq.Options{Broker: cl.MQTTURLs(0), ClientID: "tillhq-retained", WaitTimeout: 5 * time.Second},
		hq.JetStream{URLs: cl.NATSURLs(), AckWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); j.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitUntilWithin(t, 30*time.Second, "the retained tx quarantined", func() bool {
		found := false
		st.Quarantined(ctx, func(q hq.Quarantine) error {
			found = found || (q.Topic == topic && q.Reason == "retained tx message")
			return nil
		})
		return found
	})
	// Plain tx go on through the stream.
	for _, tx := range txs {
		if tok := pub.Publish(topic, 1, false, tx.Raw); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	k := hq.TillKey{Store: "s042", Till: "t01"}
	waitUntilWithin(t, 30*time.Second, "the plain tx stored", func() bool { th, _ := st.Through(ctx, k); return th == 3 })
	// Cleared: a new subscriber on another node receives no retained tx.
	got := make(chan []byte, 1)
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cl.Nodes[2].MQTTURL()).SetClientID("late").SetAutoReconnect(false))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.Subscribe(topic, 0, func(_ mqtt.Client, m mqtt.Message) {
		if m.Retained() {
			select {
			case got <- m.Payload():
			default:
			}
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	select {
	case p := <-got:
		t.Errorf("a retained tx is still on the cluster: %.60s", p)
	case <-time.After(3 * time.Second):
	}
}

// TestJetStreamConsumerInMemoryMadeAgain: the durable consumer tillhq makes keeps its
// state in memory; when it is gone (deleted here, as it is when all three nodes go down at
// once) the session ends and the next one makes it again, and what the tills published
// meanwhile is stored. A consumer found on file stays on file (a server refuses to change
// a consumer's storage), and is read as before.
func TestJetStreamConsumerInMemoryMadeAgain(t *testing.T) {
	cl := rig.StartNATSClusterWith(t, 3, &rig.NATSOptions{MQTT: rig.MQTTSettings(t, "../../scripts/nats/tillbox.conf")})
	_, txs := tillEntries(t, "t01", 9)
	st, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run := func() (stop func()) {
		j, err := hq.NewJetStreamConsumer(st, &hq.Options{Broker: cl.MQTTURLs(0), ClientID: "tillhq-mem", WaitTimeout: 5 * time.Second,
			BackoffMin: 50 * time.Millisecond, BackoffMax: 400 * time.Millisecond}, hq.JetStream{URLs: cl.NATSURLs(), AckWait: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); j.Run(ctx) }()
		return func() { cancel(); <-done }
	}
	nc, err := nats.Connect(cl.NATSURLs(), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	consumer := func() (jetstream.ConsumerConfig, bool) {
		c, err := js.Consumer(ctx, "TILLBOX_TX", "tillhq")
		if err != nil {
			return jetstream.ConsumerConfig{}, false
		}
		return c.CachedInfo().Config, true
	}
	k := hq.TillKey{Store: "s042", Till: "t01"}
	var pub mqtt.Client
	send := func(from, to int) {
		for _, tx := range txs[from:to] {
			if tok := pub.Publish(wire.Topics{}.Tx("s042", "t01"), 0, false, tx.Raw); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
		waitUntilWithin(t, 60*time.Second, fmt.Sprintf("entry %d stored", to), func() bool { th, _ := st.Through(ctx, k); return th == uint64(to) })
	}

	// tillhq first: it lays the cluster's streams out before any MQTT client connects.
	stop := run()
	waitUntilWithin(t, 30*time.Second, "the durable consumer", func() bool { _, ok := consumer(); return ok })
	pub = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cl.Nodes[1].MQTTURL()).SetClientID("t01").SetAutoReconnect(false))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	if cfg, _ := consumer(); !cfg.MemoryStorage {
		t.Errorf("the durable consumer is on file, want memory")
	}
	send(0, 3)
	if err := js.DeleteConsumer(ctx, "TILLBOX_TX", "tillhq"); err != nil {
		t.Fatal(err)
	}
	send(3, 6)
	if cfg, ok := consumer(); !ok || !cfg.MemoryStorage {
		t.Errorf("the consumer made again: found %v, in memory %v", ok, cfg.MemoryStorage)
	}
	stop()

	cfg, _ := consumer()
	if err := js.DeleteConsumer(ctx, "TILLBOX_TX", "tillhq"); err != nil {
		t.Fatal(err)
	}
	cfg.MemoryStorage = false
	if _, err := js.CreateConsumer(ctx, "TILLBOX_TX", cfg); err != nil {
		t.Fatal(err)
	}
	stop = run()
	defer stop()
	send(6, 9)
	if cfg, ok := consumer(); !ok || cfg.MemoryStorage {
		t.Errorf("a consumer found on file: found %v, in memory %v", ok, cfg.MemoryStorage)
	}
}
