package uplink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger/journal"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// rawClient is a plain MQTT client for publishing what a hostile or broken party would.
// It keeps order (its handlers only append), so that "the last status seen" means it.
type rawClient struct {
	t   *testing.T
	cli mqtt.Client
}

func dialRaw(t *testing.T, broker, id string) *rawClient {
	t.Helper()
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetOrderMatters(true).SetAutoReconnect(false))
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("raw client connect: %v", tok.Error())
	}
	t.Cleanup(func() { cli.Disconnect(100) })
	return &rawClient{t: t, cli: cli}
}

func (r *rawClient) pub(topic string, retained bool, p []byte) {
	r.t.Helper()
	if tok := r.cli.Publish(topic, 1, retained, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		r.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// collect subscribes to topic and returns a function giving the payloads received so far.
func (r *rawClient) collect(topic string) func() [][]byte {
	r.t.Helper()
	var mu sync.Mutex
	var got [][]byte
	tok := r.cli.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		got = append(got, bytes.Clone(m.Payload()))
		mu.Unlock()
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		r.t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
	return func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return append([][]byte(nil), got...)
	}
}

func quarantined(t *testing.T, st hq.Store) []hq.Quarantine {
	t.Helper()
	var out []hq.Quarantine
	if err := st.Quarantined(context.Background(), func(q hq.Quarantine) error { out = append(out, q); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// forged returns a self-consistent entry of s042/till at seq whose prev links to nothing.
func forged(t *testing.T, till string, seq uint64) []byte {
	t.Helper()
	e := rig.Sale(int(seq))
	e.V, e.Store, e.Till, e.Seq = 1, "s042", till, seq
	e.Receipt = journal.ReceiptNumber("S042-"+strings.ToUpper(till), seq)
	e.At = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Prev = strings.Repeat("ab", 32)
	h, err := e.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = h
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHostileInputAtHQ(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: mq.URL()})
	l := openLedger(t, t.TempDir(), "t01")
	c, _ := runTill(t, l, fastOptions(mq.URL()))
	appendSales(t, l, c, 100)
	waitSynced(t, l, c)

	tp := wire.Topics{}
	var first []byte
	l.After(0, 1, func(_ *journal.Entry, raw []byte) bool { first = bytes.Clone(raw); return false })
	// Another box claiming to be t01: its seq 1 differs from the real one.
	impostor := openLedger(t, t.TempDir(), "t01")
	res, err := impostor.Append(rig.Sale(999))
	if err != nil {
		t.Fatal(err)
	}
	bad := dialRaw(t, mq.URL(), "hostile")
	cases := []struct {
		name, topic string
		payload     []byte
		reason      string
	}{
		{"wrong till in payload", tp.Tx("s042", "t02"), first, "identity differs"},
		{"broken chain", tp.Tx("s042", "t01"), forged(t, "t01", 101), "broken chain"},
		{"oversized", tp.Tx("s042", "t01"), bytes.Repeat([]byte("x"), wire.MaxTxBytes+1), "too large"},
		{"not json", tp.Tx("s042", "t01"), []byte("DROP TABLE entries;"), "not valid JSON"},
		{"other version", tp.Tx("s042", "t01"), bytes.Replace(first, []byte(`"v":1`), []byte(`"v":9`), 1), "unknown payload version"},
		{"tampered", tp.Tx("s042", "t01"), bytes.Replace(first, []byte(`"cash"`), []byte(`"card"`), 1), "does not match"},
		{"conflict: same key, other hash", tp.Tx("s042", "t01"), res.Raw, "conflict"},
	}
	for _, tc := range cases {
		bad.pub(tc.topic, false, tc.payload)
	}
	// Replayed old entries: duplicates, not news.
	l.After(0, 20, func(_ *journal.Entry, raw []byte) bool {
		bad.pub(tp.Tx("s042", "t01"), false, bytes.Clone(raw))
		return true
	})

	// The till keeps working through all of it.
	appendSales(t, l, c, 50)
	waitSynced(t, l, c)
	waitFor(t, 30*time.Second, "every hostile message to be quarantined", func() bool { return len(quarantined(t, st)) >= len(cases) })
	qs := quarantined(t, st)
	for _, tc := range cases {
		found := false
		for _, q := range qs {
			if strings.Contains(q.Reason, tc.reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no quarantine with reason %q; have %d records", tc.name, tc.reason, len(qs))
		}
	}
	if len(qs) != len(cases) {
		for _, q := range qs {
			t.Logf("quarantine: %s", q.Reason)
		}
		t.Errorf("%d quarantined, want %d (replays are duplicates, not quarantine)", len(qs), len(cases))
	}
	if th, _ := st.Through(context.Background(), hq.TillKey{Store: "s042", Till: "t02"}); th != 0 {
		t.Errorf("t02 has through %d from a message that was t01's", th)
	}
	assertAllAtHQ(t, l, st)
}

func validCatalog(t *testing.T, version uint64) wire.Catalog {
	t.Helper()
	h, err := wire.HashPIN("1234", []byte("0123456789"), wire.MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	return wire.Catalog{Store: "s042", Version: version, Currency: "PLN",
		Taxes:    []wire.Tax{{Code: "A", Rate: 2300}, {Code: "B", Rate: 800}},
		Items:    []wire.Item{{Code: "100", Name: "Bread", Barcodes: []string{"5901234123457"}, Price: 499, Tax: "B"}},
		Cashiers: []wire.Cashier{{ID: "c1", Name: "Ann", PINHash: h, Role: wire.RoleCashier}},
	}
}

var nextEvent = rig.NextEvent

func TestCatalogAppliedOnlyWhenNewerAndValid(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	hqc := dialRaw(t, mq.URL(), "catalog-publisher")
	events := hqc.collect(wire.Topics{}.Event("s042", "t01"))
	l := openLedger(t, t.TempDir(), "t01")
	c, stop := runTill(t, l, fastOptions(mq.URL()))
	topic := wire.Topics{}.Catalog("s042")
	publish := func(cat wire.Catalog) {
		p, err := wire.EncodeCatalog(cat)
		if err != nil {
			t.Fatal(err)
		}
		hqc.pub(topic, true, p)
	}
	publish(validCatalog(t, 2))
	nextEvent(t, c, wire.EventCatalogApplied)
	if cat := c.Catalog(); cat == nil || cat.Version != 2 || cat.Item("100").Price != 499 {
		t.Fatalf("catalog in use = %+v", cat)
	}
	badPrice := validCatalog(t, 3)
	badPrice.Items[0].Price = -499
	publish(badPrice)
	if e := nextEvent(t, c, wire.EventCatalogRejected); !strings.Contains(e.Detail, "negative price") {
		t.Fatalf("rejection detail %q", e.Detail)
	}
	publish(validCatalog(t, 1))
	if e := nextEvent(t, c, wire.EventCatalogRejected); !strings.Contains(e.Detail, "older") {
		t.Fatalf("rejection detail %q", e.Detail)
	}
	hqc.pub(topic, true, []byte(`{"v":1,"store":"s042","version":9,"currency":"PLN","taxes":[],"items":[{"code":"1","name":"x","price":"free","tax":"A"}],"cashiers":[]}`))
	nextEvent(t, c, wire.EventCatalogRejected)
	if cat := c.Catalog(); cat.Version != 2 || cat.Item("100").Price != 499 {
		t.Fatalf("catalog in use after rejections = %+v, want version 2 kept", cat)
	}
	// Selling and syncing go on.
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: mq.URL()})
	appendSales(t, l, c, 20)
	waitSynced(t, l, c)
	waitFor(t, 20*time.Second, "rejections published to the fleet", func() bool { return len(events()) >= 3 })

	// The catalog in use survives a restart of the till: it is in the ledger.
	stop()
	c2, _ := runTill(t, l, fastOptions(mq.URL()))
	if cat := c2.Catalog(); cat == nil || cat.Version != 2 {
		t.Fatalf("catalog after restart = %+v", cat)
	}
	publish(validCatalog(t, 4))
	nextEvent(t, c2, wire.EventCatalogApplied)
	if c2.Catalog().Version != 4 || c2.State().Catalog != 4 {
		t.Fatalf("catalog = %d, state %+v", c2.Catalog().Version, c2.State())
	}
}

func TestCommandsAnsweredOnceByID(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	fleet := dialRaw(t, mq.URL(), "fleet")
	tp := wire.Topics{}
	results := fleet.collect(tp.CmdResult("s042", "t01"))
	status := fleet.collect(tp.Status("s042", "t01"))
	l := openLedger(t, t.TempDir(), "t01")
	var runs atomic.Int32
	o := fastOptions(mq.URL())
	o.Info = func() uplink.Info {
		return uplink.Info{Version: "1.2.3", Board: "sim", Devices: []wire.Device{{Name: "printer", State: "paper-out"}}}
	}
	o.Commands = map[string]uplink.CommandFunc{"update": func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
		runs.Add(1)
		return json.RawMessage(`{"slot":"b"}`), nil
	}}
	c, _ := runTill(t, l, o)
	waitFor(t, 20*time.Second, "online", func() bool { return c.State().Online })
	send := func(id, name string) {
		p, err := wire.EncodeCmd(wire.Cmd{ID: id, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		fleet.pub(tp.Cmd("s042", "t01"), false, p)
	}
	send("u-1", "update")
	send("u-1", "update")
	send("s-1", wire.CmdStatus)
	send("x-1", "reboot-into-the-sun")
	send("n-1", wire.CmdSyncNow)
	send("r-1", wire.CmdReloadCatalog)
	fleet.pub(tp.Cmd("s042", "t01"), false, []byte(`{"v":1,"name":"status"}`)) // no id: refused
	waitFor(t, 20*time.Second, "six results", func() bool { return len(results()) >= 6 })
	byID := map[string][]wire.CmdResult{}
	for _, p := range results() {
		r, err := wire.DecodeCmdResult(p)
		if err != nil {
			t.Fatal(err)
		}
		byID[r.ID] = append(byID[r.ID], r)
	}
	if runs.Load() != 1 {
		t.Errorf("update ran %d times, want once", runs.Load())
	}
	u := byID["u-1"]
	if len(u) != 2 || !u[0].OK || u[0].Repeated || !u[1].Repeated || string(u[1].Result) != `{"slot":"b"}` {
		t.Errorf("update results = %+v", u)
	}
	if r := byID["r-1"]; len(r) != 1 || !r[0].OK {
		t.Errorf("reload-catalog result = %+v", r)
	}
	if r := byID["x-1"]; len(r) != 1 || r[0].OK || !strings.Contains(r[0].Error, "unknown command") {
		t.Errorf("unknown command result = %+v", r)
	}
	if r := byID["s-1"]; len(r) != 1 || !r[0].OK || !strings.Contains(string(r[0].Result), `"paper-out"`) {
		t.Errorf("status result = %+v", r)
	}
	ss := status()
	if len(ss) == 0 {
		t.Fatal("no retained status")
	}
	s, err := wire.DecodeStatus(ss[len(ss)-1])
	if err != nil || s.State != wire.StateOnline || s.Version != "1.2.3" || s.Board != "sim" || s.FreeDiskBytes <= 0 {
		t.Errorf("status = %+v, %v", s, err)
	}
}

func TestLastWillSaysLost(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	px := rig.StartProxy(t, mq.Addr)
	fleet := dialRaw(t, mq.URL(), "fleet")
	l := openLedger(t, t.TempDir(), "t01")
	o := fastOptions(px.URL())
	o.KeepAlive = time.Second
	c, _ := runTill(t, l, o)
	waitFor(t, 20*time.Second, "online", func() bool { return c.State().Online })
	status := fleet.collect(wire.Topics{}.Status("s042", "t01"))
	px.Cut() // the till vanishes without a goodbye: the broker publishes its will
	defer func() {
		if !t.Failed() {
			return
		}
		for _, p := range status() {
			t.Logf("status seen: %s", p)
		}
	}()
	waitFor(t, 30*time.Second, "the will", func() bool {
		ss := status()
		return len(ss) > 0 && bytes.Equal(ss[len(ss)-1], wire.LostWill())
	})
	px.Restore()
	waitFor(t, 30*time.Second, "online again", func() bool {
		ss := status()
		s, err := wire.DecodeStatus(ss[len(ss)-1])
		return err == nil && s.State == wire.StateOnline
	})
}

// TestForgedAckDoesNotMoveTheWatermark: an ack beyond the ledger's end (another box with
// this till id, a restored HQ) raises an integrity event and moves nothing; the real
// acks that follow still work. Acks that are not JSON are ignored.
func TestForgedAckDoesNotMoveTheWatermark(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	l := openLedger(t, t.TempDir(), "t01")
	c, _ := runTill(t, l, fastOptions(mq.URL()))
	waitFor(t, 20*time.Second, "online", func() bool { return c.State().Online })
	appendSales(t, l, c, 10)
	forger := dialRaw(t, mq.URL(), "forger")
	forger.pub(wire.Topics{}.Ack("s042", "t01"), true, []byte("not an ack"))
	forger.pub(wire.Topics{}.Ack("s042", "t01"), true, wire.EncodeAck(999_999))
	if e := nextEvent(t, c, wire.EventIntegrityError); !strings.Contains(e.Detail, "999999") {
		t.Fatalf("event detail %q", e.Detail)
	}
	if w, _ := l.Watermark(); w != 0 {
		t.Fatalf("watermark moved to %d on a forged ack", w)
	}
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: mq.URL()})
	c.SyncNow()
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st)
}
