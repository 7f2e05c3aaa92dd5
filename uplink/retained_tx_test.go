package uplink_test

import (
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/uplink/hq"
	"tillbox/uplink/wire"
)

// retainedOn subscribes c to topic and says whether the broker hands it a retained
// message within d (a broker sends what it retains at once on a subscribe).
func retainedOn(t *testing.T, c *rawClient, topic string, d time.Duration) bool {
	t.Helper()
	got := make(chan struct{}, 1)
	tok := c.cli.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		if m.Retained() && len(m.Payload()) > 0 {
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
	defer func() { c.cli.Unsubscribe(topic).WaitTimeout(5 * time.Second) }()
	select {
	case <-got:
		return true
	case <-time.After(d):
		return false
	}
}

// TestRetainedTxClearedAfterQuarantine: a tx published retained (a misbehaving publisher:
// here t01's own certificate) is quarantined as retained, and HQ clears it from the
// broker with an empty retained message, which the shipped ACL lets tillhq publish on tx
// topics: a later subscriber gets no retained tx, a restarted HQ quarantines nothing
// again, and the empty message is not quarantined as a malformed tx. The till's own
// sales are stored as usual.
func TestRetainedTxClearedAfterQuarantine(t *testing.T) {
	r := newFleetRig(t, "t01")
	topic := wire.Topics{}.Tx("s042", "t01")
	r.mustDial("s042-t01-retainer", r.tills["t01"].TLS).pub(topic, true, forged(t, "t01", 1))
	obs := r.mustDial("hq-observer", r.hqTLS)
	if !retainedOn(t, obs, topic, 5*time.Second) {
		t.Fatal("the broker holds no retained tx: nothing for the test to clear")
	}
	retained := func(st hq.Store) (n, other int) {
		for _, q := range quarantined(t, st) {
			if strings.HasPrefix(q.Reason, "retained") {
				n++
			} else {
				other++
			}
		}
		return n, other
	}
	st := boltHQ(t)
	stop := runHQ(t, st, hq.Options{Broker: r.url(), TLS: r.hqTLS, Keys: r.keys, SignKey: r.ca.SigningKey()})
	waitFor(t, 20*time.Second, "HQ to quarantine the retained tx", func() bool { n, _ := retained(st); return n > 0 })
	waitFor(t, 20*time.Second, "the broker to let the retained tx go", func() bool {
		return !retainedOn(t, obs, topic, time.Second)
	})

	l := signedLedger(t, r.tills["t01"], "t01")
	c, _ := runTill(t, l, r.tillOptions("t01"))
	appendSales(t, l, c, 5)
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st)
	// HQ again: it subscribes anew and finds nothing retained.
	stop()
	runHQ(t, st, hq.Options{Broker: r.url(), TLS: r.hqTLS, Keys: r.keys, SignKey: r.ca.SigningKey()})
	appendSales(t, l, c, 2)
	waitSynced(t, l, c)
	assertAllAtHQ(t, l, st)
	if n, other := retained(st); n != 1 || other != 0 {
		t.Errorf("quarantined %d retained and %d other messages, want 1 and 0: %+v", n, other, quarantined(t, st))
	}
}
