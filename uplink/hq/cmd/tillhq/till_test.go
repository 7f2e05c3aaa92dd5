package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/uplink"
	"tillbox/uplink/identity"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// The tills the binary's tests run against tillhq: a real ledger and uplink each.

// buildTillhq builds this command's binary for a test.
func buildTillhq(t *testing.T) string {
	return rig.Build(t, "tillbox/uplink/hq/cmd/tillhq", t.TempDir())
}

// fastOptions make the till react in test time: short backoff, resend and poll.
func fastOptions(broker string) *uplink.Options {
	return &uplink.Options{
		Broker: broker, BackoffMin: 50 * time.Millisecond, BackoffMax: 400 * time.Millisecond,
		ResendAfter: 2 * time.Second, WaitTimeout: 3 * time.Second, PollInterval: 50 * time.Millisecond,
		OfflineAfter: 300 * time.Millisecond, KeepAlive: 5 * time.Second, StatusInterval: time.Second,
	}
}

// runTill starts the uplink for l; the returned stop ends it and waits for Run to return.
func runTill(t *testing.T, l *ledger.Ledger, o *uplink.Options) (*uplink.Client, func()) {
	t.Helper()
	c, err := uplink.New(l, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("uplink Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("uplink Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return c, stop
}

// appendSales commits n sales and, when c is not nil, tells its uplink.
func appendSales(t *testing.T, l *ledger.Ledger, c *uplink.Client, n int) {
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

// waitFor polls cond every 20ms for at most d: a bound that keeps a broken build from
// hanging, not a timed assertion.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", d, what)
		}
	}
}

// waitSynced waits until the till's watermark reaches its last seq.
func waitSynced(t *testing.T, l *ledger.Ledger, c *uplink.Client) {
	t.Helper()
	waitFor(t, 90*time.Second, "the till to sync", func() bool {
		last, err := l.LastSeq()
		if err != nil {
			t.Fatal(err)
		}
		w, err := l.Watermark()
		if err != nil {
			t.Fatal(err)
		}
		return w == last
	})
}

// nextEvent waits for the till's next event of kind.
func nextEvent(t *testing.T, c *uplink.Client, kind string) wire.Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-c.Events():
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", kind)
		}
	}
}

func hqPublic(t *testing.T, ca *identity.CA) ed25519.PublicKey {
	t.Helper()
	pub, err := wire.ParsePublicKey(ca.SigningPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
