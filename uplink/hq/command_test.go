package hq_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/identity"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// signedTill runs a real till (ledger and uplink) at broker that knows HQ's key, with
// no consumer anywhere: only what the test sends it reaches it.
func signedTill(t *testing.T, broker, till string, sales int) (*ledger.Ledger, *uplink.Client, ed25519.PrivateKey) {
	t.Helper()
	ca, err := identity.InitCA(t.TempDir(), "test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(filepath.Join(t.TempDir(), till+".ledger"), &ledger.Options{Store: "s042", Till: till})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i := range sales {
		if _, err := l.Append(rig.Sale(i)); err != nil {
			t.Fatal(err)
		}
	}
	o := rig.TillOptions(broker)
	o.HQKey = rig.SigningPublic(t, ca)
	c, _ := rig.RunTill(t, l, o)
	deadline := time.Now().Add(20 * time.Second)
	for !c.State().Online {
		if time.Now().After(deadline) {
			t.Fatal("the till did not come online")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return l, c, ca.SigningKey()
}

// TestSendCommand: a signed command reaches a real till through a real Mosquitto and its
// result comes back; an unknown one is refused with the till's reason; an unsigned one
// the till ignores, so the wait ends with the context; bad input never reaches the broker.
func TestSendCommand(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	_, _, key := signedTill(t, mq.URL(), "t01", 3)
	o := hq.Options{Broker: mq.URL(), SignKey: key, WaitTimeout: 3 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	r, err := hq.SendCommand(ctx, o, hq.Command{Store: "s042", Till: "t01", Name: wire.CmdStatus, ID: "status-1"})
	if err != nil || !r.OK || r.ID != "status-1" || r.Repeated {
		t.Fatalf("status: %+v, %v", r, err)
	}
	if r, err := hq.SendCommand(ctx, o, hq.Command{Store: "s042", Till: "t01", Name: wire.CmdStatus, ID: "status-1"}); err != nil || !r.Repeated {
		t.Fatalf("the same id again: %+v, %v; want the remembered result", r, err)
	}
	r, err = hq.SendCommand(ctx, o, hq.Command{Store: "s042", Till: "t01", Name: "no-such-command"})
	if !errors.Is(err, hq.ErrRefused) || r.OK || r.Error == "" {
		t.Fatalf("unknown command: %+v, %v; want ErrRefused with the till's reason", r, err)
	}

	unsigned := o
	unsigned.SignKey = nil
	short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancelShort()
	if r, err := hq.SendCommand(short, unsigned, hq.Command{Store: "s042", Till: "t01", Name: wire.CmdStatus}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unsigned command: %+v, %v; want no result before the deadline", r, err)
	}

	for name, c := range map[string]hq.Command{
		"bad till":      {Store: "s042", Till: "t/1", Name: wire.CmdStatus},
		"no name":       {Store: "s042", Till: "t01"},
		"args not JSON": {Store: "s042", Till: "t01", Name: wire.CmdStatus, Args: []byte("{")},
	} {
		nowhere := hq.Options{Broker: "tcp://127.0.0.1:1", SignKey: key}
		if _, err := hq.SendCommand(ctx, nowhere, c); !errors.Is(err, wire.ErrInvalid) {
			t.Errorf("%s: %v, want wire.ErrInvalid before any connection", name, err)
		}
	}
	if _, err := hq.SendCommand(ctx, hq.Options{Broker: "tcp://127.0.0.1:1"}, hq.Command{Store: "s042", Till: "t01", Name: wire.CmdStatus}); err == nil {
		t.Fatal("a broker nobody listens on was reached")
	}
}

// TestPublishCatalogAndAcks: a signed catalog is applied by a till that knows HQ's key,
// an invalid one is not published; acks published after an import move the till's
// watermark, signed or not as HQ's key says.
func TestPublishCatalogAndAcks(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	l, c, key := signedTill(t, mq.URL(), "t02", 5)
	o := hq.Options{Broker: mq.URL(), SignKey: key}
	ctx := context.Background()

	h, err := wire.HashPIN("1234", []byte("0123456789"), wire.MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	cat := wire.Catalog{Store: "s042", Version: 7, Currency: "PLN", Taxes: []wire.Tax{{Code: "A", Rate: 2300}},
		Items:    []wire.Item{{Code: "100", Name: "Bread", Price: 499, Tax: "A"}},
		Cashiers: []wire.Cashier{{ID: "c1", Name: "Ann", PINHash: h, Role: wire.RoleCashier}}}
	bad := cat
	bad.Version, bad.Items = 8, []wire.Item{{Code: "100", Name: "Bread", Price: 499, Tax: "Z"}}
	if err := hq.PublishCatalog(ctx, o, bad); !errors.Is(err, wire.ErrInvalid) && !errors.Is(err, wire.ErrMissing) {
		t.Fatalf("invalid catalog: %v, want a validation error", err)
	}
	if err := hq.PublishCatalog(ctx, o, cat); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the till to apply catalog 7", func() bool { got := c.Catalog(); return got != nil && got.Version == 7 })

	// Unsigned acks: the till refuses them and its watermark stays.
	unsigned := o
	unsigned.SignKey = nil
	if err := hq.PublishAcks(ctx, unsigned, map[hq.TillKey]uint64{{Store: "s042", Till: "t02"}: 5}); err != nil {
		t.Fatal(err)
	}
	refused := false
	waitUntil(t, "the till to refuse the unsigned ack", func() bool {
		for {
			select {
			case e := <-c.Events():
				refused = refused || e.Kind == wire.EventAckRefused
			default:
				return refused
			}
		}
	})
	if w, _ := l.Watermark(); w != 0 {
		t.Fatalf("watermark %d after an unsigned ack, want 0", w)
	}
	if err := hq.PublishAcks(ctx, o, map[hq.TillKey]uint64{{Store: "s042", Till: "t02"}: 4, {Store: "s042", Till: "t09"}: 0}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "watermark 4", func() bool { w, _ := l.Watermark(); return w == 4 })
}

// waitUntil polls cond for at most 20s: a bound that keeps a broken build from hanging,
// not a timed assertion.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntilWithin(t, 20*time.Second, what, cond)
}

// waitUntilWithin is waitUntil with its own limit, for what a loaded machine slows down
// most (a cluster electing new leaders after a node died).
func waitUntilWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}
