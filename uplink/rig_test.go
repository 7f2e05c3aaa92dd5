package uplink_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
)

// soak reports whether the long loops were asked for.
func soak() bool { return os.Getenv("TILLBOX_SOAK") == "1" }

// loops is n, or long when TILLBOX_SOAK=1.
func loops(n, long int) int {
	if soak() {
		return long
	}
	return n
}

// The tills of these tests: see package rig.
var (
	fastOptions = rig.TillOptions
	runTill     = rig.RunTill
	waitSynced  = rig.WaitSynced
)

func openLedger(t *testing.T, dir, till string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(filepath.Join(dir, till+".ledger"), &ledger.Options{Store: "s042", Till: till})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// runHQ runs an in-process consumer over st until the returned stop is called.
func runHQ(t *testing.T, st hq.Store, o hq.Options) func() {
	t.Helper()
	if o.WaitTimeout == 0 {
		o.WaitTimeout = 3 * time.Second
	}
	if o.BackoffMax == 0 {
		o.BackoffMin, o.BackoffMax = 50*time.Millisecond, 400*time.Millisecond
	}
	cons, err := hq.NewConsumer(st, &o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cons.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Errorf("hq consumer did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func boltHQ(t *testing.T) hq.Store {
	t.Helper()
	st, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func pgHQ(t *testing.T, pg *rig.Postgres) hq.Store {
	t.Helper()
	ctx := context.Background()
	if err := hq.Migrate(ctx, pg.URL); err != nil {
		t.Fatal(err)
	}
	st, err := hq.OpenPostgres(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// appendSales commits n sales and tells the uplink.
func appendSales(t *testing.T, l *ledger.Ledger, c *uplink.Client, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := l.Append(rig.Sale(i)); err != nil {
			t.Fatal(err)
		}
		if c != nil && i%50 == 0 {
			c.Notify()
		}
	}
	if c != nil {
		c.Notify()
	}
}

// waitFor polls cond every 20ms for at most d. It is a bounded wait, not a timed
// assertion: the deadline only keeps a broken build from hanging.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitWatermarkAbove waits until the till is mid-drain: some, not necessarily all,
// entries acknowledged.
func waitWatermarkAbove(t *testing.T, l *ledger.Ledger, n uint64) {
	t.Helper()
	waitFor(t, 60*time.Second, "watermark above "+strconv.FormatUint(n, 10), func() bool {
		w, _ := l.Watermark()
		return w > n
	})
}

// assertAllAtHQ is the invariant every fault test ends with: every entry the till
// committed is in the HQ store exactly once, byte for byte, the chain verifies, and the
// till's watermark equals its last seq.
func assertAllAtHQ(t *testing.T, l *ledger.Ledger, st hq.Store) {
	t.Helper()
	ctx := context.Background()
	last, err := l.LastSeq()
	if err != nil {
		t.Fatal(err)
	}
	w, err := l.Watermark()
	if err != nil {
		t.Fatal(err)
	}
	if w != last {
		t.Fatalf("till watermark %d, last seq %d", w, last)
	}
	if last == 0 {
		t.Fatal("the till committed nothing: the test proves nothing")
	}
	k := hq.TillKey{Store: l.Store(), Till: l.Till()}
	through, err := st.Through(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if through != last {
		t.Fatalf("HQ through %d, till last seq %d", through, last)
	}
	want := map[uint64][]byte{}
	if err := l.After(0, 0, func(e *journal.Entry, raw []byte) bool { want[e.Seq] = bytes.Clone(raw); return true }); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]int{}
	err = st.Entries(ctx, k, 0, func(r hq.Record) error {
		seen[r.Seq]++
		if !bytes.Equal(r.Raw, want[r.Seq]) {
			return fmt.Errorf("seq %d stored at HQ differs from the till's entry", r.Seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= last; seq++ {
		if seen[seq] != 1 {
			t.Fatalf("seq %d is at HQ %d times, want exactly once", seq, seen[seq])
		}
	}
	if len(seen) != int(last) {
		t.Fatalf("HQ holds %d entries of the till, it committed %d", len(seen), last)
	}
	if n, err := hq.Check(ctx, st, k); err != nil || n != int(last) {
		t.Fatalf("HQ chain check: %d entries, %v", n, err)
	}
	t.Logf("invariant holds: %d entries at HQ exactly once, chain verified, watermark %d", last, w)
}

// kinds counts the ledger's entries by kind.
func kinds(t *testing.T, l *ledger.Ledger) map[journal.Kind]int {
	t.Helper()
	out := map[journal.Kind]int{}
	if err := l.After(0, 0, func(e *journal.Entry, _ []byte) bool { out[e.Kind]++; return true }); err != nil {
		t.Fatal(err)
	}
	return out
}
