package uplink_test

import (
	"errors"
	"fmt"
	"testing"

	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
)

// TestBrokerListFailover: a till given two brokers, the first of which does not answer,
// syncs through the second; when that one dies too and only the first comes up, the till
// moves back to it and syncs the sales made meanwhile. Each broker has its own HQ over
// one store, as two nodes of a cluster reach one head office.
func TestBrokerListFailover(t *testing.T) {
	a := rig.StartMosquitto(t, nil)
	b := rig.StartMosquitto(t, nil)
	st := boltHQ(t)
	runHQ(t, st, hq.Options{Broker: a.URL(), ClientID: "hq-a"})
	runHQ(t, st, hq.Options{Broker: b.URL(), ClientID: "hq-b"})
	a.Kill()
	l := openLedger(t, t.TempDir(), "t01")
	c, _ := runTill(t, l, fastOptions(a.URL()+", "+b.URL()))
	appendSales(t, l, c, 300)
	waitSynced(t, l, c)
	b.Kill()
	appendSales(t, l, c, 200)
	a.Start()
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st)

	if _, err := uplink.New(l, &uplink.Options{Broker: fmt.Sprintf("%s,tcp://", a.URL())}); !errors.Is(err, uplink.ErrOptions) {
		t.Fatalf("a list with a URL without host: %v, want ErrOptions", err)
	}
}
