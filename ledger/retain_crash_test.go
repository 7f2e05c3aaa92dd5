package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// retainKeep is the child's retention period; its entries are stamped one second apart
// by seq, so an entry is older than the period when it is retainKeep seqs behind the last.
const retainKeep = 20

var retainT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestCrashKill9DuringRetentionAndCompaction runs a child that appends, lets HQ
// acknowledge behind it, prunes and compacts, and kills it with SIGKILL at random points
// of all of these. After each kill the ledger must open without a false rollback, verify
// across the cut, hold every reported seq above the anchor, never have pruned above the
// watermark, never have pruned an entry younger than the period, and keep every reported
// acknowledgement.
func TestCrashKill9DuringRetentionAndCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.ledger")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0x7e7a1))
	t.Logf("seed %d", seed)
	var maxSeq, maxAck, maxBase uint64
	compactions := 0
	cycles := soakOr(25, 3000)
	for cycle := 0; cycle < cycles; cycle++ {
		c := startChild(t, cycle, "retain", path)
		if rng.IntN(10) > 0 { // one cycle in ten is killed while opening
			c.wait(c.Ready, "became ready")
		}
		nums, words := c.killAfter(time.Duration(50+rng.IntN(400))*time.Millisecond, "compacted")
		compactions += words["compacted"]
		maxSeq, maxAck, maxBase = maxOf(maxSeq, nums["seq"]), maxOf(maxAck, nums["ack"]), maxOf(maxBase, nums["base"])
		if _, err := os.Stat(path); os.IsNotExist(err) {
			continue
		}
		checkAfterRetainCrash(t, cycle, path, maxSeq, maxAck, maxBase)
	}
	t.Logf("%d cycles: last seq %d, watermark %d, anchor %d, %d compactions", cycles, maxSeq, maxAck, maxBase, compactions)
	if maxBase == 0 || compactions == 0 {
		t.Fatalf("the children never pruned (anchor %d) or never compacted (%d): the test tested nothing", maxBase, compactions)
	}
}

func checkAfterRetainCrash(t *testing.T, cycle int, path string, maxSeq, maxAck, maxBase uint64) {
	t.Helper()
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatalf("cycle %d: reopen after kill -9: %v", cycle, err)
	}
	defer l.Close()
	if rb := l.Rollback(); rb != nil {
		t.Fatalf("cycle %d: kill -9 seen as a rollback: %v", cycle, rb)
	}
	if _, err := os.Stat(compactPath(path)); !os.IsNotExist(err) {
		t.Fatalf("cycle %d: compaction copy left after open: %v", cycle, err)
	}
	rep, err := l.Verify()
	if err != nil {
		t.Fatalf("cycle %d: verify across the cut after kill -9: %v", cycle, err)
	}
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	base := st.FirstSeq - 1
	if st.Entries == 0 {
		base = st.LastSeq
	}
	switch {
	case rep.LastSeq < maxSeq:
		t.Fatalf("cycle %d: last seq %d, but seq %d was reported committed", cycle, rep.LastSeq, maxSeq)
	case st.Watermark < maxAck:
		t.Fatalf("cycle %d: watermark %d below the reported %d", cycle, st.Watermark, maxAck)
	case base < maxBase:
		t.Fatalf("cycle %d: anchor %d went back below the reported %d (pruned entries came back?)", cycle, base, maxBase)
	case base > st.Watermark:
		t.Fatalf("cycle %d: pruned through %d above the watermark %d: unacknowledged entries pruned", cycle, base, st.Watermark)
	case base > 0 && base+retainKeep > rep.LastSeq:
		t.Fatalf("cycle %d: pruned through %d with last seq %d: entries younger than the period pruned", cycle, base, rep.LastSeq)
	}
	if base > 0 {
		if _, err := l.Get(base + 1); err != nil && base < rep.LastSeq {
			t.Fatalf("cycle %d: first kept seq %d: %v", cycle, base+1, err)
		}
	}
}

// retainChild appends sales stamped one second apart by seq, acknowledges 5 behind,
// prunes every 10 appends and compacts every 40 when a fifth of the file is free,
// reporting each step once it returned.
func retainChild(path string) {
	l, err := Open(path, &Options{Store: "s042", Till: "t03", LockTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "retain child:", err)
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "retain child:", err)
		os.Exit(3)
	}
	last, err := l.LastSeq()
	if err != nil {
		fail(err)
	}
	os.Stdout.WriteString("ready\n")
	for {
		e := realisticSale(int(last))
		e.At = retainT0.Add(time.Duration(last+1) * time.Second)
		r, err := l.Append(e)
		if err != nil {
			fail(err)
		}
		last = r.Entry.Seq
		os.Stdout.WriteString("seq " + strconv.FormatUint(last, 10) + "\n")
		if last%3 == 0 && last > 5 {
			if _, err := l.Confirm(last - 5); err != nil {
				fail(err)
			}
			os.Stdout.WriteString("ack " + strconv.FormatUint(last-5, 10) + "\n")
		}
		if last%10 == 0 {
			rep, err := l.Retain(context.Background(), e.At, Retention{Keep: retainKeep * time.Second, Batch: 7})
			if err != nil {
				fail(err)
			}
			os.Stdout.WriteString("base " + strconv.FormatUint(rep.Base, 10) + "\n")
		}
		if last%40 == 0 {
			need, _, err := l.NeedsCompaction(CompactPolicy{MinFreeFraction: 0.2, MinFreeBytes: 1})
			if err != nil {
				fail(err)
			}
			if need {
				if _, _, err := l.Compact(); err != nil {
					fail(err)
				}
				os.Stdout.WriteString("compacted\n")
			}
		}
	}
}
