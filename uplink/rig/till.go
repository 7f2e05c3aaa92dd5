package rig

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/uplink"
	"tillbox/uplink/identity"
	"tillbox/uplink/wire"
)

// TillOptions make a till's uplink react in test time: short backoff, resend and poll.
func TillOptions(broker string) *uplink.Options {
	return &uplink.Options{
		Broker: broker, BackoffMin: 50 * time.Millisecond, BackoffMax: 400 * time.Millisecond,
		ResendAfter: 2 * time.Second, WaitTimeout: 3 * time.Second, PollInterval: 50 * time.Millisecond,
		OfflineAfter: 300 * time.Millisecond, KeepAlive: 5 * time.Second, StatusInterval: time.Second,
	}
}

// RunTill runs the uplink of l with o until the test ends; the returned stop ends it
// sooner and waits for Run to return (at most 15s, or the test fails).
func RunTill(t testing.TB, l *ledger.Ledger, o *uplink.Options) (*uplink.Client, func()) {
	t.Helper()
	c, err := uplink.New(l, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("uplink Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("uplink Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

// WaitSynced waits, at most 90s, until l's watermark reaches its last seq. When it gives
// up it writes every goroutine's stack to uplink-stacks.txt in the temporary directory.
func WaitSynced(t testing.TB, l *ledger.Ledger, c *uplink.Client) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		last, err := l.LastSeq()
		if err != nil {
			t.Fatal(err)
		}
		w, err := l.Watermark()
		if err != nil {
			t.Fatal(err)
		}
		if w == last {
			return
		}
		if time.Now().After(deadline) {
			st := uplink.State{}
			if c != nil {
				st = c.State()
			}
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			os.WriteFile(filepath.Join(os.TempDir(), "uplink-stacks.txt"), buf[:n], 0o644)
			t.Fatalf("till not synced: watermark %d, last seq %d, state %+v", w, last, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NextEvent waits, at most 20s, for c's next event of kind; events of other kinds are
// passed over.
func NextEvent(t testing.TB, c *uplink.Client, kind string) wire.Event {
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

// SigningPublic is HQ's public signing key of ca, as a till is provisioned with it.
func SigningPublic(t testing.TB, ca *identity.CA) ed25519.PublicKey {
	t.Helper()
	pub, err := wire.ParsePublicKey(ca.SigningPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
