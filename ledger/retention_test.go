package ledger

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"tillbox/ledger/journal"
)

// dayLedger holds one sale per day from day 1 (At noon), the first n acknowledged.
func dayLedger(t *testing.T, days, acked int) (*Ledger, func(int) time.Time) {
	t.Helper()
	l := newLedger(t)
	l.db.NoSync = true
	day := func(d int) time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, d-1) }
	for d := 1; d <= days; d++ {
		e := realisticSale(d)
		e.At = day(d)
		mustAppend(t, l, e)
	}
	if acked > 0 {
		if _, err := l.Confirm(uint64(acked)); err != nil {
			t.Fatal(err)
		}
	}
	return l, day
}

func TestRetainPrunesAcknowledgedOlderThanThePeriodAndKeepsTheRefundWindow(t *testing.T) {
	l, day := dayLedger(t, 100, 90)
	now := day(101)
	rep, err := l.Retain(context.Background(), now, Retention{Keep: 30 * 24 * time.Hour, RefundWindow: 14 * 24 * time.Hour, Batch: 7})
	// Kept: the last 30 days (71..100); pruned: 1..70, all acknowledged.
	if err != nil || rep.Pruned != 70 || rep.Base != 70 || rep.LowDisk {
		t.Fatalf("retain: %+v, %v; want 70 pruned in batches of 7", rep, err)
	}
	if _, err := l.Get(70); !errors.Is(err, ErrNotFound) {
		t.Fatalf("seq 70 kept: %v", err)
	}
	if e, err := l.Get(71); err != nil || !e.At.Equal(day(71)) {
		t.Fatalf("seq 71 (within the period) lost: %v", err)
	}
	if rep, err := l.Verify(); err != nil || rep.FirstSeq != 71 {
		t.Fatalf("chain across the cut: %+v, %v", rep, err)
	}
	// Low disk: everything acknowledged outside the refund window goes, nothing else.
	rep, err = l.Retain(context.Background(), now, Retention{Keep: 30 * 24 * time.Hour, RefundWindow: 14 * 24 * time.Hour, LowDiskBytes: math.MaxUint64})
	if err != nil || !rep.LowDisk || rep.Base != 86 || rep.FreeDisk == 0 {
		t.Fatalf("low-disk retain: %+v, %v; want base 86 (day 87 on is in the refund window)", rep, err)
	}
	receipt := journal.ReceiptNumber(l.Prefix(), 87)
	if e, err := l.ByReceipt(receipt); err != nil || e.Seq != 87 {
		t.Fatalf("receipt %s in the refund window not found: %v", receipt, err)
	}
	// Even a zero refund window on a low disk never prunes what HQ has not acknowledged.
	rep, err = l.Retain(context.Background(), day(200), Retention{LowDiskBytes: math.MaxUint64})
	if err != nil || rep.Base != 90 {
		t.Fatalf("retain at the watermark: %+v, %v; want base 90", rep, err)
	}
	for s := uint64(91); s <= 100; s++ {
		if _, err := l.Get(s); err != nil {
			t.Fatalf("unacknowledged seq %d pruned: %v", s, err)
		}
	}
	if rep, err := l.Retain(context.Background(), now, Retention{}); err != nil || rep.Pruned != 0 {
		t.Fatalf("no policy: %+v, %v", rep, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Confirm(100)
	if _, err := l.Retain(ctx, day(200), Retention{Keep: time.Hour}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled retain: %v", err)
	}
}

func TestCompactGivesBackPrunedSpaceAndKeepsEverything(t *testing.T) {
	l, day := dayLedger(t, 3000, 2900)
	mustAppend(t, l, realisticSale(1), StockDelta("1001", -1000), PrintJob([]byte(`{"t":1}`)), Put("parked", "p1", []byte("x")))
	if need, _, err := l.NeedsCompaction(CompactPolicy{MinFreeBytes: 1}); err != nil || need {
		t.Fatalf("needs compaction before any prune: %v %v", need, err)
	}
	if _, err := l.Prune(day(2800)); err != nil {
		t.Fatal(err)
	}
	need, sp, err := l.NeedsCompaction(CompactPolicy{MinFreeBytes: 1})
	if err != nil || !need {
		t.Fatalf("after pruning 93%%: needs=%v %+v %v", need, sp, err)
	}
	want, _ := l.Stats()
	before, after, err := l.Compact()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compact: %d -> %d bytes (%d in use before)", before.FileBytes, after.FileBytes, before.UsedBytes)
	if after.FileBytes > before.FileBytes/4 || fileSize(t, l.Path()) != after.FileBytes {
		t.Fatalf("compaction left %d of %d bytes", after.FileBytes, before.FileBytes)
	}
	got, _ := l.Stats()
	got.FileBytes, want.FileBytes = 0, 0
	if got != want {
		t.Fatalf("stats after compaction %+v, want %+v", got, want)
	}
	if rep, err := l.Verify(); err != nil || rep.FirstSeq != 2800 || rep.LastSeq != 3001 {
		t.Fatalf("verify after compaction: %+v, %v", rep, err)
	}
	if q, _ := l.Stock("1001"); q != -1000 {
		t.Fatalf("stock after compaction: %d", q)
	}
	if j, _ := l.Jobs(); len(j) != 1 {
		t.Fatalf("jobs after compaction: %v", j)
	}
	if v, err := l.Record("parked", "p1"); err != nil || string(v) != "x" {
		t.Fatalf("record after compaction: %q %v", v, err)
	}
	if r := mustAppend(t, l, realisticSale(2)); r.Entry.Seq != 3002 {
		t.Fatalf("append after compaction: seq %d", r.Entry.Seq)
	}
	path := l.Path()
	l.Close()
	l = reopen(t, path)
	if _, err := l.Verify(); err != nil {
		t.Fatal(err)
	}
	if l.Rollback() != nil {
		t.Fatal(l.Rollback())
	}
	if _, err := os.Stat(compactPath(path)); !os.IsNotExist(err) {
		t.Fatalf("compaction copy left behind: %v", err)
	}
}

func TestStaleCompactionCopyIsRemovedAndTheLedgerKept(t *testing.T) {
	l := newLedger(t)
	mustAppend(t, l, realisticSale(1))
	path := l.Path()
	l.Close()
	os.WriteFile(compactPath(path), []byte("half a copy"), 0o600) // cut before the rename
	l = reopen(t, path)
	if _, err := os.Stat(compactPath(path)); !os.IsNotExist(err) {
		t.Fatalf("stale copy kept: %v", err)
	}
	if last, _ := l.LastSeq(); last != 1 {
		t.Fatalf("ledger after a cut compaction: last seq %d", last)
	}
}

// TestSizeLimitIsReportedNeverAsCorruption grows a ledger under a small artificial limit:
// Limit reports ErrNearLimit from 75%, commits then fail with ErrTooLarge (nothing of them
// visible), and an open of a file over the limit says ErrTooLarge, not ErrCorrupt. On
// GOARCH=arm it also opens a file over the real 2 GiB limit (sparse, so it costs nothing).
func TestSizeLimitIsReportedNeverAsCorruption(t *testing.T) {
	switch strconv.IntSize {
	case 32:
		if PlatformMaxBytes != math.MaxInt32 {
			t.Fatalf("32-bit limit %d, want %d", PlatformMaxBytes, math.MaxInt32)
		}
	default:
		if PlatformMaxBytes < 1<<40 {
			t.Fatalf("64-bit limit %d", PlatformMaxBytes)
		}
	}
	if platformMax(32) != 1<<31-1 {
		t.Fatalf("armv7 limit computed as %d", platformMax(32))
	}
	t.Logf("%s/%s: ledger limit %d bytes", runtime.GOOS, runtime.GOARCH, PlatformMaxBytes)

	path := filepath.Join(t.TempDir(), "till.ledger")
	o := *testOpts()
	o.MaxBytes = 5 << 20 // bbolt grows a small file by doubling: it stops at 4 MiB (80%)
	l, err := Open(path, &o)
	if err != nil {
		t.Fatal(err)
	}
	l.db.NoSync = true
	var nearAt, last uint64
	var full error
	for i := 0; i < 20000 && full == nil; i++ {
		r, err := l.Append(realisticSale(i))
		if err != nil {
			full = err
			break
		}
		last = r.Entry.Seq
		if _, err := l.Limit(); errors.Is(err, ErrNearLimit) && nearAt == 0 {
			nearAt = last
			wantErrContains(t, err, path, "near its size limit")
		}
	}
	if !errors.Is(full, ErrTooLarge) || errors.Is(full, ErrCorrupt) || errors.Is(full, ErrDiskFull) {
		t.Fatalf("append at the limit: %v, want ErrTooLarge", full)
	}
	wantErrContains(t, full, path)
	if nearAt == 0 || nearAt > last*9/10 {
		t.Fatalf("near-limit first reported at seq %d of %d: not long enough before the limit", nearAt, last)
	}
	if got, _ := l.LastSeq(); got != last {
		t.Fatalf("last seq %d after a refused append, want %d", got, last)
	}
	l.Close()
	o.MaxBytes = 1 << 20
	if _, err := Open(path, &o); !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("open over the limit: %v, want ErrTooLarge", err)
	}
	o.MaxBytes = 0
	l = reopen(t, path)
	if _, err := l.Verify(); err != nil {
		t.Fatal(err)
	}
	l.Close()

	if strconv.IntSize == 32 {
		// A ledger of 1.5 GiB: bbolt maps 2 GiB - 1 for it. It opens, or fails for lack of
		// address space; either way it is near the limit and never called damaged.
		if err := os.Truncate(path, 3<<29); err != nil {
			t.Fatal(err)
		}
		l, err := Open(path, testOpts())
		switch {
		case err == nil:
			if _, err := l.Limit(); !errors.Is(err, ErrNearLimit) {
				t.Fatalf("1.5 GiB ledger on %s: limit %v, want ErrNearLimit", runtime.GOARCH, err)
			}
			l.Close()
		case !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt):
			t.Fatalf("open of a 1.5 GiB ledger on %s: %v", runtime.GOARCH, err)
		}
		// A ledger past 2 GiB, as a year of sales makes it: bbolt cannot map it here.
		if err := os.Truncate(path, 2<<30+(1<<20)); err != nil {
			t.Fatal(err)
		}
		_, err = Open(path, testOpts())
		if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("open of a 2 GiB+ ledger on %s: %v, want ErrTooLarge", runtime.GOARCH, err)
		}
		t.Logf("%s: %v", runtime.GOARCH, err)
	}
}

func TestIdleCountsFromTheLastAppend(t *testing.T) {
	l := newLedger(t)
	time.Sleep(60 * time.Millisecond)
	if idle := l.Idle(); idle < 50*time.Millisecond {
		t.Fatalf("idle %v, 60 ms after open", idle)
	}
	mustAppend(t, l, realisticSale(1))
	if idle := l.Idle(); idle >= 50*time.Millisecond {
		t.Fatalf("idle %v right after an append", idle)
	}
}
