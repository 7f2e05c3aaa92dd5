package ledger

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestCrashKill9KeepsEveryReportedSeq runs a child that appends continuously (each sale with
// a stock delta and a print job in the same commit) and reports each seq the moment Append
// returns. The parent kills it with SIGKILL at random moments, including during open and
// creation, then reopens and checks that every reported seq is present, seqs are gapless,
// the side records match the entries exactly, the watermark never went back, and Verify
// passes.
func TestCrashKill9KeepsEveryReportedSeq(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.ledger")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0x7111))
	t.Logf("seed %d", seed)
	cycles := soakOr(100, 10000)
	var maxReported, maxAck uint64
	reportedTotal := 0
	for cycle := 0; cycle < cycles; cycle++ {
		c := startChild(t, cycle, "crash", path)
		switch k := rng.IntN(10); {
		case k == 0: // one cycle in ten is killed while opening or creating
		case k < 5: // four in ten from ready on: before, during or after the first appends
			c.wait(c.Ready, "became ready")
		default: // half once an append was reported: a slow fsync (qemu, a busy disk) never
			// lets every kill come before the first one
			c.wait(c.Reported, "reported an append")
		}
		nums, _ := c.killAfter(time.Duration(rng.IntN(30000)) * time.Microsecond)
		seqs := nums["seq"]
		maxReported, maxAck = maxOf(maxReported, seqs), maxOf(maxAck, nums["ack"])
		reportedTotal += len(seqs)
		if _, err := os.Stat(path); os.IsNotExist(err) {
			if maxReported > 0 {
				t.Fatalf("cycle %d: ledger file gone after %d reported seqs", cycle, maxReported)
			}
			continue
		}
		checkAfterCrash(t, cycle, path, seqs, maxReported, maxAck)
	}
	t.Logf("%d kill -9 cycles, %d appends reported, last seq %d", cycles, reportedTotal, maxReported)
	if reportedTotal == 0 {
		t.Fatal("no child ever reported an append: the test tested nothing")
	}
}

func checkAfterCrash(t *testing.T, cycle int, path string, seqs []uint64, maxReported, maxAck uint64) {
	t.Helper()
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatalf("cycle %d: reopen after kill -9: %v", cycle, err)
	}
	defer l.Close()
	rep, err := l.Verify()
	if err != nil {
		t.Fatalf("cycle %d: verify after kill -9: %v", cycle, err)
	}
	if rep.LastSeq < maxReported {
		t.Fatalf("cycle %d: last seq %d, but seq %d was reported committed", cycle, rep.LastSeq, maxReported)
	}
	for _, s := range seqs {
		if e, err := l.Get(s); err != nil || e.Seq != s {
			t.Fatalf("cycle %d: reported seq %d lost: %v", cycle, s, err)
		}
	}
	// Every sale moved stock by exactly -1000 in its own commit: the level counts the sales.
	if q, _ := l.Stock("1001"); q != -1000*int64(rep.LastSeq) {
		t.Fatalf("cycle %d: stock %d for %d sales: a side record was lost or doubled", cycle, q, rep.LastSeq)
	}
	jobs, err := l.Jobs()
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Seq == 0 || j.Seq > rep.LastSeq || j.ID != j.Seq {
			t.Fatalf("cycle %d: job %+v does not belong to a committed sale", cycle, j)
		}
	}
	if w, _ := l.Watermark(); w < maxAck {
		t.Fatalf("cycle %d: watermark %d went below the reported %d", cycle, w, maxAck)
	}
}

// crashChild appends until it is killed, reporting each committed seq on stdout.
func crashChild(path string) {
	l, err := Open(path, &Options{Store: "s042", Till: "t03", LockTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	os.Stdout.WriteString("ready\n")
	doc := []byte(`{"lines":["Chleb żytni  4,50","SUMA PLN   4,50"]}`)
	for {
		r, err := l.Append(sale(time.Now(), 450), StockDelta("1001", -1000), PrintJob(doc))
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(3)
		}
		os.Stdout.WriteString("seq " + strconv.FormatUint(r.Entry.Seq, 10) + "\n")
		seq := r.Entry.Seq
		if seq%7 == 0 {
			if err := l.Update(JobStarted(seq), JobDone(seq-3)); err != nil {
				fmt.Fprintln(os.Stderr, "crash child:", err)
				os.Exit(3)
			}
		}
		if seq%10 == 0 {
			if _, err := l.Confirm(seq - 5); err != nil {
				fmt.Fprintln(os.Stderr, "crash child:", err)
				os.Exit(3)
			}
			os.Stdout.WriteString("ack " + strconv.FormatUint(seq-5, 10) + "\n")
		}
	}
}
