package uplink_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// TestMain doubles as the till child process of TestTillKilledMidDrain.
func TestMain(m *testing.M) {
	if os.Getenv("UPLINKTEST_TILL_LEDGER") != "" {
		os.Exit(tillChild())
	}
	os.Exit(m.Run())
}

// tillChild opens the ledger, runs the uplink, appends UPLINKTEST_TILL_APPEND sales, and
// exits 0 once everything is acknowledged (or runs until killed).
func tillChild() int {
	l, err := ledger.Open(os.Getenv("UPLINKTEST_TILL_LEDGER"), &ledger.Options{Store: "s042", Till: "t01"})
	if err != nil {
		println("child:", err.Error())
		return 3
	}
	defer l.Close()
	c, err := uplink.New(l, fastOptions(os.Getenv("UPLINKTEST_TILL_BROKER")))
	if err != nil {
		println("child:", err.Error())
		return 3
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	n, _ := strconv.Atoi(os.Getenv("UPLINKTEST_TILL_APPEND"))
	for i := 0; i < n; i++ {
		if _, err := l.Append(rig.Sale(i)); err != nil {
			println("child:", err.Error())
			return 3
		}
		c.Notify()
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // a till's pace, so the kill lands mid-drain
		}
	}
	println("child: appended", n)
	for range 6000 { // bounded: at most ten minutes
		last, _ := l.LastSeq()
		w, _ := l.Watermark()
		if w == last {
			println("child: synced", last)
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 4
}

func TestBrokerKilledMidDrain(t *testing.T) {
	mq := rig.StartMosquitto(t, &rig.MosquittoOptions{Persistence: true})
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: mq.URL()})
	l := openLedger(t, t.TempDir(), "t01")
	c, _ := runTill(t, l, fastOptions(mq.URL()))
	for i := range loops(2, 30) {
		appendSales(t, l, c, 2000)
		w, _ := l.Watermark()
		waitWatermarkAbove(t, l, w)
		mq.Kill()
		appendSales(t, l, c, 300) // sales go on while the broker is down
		mq.Start()
		waitSynced(t, l, c)
		t.Logf("cycle %d synced", i)
	}
	assertAllAtHQ(t, l, st)
}

func TestBrokerRestartedWithoutPersistence(t *testing.T) {
	mq := rig.StartMosquitto(t, &rig.MosquittoOptions{Persistence: false})
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: mq.URL()})
	l := openLedger(t, t.TempDir(), "t01")
	c, _ := runTill(t, l, fastOptions(mq.URL()))
	for range loops(2, 30) {
		appendSales(t, l, c, 2000)
		w, _ := l.Watermark()
		waitWatermarkAbove(t, l, w)
		mq.Kill() // forgets every retained ack, session and queued message
		mq.Start()
		appendSales(t, l, c, 100)
		waitSynced(t, l, c)
	}
	// Synced, then a broker that forgot the acks again: nothing is resent as new, and the
	// till goes on from its own watermark.
	mq.Kill()
	mq.Start()
	appendSales(t, l, c, 10)
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st)
}

func TestPathCutByProxy(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	px := rig.StartProxy(t, mq.Addr)
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: mq.URL()})
	l := openLedger(t, t.TempDir(), "t01")
	c, _ := runTill(t, l, fastOptions(px.URL()))
	for range loops(3, 50) {
		appendSales(t, l, c, 1500)
		w, _ := l.Watermark()
		waitWatermarkAbove(t, l, w)
		px.Cut()
		waitFor(t, 30*time.Second, "the till to notice the cut", func() bool { return !c.State().Online })
		appendSales(t, l, c, 200)
		px.Restore()
		waitSynced(t, l, c)
	}
	assertAllAtHQ(t, l, st)
}

func TestColdStartOfflineForLongThenDrain(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	px := rig.StartProxy(t, mq.Addr)
	px.Cut() // the till boots with no network
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: mq.URL()})
	l := openLedger(t, t.TempDir(), "t01")
	c, _ := runTill(t, l, fastOptions(px.URL()))
	appendSales(t, l, c, 500)
	waitFor(t, 30*time.Second, "the outage to be journaled", func() bool { return kinds(t, l)[journal.KindOfflineStart] == 1 })
	s := c.State()
	if s.Online || s.Watermark != 0 || s.Progress.Total != s.LastSeq || s.Progress.Acked != 0 {
		t.Fatalf("offline state = %+v", s)
	}
	px.Restore()
	waitSynced(t, l, c)
	k := kinds(t, l)
	if k[journal.KindOfflineStart] != 1 || k[journal.KindOfflineEnd] != 1 || k[journal.KindSale] != 500 {
		t.Fatalf("journal = %v, want one offline-start, one offline-end, 500 sales", k)
	}
	if s := c.State(); !s.Online {
		t.Fatalf("state after sync = %+v", s)
	}
	assertAllAtHQ(t, l, st)
}

func TestTillKilledMidDrain(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: mq.URL()})
	dir := t.TempDir()
	path := dir + "/t01.ledger"
	k := hq.TillKey{Store: "s042", Till: "t01"}
	till := func(appendN int) *rig.Proc {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "UPLINKTEST_TILL_LEDGER="+path, "UPLINKTEST_TILL_BROKER="+mq.URL(),
			"UPLINKTEST_TILL_APPEND="+strconv.Itoa(appendN))
		return rig.StartProc(t, "till", dir, cmd)
	}
	var total uint64
	for i := range loops(2, 20) {
		p := till(3000)
		before := total
		waitFor(t, 60*time.Second, "HQ to hold part of the drain", func() bool {
			th, _ := st.Through(context.Background(), k)
			return th > before+200
		})
		p.Kill() // kill -9 mid-drain, mid-append
		th, _ := st.Through(context.Background(), k)
		t.Logf("cycle %d: till killed with HQ through %d", i, th)
		total = th
	}
	p := till(0) // restarted: drains what is left, then exits 0
	if exited, err := p.Wait(90 * time.Second); !exited || err != nil {
		t.Fatalf("restarted till: exited %v, err %v\n%s", exited, err, rig.Tail(p.Log, 20))
	}
	l, err := ledger.Open(path, &ledger.Options{Store: "s042", Till: "t01"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Verify(); err != nil {
		t.Fatal(err)
	}
	assertAllAtHQ(t, l, st)
}

// buildTillhq builds the real tillhq binary once per test.
func buildTillhq(t *testing.T) string {
	return rig.Build(t, "tillbox/uplink/hq/cmd/tillhq", t.TempDir())
}

func TestTillhqKilledBetweenCommitAndAck(t *testing.T) {
	pg := rig.StartPostgres(t)
	mq := rig.StartMosquitto(t, nil)
	bin := buildTillhq(t)
	if out, err := exec.Command(bin, "migrate", "--store", pg.URL).CombinedOutput(); err != nil {
		t.Fatalf("tillhq migrate: %v\n%s", err, out)
	}
	st := pgHQ(t, pg)
	dir := t.TempDir()
	serve := func(fault bool) *rig.Proc {
		cmd := exec.Command(bin, "serve", "--insecure", "--broker", mq.URL(), "--store", pg.URL, "-v")
		cmd.Env = os.Environ()
		if fault {
			cmd.Env = append(cmd.Env, "TILLHQ_FAULT_KILL_AFTER_COMMIT=3")
		}
		return rig.StartProc(t, "tillhq", dir, cmd)
	}
	l := openLedger(t, t.TempDir(), "t01")
	c, _ := runTill(t, l, fastOptions(mq.URL()))
	k := hq.TillKey{Store: "s042", Till: "t01"}
	for i := range loops(2, 20) {
		p := serve(true)
		appendSales(t, l, c, 2000)
		if exited, _ := p.Wait(60 * time.Second); !exited {
			t.Fatal("tillhq did not reach its fault")
		}
		th, err := st.Through(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := l.Watermark()
		if th <= w {
			t.Fatalf("cycle %d: HQ through %d not ahead of the till's watermark %d: the kill missed the gap", i, th, w)
		}
		t.Logf("cycle %d: tillhq died with through %d committed, till watermark %d", i, th, w)
		p = serve(false)
		waitSynced(t, l, c)
		p.Stop(10 * time.Second)
	}
	assertAllAtHQ(t, l, st)
}

func TestSharedSubscriptionOneConsumerKilled(t *testing.T) {
	pg := rig.StartPostgres(t)
	mq := rig.StartMosquitto(t, nil)
	bin := buildTillhq(t)
	if out, err := exec.Command(bin, "migrate", "--store", pg.URL).CombinedOutput(); err != nil {
		t.Fatalf("tillhq migrate: %v\n%s", err, out)
	}
	st := pgHQ(t, pg)
	dir := t.TempDir()
	serve := func(name string) *rig.Proc {
		return rig.StartProc(t, name, dir, exec.Command(bin, "serve", "--insecure", "--broker", mq.URL(), "--store", pg.URL,
			"--share", "hq", "--client-id", name, "-v"))
	}
	a, b := serve("tillhq-a"), serve("tillhq-b")
	tills := []*ledger.Ledger{openLedger(t, t.TempDir(), "t01"), openLedger(t, t.TempDir(), "t02")}
	var clients []*uplink.Client
	for _, l := range tills {
		c, _ := runTill(t, l, fastOptions(mq.URL()))
		clients = append(clients, c)
	}
	for i := range loops(1, 10) {
		for j, l := range tills {
			appendSales(t, l, clients[j], 2000)
		}
		waitWatermarkAbove(t, tills[0], 0)
		if i%2 == 0 {
			a.Kill()
		} else {
			b.Kill()
		}
		for j, l := range tills {
			appendSales(t, l, clients[j], 200)
			waitSynced(t, l, clients[j])
		}
		if a.Exited() {
			a.Restart()
		}
		if b.Exited() {
			b.Restart()
		}
	}
	for i, l := range tills {
		assertAllAtHQ(t, l, st)
		s := clients[i].State()
		t.Logf("till %d: %d probes, %d resends, %d held messages, sent again %+v", i, s.Probes, s.Resends, s.Held, s.Again)
	}
}

// TestBrokerDropsTillHealsWithoutStorm: a small fleet's backlog reaches a broker whose
// queue toward HQ holds half of it, and HQ takes it in slower than the tills' resend
// timeout, so most tills' first ack comes later than that while their entries still wait
// at the broker, and the broker drops what does not fit. The tills must heal every drop
// (HQ holds every entry) without handing HQ their outstanding windows again while the
// first copies still wait: a till probes with its last entry, and sends again from the
// watermark only when HQ has answered a probe and still lacks entries. What HQ received
// twice stays within a bound that a timer resending the window exceeds.
func TestBrokerDropsTillHealsWithoutStorm(t *testing.T) {
	tills, entries := loops(20, 100), loops(100, 200)
	queue := tills * entries / 4 // per HQ connection, of 2
	mq := rig.StartMosquitto(t, &rig.MosquittoOptions{Extra: []string{fmt.Sprintf("max_queued_messages %d", queue),
		"max_inflight_messages 20", "sys_interval 1"}})
	dropped, stopSys := droppedWatch(t, mq.URL())
	defer stopSys()
	st := boltHQ(t)
	var dups atomic.Int64
	runHQ(t, st, hq.Options{Broker: mq.URL(), ClientID: "hq-slow", AfterCommit: func(r hq.Result) {
		dups.Add(int64(r.Duplicates))
		time.Sleep(50 * time.Millisecond) // at most 20 in flight per connection: a few hundred entries a second
	}})
	// ResendAfter shorter than a till's first entries wait at the broker.
	ls, cs := backloggedTills(t, mq.URL(), tills, entries, 500*time.Millisecond)
	var probes, resends uint64
	for i, l := range ls {
		waitSynced(t, l, cs[i])
		assertAllAtHQ(t, l, st)
		s := cs[i].State()
		probes += s.Probes
		resends += s.Resends
	}
	time.Sleep(1200 * time.Millisecond) // one more $SYS interval
	total := int64(tills * entries)
	t.Logf("broker dropped %d, HQ stored %d and received %d twice; the tills probed %d times and resent %d times",
		dropped(), total, dups.Load(), probes, resends)
	if dropped() == 0 || resends == 0 {
		t.Fatalf("the broker dropped %d and the tills resent %d times: the test did not test healing", dropped(), resends)
	}
	// A resend after an answered probe repeats what HQ held beyond the drop; a resend
	// timer repeats the window of every till whose ack is late.
	if dups.Load() > total/5 {
		t.Fatalf("HQ received %d entries twice for %d stored: a duplicate storm", dups.Load(), total)
	}
}

// TestProbeAnsweredWhileEntriesWaitElsewhere: two HQ consumers share the tills'
// messages (one shared subscription on one PostgreSQL), one of them far slower, so that
// a till's probe is taken in and answered by the fast one while half of the till's
// entries still wait at the broker for the slow one. Those entries are queued, not lost:
// the tills must not send them again as a window, and HQ must end with every entry once
// and receive few of them twice. A till that answered probe sends its window again from
// the watermark hands HQ a copy of every entry still queued.
func TestProbeAnsweredWhileEntriesWaitElsewhere(t *testing.T) {
	tills, entries := loops(10, 40), loops(60, 200)
	mq := rig.StartMosquitto(t, &rig.MosquittoOptions{Extra: []string{"max_inflight_messages 10"}})
	pg := rig.StartPostgres(t)
	st := pgHQ(t, pg)
	var dups, stored atomic.Int64
	count := func(r hq.Result) { dups.Add(int64(r.Duplicates)); stored.Add(int64(r.Stored)) }
	runHQ(t, st, hq.Options{Broker: mq.URL(), ClientID: "hq-fast", Share: "split", BatchMax: 10, AfterCommit: count})
	runHQ(t, st, hq.Options{Broker: mq.URL(), ClientID: "hq-slow", Share: "split", BatchMax: 10, AfterCommit: func(r hq.Result) {
		count(r)
		time.Sleep(400 * time.Millisecond) // at most 10 in flight, each commit 0.4 s: 25 entries a second
	}})
	// What a till of an earlier build reads: the ack topic, which must keep the form it
	// decodes (no held range there), whatever HQ sends on the held topic.
	var oldForm atomic.Value
	watch := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID("old-till-view"))
	if tok := watch.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer watch.Disconnect(100)
	if tok := watch.Subscribe("tillbox/v1/+/+/ack", 0, func(_ mqtt.Client, m mqtt.Message) {
		if a, err := wire.DecodeAckMessage(m.Payload()); len(m.Payload()) > 0 && err != nil {
			oldForm.Store(fmt.Sprintf("%s: %v", m.Payload(), err))
		} else if _, _, held := a.Held(); held {
			oldForm.Store(fmt.Sprintf("%s carries a held range", m.Payload()))
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	// What HQ says it holds: a count and a map with every range (a till's whole backlog
	// lies within wire.MaxHeldMap of its watermark), so that a till knows each entry HQ
	// lacks and sends no entry HQ holds but its probes.
	var unmapped atomic.Value
	if tok := watch.Subscribe("tillbox/v1/+/+/held", 1, func(_ mqtt.Client, m mqtt.Message) {
		a, err := wire.DecodeAckMessage(m.Payload())
		if h, ok := a.Holding(); err != nil || !ok || h.From != 0 && h.Map == nil {
			unmapped.Store(fmt.Sprintf("%s: %v", m.Payload(), err))
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	ls, cs := backloggedTills(t, mq.URL(), tills, entries, 300*time.Millisecond) // shorter than a slow commit
	var probes, resends uint64
	var again uplink.Again
	for i, l := range ls {
		waitSynced(t, l, cs[i])
		assertAllAtHQ(t, l, st)
		s := cs[i].State()
		probes += s.Probes
		resends += s.Resends
		again = addAgain(again, s.Again)
		t.Logf("till %d: %d probes, %d resends, %d held messages, sent again %+v", i, s.Probes, s.Resends, s.Held, s.Again)
	}
	total := int64(tills * entries)
	t.Logf("HQ stored %d of %d and received %d twice; the tills probed %d times, resent %d times, and sent again %+v",
		stored.Load(), total, dups.Load(), probes, resends, again)
	if probes == 0 {
		t.Fatalf("no till probed: the test did not test a probe answered while entries wait")
	}
	if v := oldForm.Load(); v != nil {
		t.Fatalf("an ack a till of an earlier build would refuse: %s", v)
	}
	if v := unmapped.Load(); v != nil {
		t.Fatalf("a held message that does not say which entries HQ holds: %s", v)
	}
	// The probes are copies by design, and so are the entries HQ lacked when a second
	// probe found its watermark where it was: they still waited on the slow consumer
	// (in one run before the held message: 352 copies with 62 probes and 12 windows sent
	// again from the watermark; with held_from the lowest entry of the batch, 154 with 85
	// probes and 185 entries sent again below it, most of them held). No window goes again
	// from the watermark, no range of which HQ did not say what it holds, and HQ receives
	// no other copy: none of an entry it held but the probes.
	if again.Answered > 0 || again.Blind > 0 {
		t.Fatalf("the tills sent %d entries again from the watermark and %d of ranges HQ did not map while their entries were queued",
			again.Answered, again.Blind)
	}
	if lacked := again.Gap + again.Long + again.Reconnect + again.Asked; dups.Load() > int64(again.Probe+lacked) {
		t.Fatalf("HQ received %d entries twice for %d stored, %d probe entries and %d entries it lacked sent again: the tills sent entries HQ held",
			dups.Load(), total, again.Probe, lacked)
	}
}

// backloggedTills journals entries sales on each of n tills (t00, t01, ...) while they are
// offline, then starts them all against broker with resendAfter.
func backloggedTills(t *testing.T, broker string, n, entries int, resendAfter time.Duration) ([]*ledger.Ledger, []*uplink.Client) {
	t.Helper()
	dir := ledgerDir(t)
	var ls []*ledger.Ledger
	var cs []*uplink.Client
	for i := range n {
		l := openLedger(t, dir, fmt.Sprintf("t%02d", i))
		appendSales(t, l, nil, entries)
		ls = append(ls, l)
	}
	for _, l := range ls {
		o := fastOptions(broker)
		o.ResendAfter = resendAfter
		c, _ := runTill(t, l, o)
		cs = append(cs, c)
	}
	return ls, cs
}
