package hq_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"tillbox/uplink/hq"
	"tillbox/uplink/mqttconn"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// TestConsumerSessionKeepsTheBrokersQueue: a consumer with its own client id keeps a
// persistent session. Its connection is cut, a till's entries are published once each
// while it is away (no till resends them), and once the path is back every one of them
// is stored and the till's watermark reaches the last: the broker kept them for the
// consumer's session. A clean session would have lost them to the till's resend timer.
// The same with two connections on one shared subscription.
func TestConsumerSessionKeepsTheBrokersQueue(t *testing.T) {
	for _, conns := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d connections", conns), func(t *testing.T) { keepsTheQueue(t, conns) })
	}
}

func keepsTheQueue(t *testing.T, conns int) {
	const n = 300
	_, txs := tillEntries(t, "t01", n)
	mq := rig.StartMosquitto(t, nil)
	px := rig.StartProxy(t, mq.Addr)
	st, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cons, err := hq.NewConsumer(st, &hq.Options{Broker: px.URL(), ClientID: "tillhq-test", WaitTimeout: 2 * time.Second,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond, Connections: conns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	defer func() { cancel(); <-done }()

	till, err := mqttconn.Connect(mqttconn.Session{Kind: mqttconn.Brief, Broker: mq.URL(), ClientID: "s042-t01"})
	if err != nil {
		t.Fatal(err)
	}
	defer till.Disconnect(100)
	topic := wire.Topics{Prefix: wire.DefaultPrefix}.Tx("s042", "t01")
	publish := func(tx wire.Tx) {
		t.Helper()
		if err := mqttconn.Wait(till.Publish(topic, 1, false, tx.Raw), 0, "publish"); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(want uint64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); cons.Stats().Stored < want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("HQ stored %d of %d entries", cons.Stats().Stored, want)
			}
		}
	}
	// The first entry shows the consumer subscribed.
	for deadline := time.Now().Add(30 * time.Second); cons.Stats().Stored == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the consumer never stored the first entry")
		}
		publish(txs[0])
	}

	px.Cut()
	for _, tx := range txs[1:] {
		publish(tx)
	}
	px.Restore()
	stored(n)
	tills, err := st.Tills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tills) != 1 || tills[0].Through != n {
		t.Fatalf("watermarks %+v, want s042/t01 through %d", tills, n)
	}
}

// TestAcksWhileBusy: while a backlog waits, a till's ack within a second of its last one
// is held back, unless its watermark moved AckStride beyond the last one published (a
// till draining its own backlog must not wait for its window to empty); once the backlog
// is gone every held ack goes out.
func TestAcksWhileBusy(t *testing.T) {
	cons, err := hq.NewConsumer(nil, &hq.Options{Broker: "tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := hq.TillKey{Store: "s1", Till: "a"}, hq.TillKey{Store: "s1", Till: "b"}
	steps := []struct {
		through map[hq.TillKey]uint64
		busy    bool
		want    map[hq.TillKey]uint64
	}{
		{map[hq.TillKey]uint64{a: 10, b: 3}, true, map[hq.TillKey]uint64{a: 10, b: 3}}, // the first of each goes out
		{map[hq.TillKey]uint64{a: 50, b: 4}, true, map[hq.TillKey]uint64{}},            // held back
		{map[hq.TillKey]uint64{a: 10 + hq.AckStride}, true, map[hq.TillKey]uint64{a: 10 + hq.AckStride}},
		{map[hq.TillKey]uint64{a: 20 + hq.AckStride}, true, map[hq.TillKey]uint64{}},
		{map[hq.TillKey]uint64{}, false, map[hq.TillKey]uint64{a: 20 + hq.AckStride, b: 4}}, // the backlog is gone
	}
	for i, s := range steps {
		got := cons.AcksDue(s.through, s.busy)
		if fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Fatalf("step %d: acks %v, want %v", i, got, s.want)
		}
	}
}
