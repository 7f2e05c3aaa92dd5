package ledger

import (
	"context"
	"errors"
	bolt "go.etcd.io/bbolt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"tillbox/ledger/journal"
)

func TestVerifyRecentWalksOnlySinceTheCheckpoint(t *testing.T) {
	l := newLedger(t)
	for i := 0; i < 20; i++ {
		mustAppend(t, l, realisticSale(i))
	}
	rep, err := l.VerifyRecent()
	if err != nil || rep.From != 0 || rep.Entries != 20 || rep.LastSeq != 20 {
		t.Fatalf("first VerifyRecent: %+v, %v; want 20 entries from 0", rep, err)
	}
	if at, err := l.LastFullVerify(); err != nil || !at.IsZero() {
		t.Fatalf("VerifyRecent counted as a full pass: %v %v", at, err)
	}
	if _, err := l.VerifyInBackground(context.Background()); err != nil {
		t.Fatal(err)
	}
	if at, err := l.LastFullVerify(); err != nil || at.IsZero() || time.Since(at) > time.Minute {
		t.Fatalf("last full verify after a background pass: %v %v", at, err)
	}
	for i := 0; i < 5; i++ {
		mustAppend(t, l, realisticSale(i))
	}
	rep, err = l.VerifyRecent()
	if err != nil || rep.From != 20 || rep.Entries != 5 || rep.FirstSeq != 21 || rep.LastSeq != 25 {
		t.Fatalf("second VerifyRecent: %+v, %v; want 21..25 from the checkpoint at 20", rep, err)
	}
	if rep, err := l.VerifyRecent(); err != nil || rep.Entries != 0 || rep.LastSeq != 25 {
		t.Fatalf("VerifyRecent with nothing new: %+v, %v", rep, err)
	}
	path := l.Path()
	l.Close()

	// Damage before the checkpoint is not seen by VerifyRecent, by design, but by both
	// full passes; damage after it, or to the checkpoint's own entry, by VerifyRecent.
	editEntry(t, path, 3, func(e *journal.Entry) { e.Totals.Gross++ })
	l = reopen(t, path)
	for i := 0; i < 3; i++ {
		mustAppend(t, l, realisticSale(i))
	}
	if rep, err := l.VerifyRecent(); err != nil || rep.Entries != 3 {
		t.Fatalf("VerifyRecent after old damage: %+v, %v", rep, err)
	}
	var ve *VerifyError
	if _, err := l.Verify(); !errors.As(err, &ve) || ve.Seq != 3 || ve.Path != path {
		t.Fatalf("Verify: %v, want seq 3 in %s", err, path)
	}
	if _, err := l.VerifyInBackground(context.Background()); !errors.As(err, &ve) || ve.Seq != 3 {
		t.Fatalf("VerifyInBackground: %v, want seq 3", err)
	}
	mustAppend(t, l, realisticSale(99))
	l.Close()
	editEntry(t, path, 28, func(e *journal.Entry) { e.Cashier = "mallory"; e.Hash, _ = e.ComputeHash() })
	l = reopen(t, path)
	_, err = l.VerifyRecent()
	if !errors.As(err, &ve) || ve.Seq != 28 || !strings.Contains(ve.Reason, "checkpoint") || !strings.Contains(err.Error(), path) {
		t.Fatalf("VerifyRecent with the checkpoint's entry rehashed: %v", err)
	}
}

func reopen(t *testing.T, path string) *Ledger {
	t.Helper()
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestVerifyInBackgroundBesideAppendsAndPrunes runs the background pass in short read
// transactions while another goroutine appends, confirms and prunes; it must finish, pass,
// and move the checkpoint to where it ended.
func TestVerifyInBackgroundBesideAppendsAndPrunes(t *testing.T) {
	defer func(n int) { backgroundChunk = n }(backgroundChunk)
	backgroundChunk = 7
	l := newLedger(t)
	l.db.NoSync = true
	for i := 0; i < 300; i++ {
		mustAppend(t, l, realisticSale(i))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := l.Append(realisticSale(i))
			if err != nil {
				t.Error(err)
				return
			}
			if i%10 == 0 {
				l.Confirm(r.Entry.Seq - 50) // the pass always ends on a held entry
				if _, err := l.Prune(farFuture); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	rep, err := l.VerifyInBackground(context.Background())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries == 0 || rep.LastSeq < 300 {
		t.Fatalf("background pass: %+v", rep)
	}
	var cp uint64
	l.view("cp", func(tx *bolt.Tx) error { cp = getU64(tx.Bucket(bucketMeta), keyCheckSeq); return nil })
	if cp != rep.LastSeq {
		t.Fatalf("checkpoint %d, want %d where the pass ended", cp, rep.LastSeq)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.VerifyInBackground(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pass: %v", err)
	}
}

// TestReadOnlyVerifyKeepsTheCheckpoint: a technician's read-only verify changes nothing.
func TestReadOnlyVerifyKeepsTheCheckpoint(t *testing.T) {
	l := newLedger(t)
	mustAppend(t, l, realisticSale(1))
	path := l.Path()
	l.Close()
	before := readFile(t, path)
	ro := *testOpts()
	ro.ReadOnly = true
	l2, err := Open(path, &ro)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if _, err := l2.Verify(); err != nil {
		t.Fatal(err)
	}
	if _, err := l2.VerifyRecent(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("read-only verify changed the file")
	}
}
