//go:build linux

package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tillbox/ledger/journal"
)

// BenchmarkOpen measures the till's start on its ledger: the writable Open of a ledger of
// realistic sales (10k and 100k entries, built as TestLedgerScale builds them, a hundred
// per commit), and "start", what the till does with it before its first prompt: Open,
// VerifyRecent (of the entry the previous start appended) and the power-up entry's Append.
// Each is measured warm (the file in the page cache) and cold (its pages dropped from the
// cache before each open, as at boot). Close is outside the timing.
//
//	go test -run '^$' -bench Open -benchtime 20x ./ledger/
//	GOARCH=arm64 go test -c -o /tmp/ledger.test ./ledger/ &&
//	  qemu-aarch64-static /tmp/ledger.test -test.run '^$' -test.bench Open -test.benchtime 20x
//
// Measured against the Open of two bbolt opens, a synchronous head record write and
// directory sync at every open and a VerifyRecent that committed (the two test binaries
// run in turn, 5 rounds under qemu-aarch64, 3 natively, on a machine loaded by other work;
// medians, new over old): under qemu-aarch64 open 0.27-0.42x (100k warm 10.3 to 2.8 ms),
// start 0.44-0.56x; natively open 0.08-0.41x, start 0.29-0.37x.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		path := filepath.Join(b.TempDir(), "till.ledger")
		buildBenchLedger(b, path, n)
		for _, what := range []string{"open", "start"} {
			for _, cold := range []bool{false, true} {
				name := fmt.Sprintf("entries=%d/%s/warm", n, what)
				if cold {
					name = fmt.Sprintf("entries=%d/%s/cold", n, what)
				}
				b.Run(name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						if cold {
							dropCache(b, path, headPath(path))
						}
						b.StartTimer()
						l, err := Open(path, testOpts())
						if err != nil {
							b.Fatal(err)
						}
						if what == "start" {
							if _, err := l.VerifyRecent(); err != nil {
								b.Fatal(err)
							}
							if _, err := l.Append(journal.Entry{Kind: journal.KindPowerUp, Reason: "bench"}); err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
						if err := l.Close(); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				})
			}
		}
	}
}

// buildBenchLedger writes n realistic sales into a new ledger at path, a hundred per commit
// (fsync off while building), with HQ's watermark trailing and a verify pass at the end:
// the state of a till that has been running.
func buildBenchLedger(b *testing.B, path string, n int) {
	b.Helper()
	t0 := time.Now()
	l, err := Open(path, testOpts())
	if err != nil {
		b.Fatal(err)
	}
	l.db.NoSync = true
	at := time.Now().Add(-time.Duration(n) * 30 * time.Second)
	const batch = 100
	for built := 0; built < n; built += batch {
		var last Result
		err := l.update("bench", func(c *commit) error {
			for j := 0; j < min(batch, n-built); j++ {
				e := realisticSale(built + j)
				e.At = at.Add(time.Duration(built+j) * 30 * time.Second)
				r, err := l.appendTx(c, e, nil)
				if err != nil {
					return err
				}
				last = r
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		l.writeHead(headRecord{Seq: last.Entry.Seq, Hash: last.Entry.Hash, Doc: last.doc})
		if last.Entry.Seq > 500 {
			if _, err := l.Confirm(last.Entry.Seq - 500); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := l.VerifyRecent(); err != nil {
		b.Fatal(err)
	}
	l.db.NoSync = false
	if err := l.db.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d entries (%d MB) in %s", n, fi.Size()>>20, time.Since(t0).Round(time.Millisecond))
}

// dropCache drops the files' pages from the page cache (they are clean after Close), so
// that the next open reads them from the disk.
func dropCache(b *testing.B, paths ...string) {
	b.Helper()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}
