package main

import (
	"os"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/uplink"
	"tillbox/uplink/rig"
)

// buildTillhq builds this command's binary for a test.
func buildTillhq(t *testing.T) string {
	return rig.Build(t, "tillbox/uplink/hq/cmd/tillhq", t.TempDir())
}

// The tills these tests run against tillhq, a real ledger and uplink each: see package rig.
var (
	fastOptions = rig.TillOptions
	runTill     = rig.RunTill
	waitSynced  = rig.WaitSynced
	nextEvent   = rig.NextEvent
	hqPublic    = rig.SigningPublic
)

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

// exportTo writes l's USB-stick export to name and returns name.
func exportTo(t *testing.T, l *ledger.Ledger, name string) string {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := l.Export(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return name
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
