package uplink_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// shippedMaxPacketSize is max_packet_size of scripts/mosquitto/tillbox.conf.
func shippedMaxPacketSize(t *testing.T) int {
	t.Helper()
	conf, err := os.ReadFile("../scripts/mosquitto/tillbox.conf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^max_packet_size (\d+)$`).FindSubmatch(conf)
	if m == nil {
		t.Fatal("the shipped configuration sets no max_packet_size")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestOversizedPayloadsRefused runs a till and HQ (on PostgreSQL) through the shipped TLS
// configuration, then has a client with the till's own certificate publish on its own tx
// topic: 10 MB, over the broker's max_packet_size, is refused by the broker, which cuts the
// connection and logs why; HQ sees nothing of it and stays up. A payload just under the
// broker's limit but over the wire contract's (wire.MaxTxBytes) reaches HQ, which refuses
// it with the size and the limit, keeps its clipped start in the quarantine, counts it
// against the till's bound and raises a refused event and alert. Nothing of either is
// stored or shown as an entry, and the till's own entries are stored after each.
func TestOversizedPayloadsRefused(t *testing.T) {
	limit := shippedMaxPacketSize(t)
	topic := wire.Topics{}.Tx("s042", "t01")
	// The limit admits the largest message, a catalog (its topic and header in 1 KiB),
	// and refuses 10 MB.
	if limit < wire.MaxCatalogBytes+len(wire.Topics{}.Catalog("s042"))+9 || limit >= 10_000_000 {
		t.Fatalf("max_packet_size %d: want room for a catalog of %d bytes and less than 10 MB", limit, wire.MaxCatalogBytes)
	}
	r := newFleetRig(t, "t01")
	st := pgHQ(t, rig.StartPostgres(t))
	view := hq.NewFleetView("")
	var mu sync.Mutex
	var refused []hq.Finding
	runHQ(t, st, hq.Options{Broker: r.url(), TLS: r.hqTLS, Keys: r.keys, SignKey: r.ca.SigningKey(),
		AfterCommit: func(res hq.Result) { // as tillhq serve records them
			mu.Lock()
			refused = append(refused, res.Refused...)
			mu.Unlock()
			for _, f := range res.Refused {
				view.RecordRefused(f)
			}
		}})
	wctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go hq.WatchFleet(wctx, hq.Options{Broker: r.url(), TLS: r.hqTLS, ClientID: "tillhq-fleet"}, view, nil)
	l := signedLedger(t, r.tills["t01"], "t01")
	c, stop := runTill(t, l, r.tillOptions("t01"))
	defer stop()
	appendSales(t, l, c, 3)
	waitSynced(t, l, c)
	ctx := context.Background()
	k := hq.TillKey{Store: "s042", Till: "t01"}

	// 10 MB with the till's certificate on its own topic: the broker drops the client.
	lost := make(chan error, 1)
	big := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(r.url()).SetClientID("s042-t01-big").SetTLSConfig(r.tills["t01"].TLS).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err }))
	if tok := big.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	tok := big.Publish(topic, 1, false, bytes.Repeat([]byte("x"), 10_000_000))
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("the broker kept the client that sent 10 MB")
	}
	if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		t.Fatal("the broker acknowledged 10 MB")
	}
	log := filepath.Join(r.mq.Dir(), "mosquitto.log")
	refusal := regexp.MustCompile(`.*Client s042-t01-big disconnected due to oversize packet.*`)
	waitFor(t, 10*time.Second, "the broker to log the refusal", func() bool {
		b, _ := os.ReadFile(log)
		if m := refusal.Find(b); m != nil {
			t.Logf("the broker logged: %s", m)
			return true
		}
		return false
	})
	// HQ is up and stores the till's next sales; nothing of the 10 MB reached it.
	appendSales(t, l, c, 2)
	waitSynced(t, l, c)
	if q := quarantined(t, st); len(q) != 0 {
		t.Fatalf("HQ quarantined %d messages of a payload the broker refused: %+v", len(q), q[0].Reason)
	}

	// Just under the broker's limit, over HQ's own: HQ refuses it with why.
	under := limit - len(topic) - 64
	if under <= wire.MaxTxBytes {
		t.Fatalf("a payload of %d bytes is not over wire.MaxTxBytes", under)
	}
	near := r.mustDial("s042-t01-near", r.tills["t01"].TLS)
	near.pub(topic, false, append(append([]byte(`{"v":1,"store":"s042","till":"t01","pad":"`), bytes.Repeat([]byte("y"), under-48)...), `"}`...))
	var q []hq.Quarantine
	waitFor(t, 30*time.Second, "HQ to refuse the payload over its limit", func() bool { q = quarantined(t, st); return len(q) > 0 })
	want := "payload too large: " + strconv.Itoa(under-48+len(`{"v":1,"store":"s042","till":"t01","pad":"`)+2) + " bytes, limit " + strconv.Itoa(wire.MaxTxBytes)
	if len(q) != 1 || !strings.Contains(q[0].Reason, want) || q[0].Store != "s042" || q[0].Till != "t01" ||
		len(q[0].Payload) != hq.MaxQuarantinePayload || hq.QuarantineKind(q[0]) != hq.QuarantineTooLarge {
		t.Fatalf("quarantine: %d records, first %q (%d bytes kept); want one of t01 saying %q with %d bytes kept",
			len(q), q[0].Reason, len(q[0].Payload), want, hq.MaxQuarantinePayload)
	}
	bounds, err := hq.QuarantineBounds(ctx, st)
	if err != nil || len(bounds) != 1 || bounds[0].Kind != hq.QuarantineTooLarge || bounds[0].Records != 1 || bounds[0].Dropped != 0 {
		t.Fatalf("the bound counted %+v, %v", bounds, err)
	}
	th := hq.DefaultThresholds()
	waitFor(t, 10*time.Second, "the till's refused alert", func() bool {
		for _, ts := range view.Tills() {
			for _, a := range th.Alerts(ts, time.Now()) {
				if ts.TillKey == k && a.Kind == hq.AlertRefused {
					return true
				}
			}
		}
		return false
	})
	mu.Lock()
	nRefused := len(refused)
	mu.Unlock()
	if nRefused != 1 {
		t.Fatalf("HQ raised %d refusals, want 1", nRefused)
	}
	if ev := view.Events(); len(ev) == 0 || ev[0].Event.Kind != "refused" || !strings.Contains(ev[0].Event.Detail, want) {
		t.Fatalf("events: %+v", ev)
	}
	// Nothing of it is an entry; the till's own entries go on being stored.
	appendSales(t, l, c, 2)
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st)
	if n, err := hq.Check(ctx, st, k); err != nil || n != 7 {
		t.Fatalf("check: %d, %v", n, err)
	}
}
