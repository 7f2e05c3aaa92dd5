package ledger

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"tillbox/ledger/journal"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestAppendAssignsGaplessSeqReceiptAndChain(t *testing.T) {
	l := newLedger(t)
	at := testClock()
	prev := journal.GenesisPrev
	for i := uint64(1); i <= 5; i++ {
		r := mustAppend(t, l, sale(at, 1000+int64(i)))
		e := r.Entry
		if e.Seq != i {
			t.Fatalf("seq = %d, want %d", e.Seq, i)
		}
		if want := "S042-T03-00000" + string(rune('0'+i)); e.Receipt != want {
			t.Fatalf("receipt = %q, want %q", e.Receipt, want)
		}
		if e.Prev != prev {
			t.Fatalf("seq %d prev = %s, want %s", i, e.Prev, prev)
		}
		if err := e.CheckHash(); err != nil {
			t.Fatalf("seq %d: %v", i, err)
		}
		if e.Store != "s042" || e.Till != "t03" || e.V != journal.FormatVersion {
			t.Fatalf("identity/version not stamped: %+v", e)
		}
		// The stored bytes are what json.Marshal gives for the entry: the wire payload.
		want, _ := json.Marshal(&e)
		if !bytes.Equal(r.Raw, want) {
			t.Fatalf("raw bytes differ from the entry's encoding:\n%s\n%s", r.Raw, want)
		}
		prev = e.Hash
	}
	if last, _ := l.LastSeq(); last != 5 {
		t.Fatalf("last seq = %d, want 5", last)
	}
}

func TestAppendStampsTimeInUTCMilliseconds(t *testing.T) {
	l := newLedger(t)
	local := time.FixedZone("CET", 3600)
	r := mustAppend(t, l, journal.Entry{Kind: journal.KindNoSale, At: time.Date(2026, 1, 2, 3, 4, 5, 123456789, local), Reason: "change for a customer"})
	if got := r.Entry.At; !got.Equal(time.Date(2026, 1, 2, 2, 4, 5, 123000000, time.UTC)) || got.Location() != time.UTC {
		t.Fatalf("at = %v, want 02:04:05.123 UTC", got)
	}
	got, err := l.Get(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.CheckHash(); err != nil {
		t.Fatalf("entry read back does not hash the same: %v", err)
	}
}

func TestRefusedAppendLeavesNothingVisible(t *testing.T) {
	cases := []struct {
		name  string
		entry journal.Entry
		sides []Side
		want  error
	}{
		{"unknown kind", journal.Entry{Kind: "gift"}, nil, ErrInvalid},
		{"print job not JSON", sale(testClock(), 500), []Side{StockDelta("1001", -1000), PrintJob([]byte("{oops"))}, ErrInvalid},
		{"empty stock item", sale(testClock(), 500), []Side{StockDelta("", -1000)}, ErrInvalid},
		{"record without key", sale(testClock(), 500), []Side{Put("parked", "", []byte("x"))}, ErrInvalid},
		{"entry too large", journal.Entry{Kind: journal.KindSale, Reason: strings.Repeat("x", 300<<10)}, nil, ErrInvalid},
		{"job done for a job never made", sale(testClock(), 500), []Side{JobStarted(99)}, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t)
			mustAppend(t, l, sale(testClock(), 100), StockDelta("1001", -1000))
			_, err := l.Append(tc.entry, tc.sides...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if last, _ := l.LastSeq(); last != 1 {
				t.Fatalf("last seq = %d after a refused append, want 1", last)
			}
			if _, err := l.ByReceipt("S042-T03-000002"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("receipt of refused append is visible: %v", err)
			}
			if q, _ := l.Stock("1001"); q != -1000 {
				t.Fatalf("stock = %d, want -1000 (the refused commit's delta must not apply)", q)
			}
			if jobs, _ := l.Jobs(); len(jobs) != 0 {
				t.Fatalf("jobs = %v, want none", jobs)
			}
			// The next good append takes seq 2: no gap.
			if r := mustAppend(t, l, sale(testClock(), 100)); r.Entry.Seq != 2 {
				t.Fatalf("next seq = %d, want 2", r.Entry.Seq)
			}
			if _, err := l.Verify(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSidesCommitWithTheEntry(t *testing.T) {
	l := newLedger(t)
	r := mustAppend(t, l, sale(testClock(), 900),
		StockDelta("1001", -1000), StockDelta("2002", -2000), StockDelta("1001", -500),
		PrintJob(printDoc(t, "receipt 1")), PrintJob(printDoc(t, "card slip")),
		Put("counters", "z", []byte("1")))
	if got := r.Jobs; len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("job ids = %v, want [1 2]", got)
	}
	if q, _ := l.Stock("1001"); q != -1500 {
		t.Fatalf("stock 1001 = %d, want -1500", q)
	}
	if q, _ := l.Stock("2002"); q != -2000 {
		t.Fatalf("stock 2002 = %d, want -2000", q)
	}
	if q, _ := l.Stock("never"); q != 0 {
		t.Fatalf("stock of an unmoved item = %d, want 0", q)
	}
	jobs, err := l.Jobs()
	if err != nil || len(jobs) != 2 || jobs[0].Seq != 1 || string(jobs[1].Doc) != `{"text":"card slip"}` {
		t.Fatalf("jobs = %+v, %v", jobs, err)
	}
	if err := l.Update(JobStarted(1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Update(JobDone(2), JobDone(2)); err != nil {
		t.Fatalf("job done twice: %v", err)
	}
	jobs, _ = l.Jobs()
	if len(jobs) != 1 || jobs[0].ID != 1 || jobs[0].Attempts != 1 {
		t.Fatalf("after start/done: jobs = %+v", jobs)
	}
	if v, err := l.Record("counters", "z"); err != nil || string(v) != "1" {
		t.Fatalf("record = %q, %v", v, err)
	}
	if err := l.Update(Delete("counters", "z"), StockSet("1001", 42000)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Record("counters", "z"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted record: %v", err)
	}
	if q, _ := l.Stock("1001"); q != 42000 {
		t.Fatalf("stock after set = %d", q)
	}
	r2 := mustAppend(t, l, sale(testClock(), 100), PrintJob(printDoc(t, "receipt 2")))
	if r2.Jobs[0] != 3 {
		t.Fatalf("job ids continue after a done job: got %d, want 3", r2.Jobs[0])
	}
}

func TestLookups(t *testing.T) {
	l := newLedger(t)
	mustAppend(t, l, journal.Entry{Kind: journal.KindPowerUp, Reason: "cold boot"})
	off := sale(testClock(), 1234)
	off.Offline = true
	mustAppend(t, l, off)
	mustAppend(t, l, journal.Entry{Kind: journal.KindOfflineEnd})

	if e, err := l.Get(1); err != nil || e.Receipt != "" || e.Kind != journal.KindPowerUp {
		t.Fatalf("technical event: %+v, %v (technical events carry no receipt)", e, err)
	}
	e, err := l.ByReceipt("S042-T03-000001")
	if err != nil || e.Seq != 2 || !e.Offline || e.Totals.Gross != 1234 {
		t.Fatalf("by receipt of an offline sale: %+v, %v", e, err)
	}
	if _, err := l.ByReceipt("S042-T03-000002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a receipt number no document took: %v", err)
	}
	if _, err := l.Get(4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("seq beyond end: %v", err)
	}
	var seqs []uint64
	err = l.After(1, 0, func(e *journal.Entry, raw []byte) bool {
		seqs = append(seqs, e.Seq)
		var back journal.Entry
		if err := json.Unmarshal(raw, &back); err != nil || back.Hash != e.Hash {
			t.Errorf("raw of seq %d does not decode to the entry", e.Seq)
		}
		return true
	})
	if err != nil || len(seqs) != 2 || seqs[0] != 2 || seqs[1] != 3 {
		t.Fatalf("after 1: %v, %v", seqs, err)
	}
	seqs = nil
	l.After(0, 2, func(e *journal.Entry, _ []byte) bool { seqs = append(seqs, e.Seq); return true })
	if len(seqs) != 2 {
		t.Fatalf("limit 2 gave %v", seqs)
	}
	st, err := l.Stats()
	if err != nil || st.Entries != 3 || st.LastSeq != 3 || st.Backlog != 3 || st.FirstSeq != 1 || st.FileBytes <= 0 || st.OldestUnsynced.IsZero() {
		t.Fatalf("stats = %+v, %v", st, err)
	}
}

func TestConfirmIsMonotonicAndDrivesStatus(t *testing.T) {
	l := newLedger(t)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, sale(testClock(), 100))
	}
	if moved, err := l.Confirm(5); err != nil || !moved {
		t.Fatalf("confirm 5: %v %v", moved, err)
	}
	if moved, err := l.Confirm(3); err != nil || moved {
		t.Fatalf("confirm 3 after 5 must be ignored: moved=%v err=%v", moved, err)
	}
	if _, err := l.Confirm(11); !errors.Is(err, ErrAckBeyondEnd) {
		t.Fatalf("confirm beyond end: %v", err)
	}
	if w, _ := l.Watermark(); w != 5 {
		t.Fatalf("watermark = %d, want 5", w)
	}
	for seq, want := range map[uint64]SyncStatus{1: Synced, 5: Synced, 6: Pending, 10: Pending} {
		if got, err := l.Status(seq); err != nil || got != want {
			t.Fatalf("status(%d) = %v, %v; want %v", seq, got, err, want)
		}
	}
	if _, err := l.Status(11); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status of unwritten seq: %v", err)
	}
	st, _ := l.Stats()
	if st.Backlog != 5 || st.Watermark != 5 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSecondOpenerIsToldWhoHoldsTheLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.ledger")
	cmd := childCmd(t, "hold", path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child: %q %v", line, err)
	}
	_, err = Open(path, testOpts())
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second opener: %v, want ErrInUse", err)
	}
	wantErrContains(t, err, "in use", "pid")
	ro := *testOpts()
	ro.ReadOnly = true
	if _, err := Open(path, &ro); !errors.Is(err, ErrInUse) {
		t.Fatalf("read-only opener while a writer holds it: %v", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatalf("open after the holder left: %v", err)
	}
	defer l.Close()
	if last, _ := l.LastSeq(); last != 1 {
		t.Fatalf("holder's entry missing: last seq %d", last)
	}
}

func holdChild(path string) {
	l, err := Open(path, testOpts())
	if err != nil {
		os.Stderr.WriteString("hold: " + err.Error() + "\n")
		os.Exit(2)
	}
	if _, err := l.Append(journal.Entry{Kind: journal.KindPowerUp}); err != nil {
		os.Exit(3)
	}
	os.Stdout.WriteString("ready\n")
	buf := make([]byte, 1)
	os.Stdin.Read(buf) // until the parent closes stdin
	l.Close()
	os.Exit(0)
}

func TestIdentityMismatchIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.ledger")
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, err = Open(path, &Options{Store: "s042", Till: "t04"})
	if !errors.Is(err, ErrIdentity) {
		t.Fatalf("other till: %v", err)
	}
	l, err = Open(path, &Options{ReadOnly: true})
	if err != nil || l.Till() != "t03" || l.Store() != "s042" {
		t.Fatalf("open without identity: %v", err)
	}
	l.Close()
	if _, err := Open(filepath.Join(t.TempDir(), "new.ledger"), &Options{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("create without identity: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "ro.ledger"), &Options{Store: "a", Till: "b", ReadOnly: true}); err == nil {
		t.Fatal("read-only open created a file")
	}
}

// corruptions damage a closed ledger file in one way each.
var corruptions = []struct {
	name   string
	damage func(t *testing.T, path string)
	reason string
}{
	{"empty file", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }, "empty"},
	{"garbage", func(t *testing.T, p string) { os.WriteFile(p, bytes.Repeat([]byte("till"), 4096), 0o600) }, "damaged"},
	{"truncated to one page", func(t *testing.T, p string) { os.Truncate(p, 4096) }, "damaged"},
	{"both meta pages scribbled", func(t *testing.T, p string) {
		b := readFile(t, p)
		ps := newPageSize // the page size of a file the ledger creates: meta pages are pages 0 and 1
		for _, off := range []int{64, ps + 64} {
			copy(b[off:], "scribble")
		}
		os.WriteFile(p, b, 0o600)
	}, "damaged"},
	{"not a tillbox ledger", func(t *testing.T, p string) {
		os.Remove(p)
		db, err := bolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
		db.Close()
	}, "no meta bucket"},
	{"not a tillbox ledger, without a freelist", func(t *testing.T, p string) {
		// bbolt's own writable open would commit a freelist into this file.
		os.Remove(p)
		db, err := bolt.Open(p, 0o600, &bolt.Options{NoFreelistSync: true})
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
		db.Close()
	}, "no meta bucket"},
	{"last entry altered", func(t *testing.T, p string) {
		editEntry(t, p, 3, func(e *journal.Entry) { e.Totals.Gross = 1 })
	}, "seq 3"},
}

func TestCorruptFileIsReportedAndLeftUntouched(t *testing.T) {
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "till.ledger")
			l, err := Open(path, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				mustAppend(t, l, sale(testClock(), 500))
			}
			l.Close()
			tc.damage(t, path)
			before := readFile(t, path)
			fi0, _ := os.Stat(path)

			for _, ro := range []bool{false, true} {
				o := *testOpts()
				o.ReadOnly = ro
				l, err := Open(path, &o)
				if err == nil {
					l.Close()
					t.Fatalf("read-only=%v: damaged file opened without error", ro)
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("read-only=%v: err = %v, want ErrCorrupt", ro, err)
				}
				wantErrContains(t, err, path, tc.reason)
			}
			after := readFile(t, path)
			fi1, _ := os.Stat(path)
			if !bytes.Equal(before, after) || fi1.ModTime() != fi0.ModTime() {
				t.Fatal("the damaged file was changed by Open")
			}
		})
	}
}

// editEntry rewrites entry seq in a closed ledger file without fixing its hash, as a
// tampering hand or a flipped bit would.
func editEntry(t *testing.T, path string, seq uint64, edit func(e *journal.Entry)) {
	t.Helper()
	rawEdit(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEntries)
		var e journal.Entry
		if err := json.Unmarshal(b.Get(u64(seq)), &e); err != nil {
			return err
		}
		edit(&e)
		v, _ := json.Marshal(&e)
		return b.Put(u64(seq), v)
	})
}

func rawEdit(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyReportsTheFirstBrokenLink(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, path string)
		wantSeq uint64
		reason  string
	}{
		{"amount altered", func(t *testing.T, p string) {
			editEntry(t, p, 4, func(e *journal.Entry) { e.Lines[0].Amount += 100 })
		}, 4, "does not match the entry's content"},
		{"entry rehashed but prev forged", func(t *testing.T, p string) {
			editEntry(t, p, 5, func(e *journal.Entry) {
				e.Prev = strings.Repeat("ab", 32)
				e.Hash, _ = e.ComputeHash()
			})
		}, 5, "prev"},
		{"entry rehashed after edit breaks the next link", func(t *testing.T, p string) {
			editEntry(t, p, 6, func(e *journal.Entry) { e.Cashier = "mallory"; e.Hash, _ = e.ComputeHash() })
		}, 7, "prev"},
		{"entry removed", func(t *testing.T, p string) {
			rawEdit(t, p, func(tx *bolt.Tx) error { return tx.Bucket(bucketEntries).Delete(u64(3)) })
		}, 3, "missing"},
		{"entry moved to another key", func(t *testing.T, p string) {
			rawEdit(t, p, func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketEntries)
				v := b.Get(u64(8))
				v2 := append([]byte(nil), b.Get(u64(2))...)
				if err := b.Put(u64(2), append([]byte(nil), v...)); err != nil {
					return err
				}
				return b.Put(u64(8), v2)
			})
		}, 2, "stored under seq 2 but says seq 8"},
		{"document index points elsewhere", func(t *testing.T, p string) {
			rawEdit(t, p, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketDocs).Put(u64(3), u64(4))
			})
		}, 3, "not indexed"},
		{"not JSON", func(t *testing.T, p string) {
			rawEdit(t, p, func(tx *bolt.Tx) error { return tx.Bucket(bucketEntries).Put(u64(2), []byte("\x00\x01")) })
		}, 2, "does not decode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "till.ledger")
			l, err := Open(path, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 10; i++ {
				mustAppend(t, l, sale(testClock(), int64(500+i)))
			}
			if _, err := l.Verify(); err != nil {
				t.Fatalf("intact ledger: %v", err)
			}
			l.Close()
			tc.damage(t, path)
			l, err = Open(path, testOpts()) // the tail is intact, so Open's quick check passes
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			_, err = l.Verify()
			var ve *VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("verify: %v, want a *VerifyError", err)
			}
			if ve.Seq != tc.wantSeq || !strings.Contains(ve.Reason, tc.reason) {
				t.Fatalf("verify: seq %d %q, want seq %d containing %q", ve.Seq, ve.Reason, tc.wantSeq, tc.reason)
			}
		})
	}
}

func TestVerifyChainOfReceivedEntries(t *testing.T) {
	l := newLedger(t)
	var es []journal.Entry
	for i := 0; i < 4; i++ {
		es = append(es, mustAppend(t, l, sale(testClock(), 300)).Entry)
	}
	if last, err := journal.VerifyChain(journal.GenesisPrev, es); err != nil || last != es[3].Hash {
		t.Fatalf("intact chain: %v", err)
	}
	if _, err := journal.VerifyChain(es[0].Hash, es[1:]); err != nil {
		t.Fatalf("chain from seq 2: %v", err)
	}
	bad := append([]journal.Entry(nil), es...)
	bad[2].Tenders[0].Amount = 1
	var ve *journal.ChainError
	if _, err := journal.VerifyChain(journal.GenesisPrev, bad); !errors.As(err, &ve) || ve.Seq != 3 {
		t.Fatalf("altered seq 3: %v", err)
	}
	if _, err := journal.VerifyChain(journal.GenesisPrev, []journal.Entry{es[0], es[2]}); !errors.As(err, &ve) || ve.Seq != 3 {
		t.Fatalf("gap: %v", err)
	}
}

func TestExportUnconfirmedAsJSONLines(t *testing.T) {
	l := newLedger(t)
	for i := 0; i < 7; i++ {
		mustAppend(t, l, sale(testClock(), int64(100*i+100)))
	}
	if _, err := l.Confirm(3); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := l.Export(&buf)
	if err != nil || n != 4 {
		t.Fatalf("export: %d, %v", n, err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 4 {
		t.Fatalf("export has %d lines, want 4", lines)
	}
	es, err := journal.ReadExport(&buf)
	if err != nil || len(es) != 4 || es[0].Seq != 4 {
		t.Fatalf("read export: %d entries, %v", len(es), err)
	}
	third, _ := l.Get(3)
	if _, err := journal.VerifyChain(third.Hash, es); err != nil {
		t.Fatalf("exported chain: %v", err)
	}
	if _, err := journal.ReadExport(strings.NewReader("{\"seq\":1}\nnot json\n")); !errors.Is(err, journal.ErrMalformed) {
		t.Fatalf("bad export line: %v", err)
	}
}

func TestPruneKeepsUnsyncedAndTheChainVerifiable(t *testing.T) {
	l := newLedger(t)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.UTC) }
	for d := 1; d <= 10; d++ {
		mustAppend(t, l, sale(day(d), 100))
	}
	if n, err := l.Prune(day(30)); err != nil || n != 0 {
		t.Fatalf("prune with nothing acknowledged: %d, %v", n, err)
	}
	if _, err := l.Confirm(6); err != nil {
		t.Fatal(err)
	}
	n, err := l.Prune(day(5)) // entries of days 1-4 are acknowledged and older
	if err != nil || n != 4 {
		t.Fatalf("prune: %d, %v; want 4", n, err)
	}
	if _, err := l.Get(4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned entry still there: %v", err)
	}
	if _, err := l.ByReceipt("S042-T03-000004"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned receipt still indexed: %v", err)
	}
	if rep, err := l.Verify(); err != nil || rep.FirstSeq != 5 || rep.Entries != 6 {
		t.Fatalf("verify after prune: %+v, %v", rep, err)
	}
	if n, _ := l.Prune(day(30)); n != 2 {
		t.Fatalf("second prune removed %d, want 2 (up to the watermark only)", n)
	}
	if e, err := l.Get(7); err != nil || e.Seq != 7 {
		t.Fatalf("unacknowledged entry pruned: %v", err)
	}
	r := mustAppend(t, l, sale(day(11), 100))
	if r.Entry.Seq != 11 {
		t.Fatalf("seq after prune = %d, want 11", r.Entry.Seq)
	}
	l.Confirm(11)
	l.Prune(day(31))
	if rep, err := l.Verify(); err != nil || rep.Entries != 0 || rep.LastSeq != 11 {
		t.Fatalf("verify with everything pruned: %+v, %v", rep, err)
	}
	if r := mustAppend(t, l, sale(day(12), 100)); r.Entry.Seq != 12 || r.Entry.Prev == journal.GenesisPrev {
		t.Fatalf("chain after full prune: %+v", r.Entry)
	}
	if _, err := l.Verify(); err != nil {
		t.Fatal(err)
	}
	// Reopen: the quick tail check also works on a pruned ledger.
	path := l.Path()
	l.Close()
	l2, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
}

func TestClosedLedgerRefusesWork(t *testing.T) {
	l := newLedger(t)
	l.Close()
	if _, err := l.Append(sale(testClock(), 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := l.Get(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestNewLedgerIsNeverLeftHalfMade(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "till.ledger")
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".new-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
	// The key layout is big-endian seq, so bbolt's order is seq order.
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], 256)
	if !bytes.Equal(u64(256), k[:]) {
		t.Fatal("u64 is not big-endian")
	}
}

func TestReceiptNumbersAreLookedUpThroughTheDocumentIndex(t *testing.T) {
	l := newLedger(t)
	for i := 0; i < 3; i++ {
		mustAppend(t, l, realisticSale(i))
	}
	if e, err := l.ByReceipt("S042-T03-000002"); err != nil || e.Seq != 2 {
		t.Fatalf("by receipt: %+v %v", e, err)
	}
	for _, r := range []string{"S042-T03-2", "S042-T03-0000002", "S042-T04-000002", "S042-T03-", "S042-T03-00000x", "S042-T03-000000", "S042-T03-000004"} {
		if _, err := l.ByReceipt(r); !errors.Is(err, ErrNotFound) {
			t.Fatalf("by receipt %q: %v, want ErrNotFound", r, err)
		}
	}
	// A file from before the document counter: no docs index, receipt numbers by seq in
	// the receipt index. It is still read, verified, and continued without reusing a number.
	path := l.Path()
	l.Close()
	rawEdit(t, path, func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketDocs); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Delete(keyLastDoc); err != nil {
			return err
		}
		for seq := uint64(1); seq <= 3; seq++ {
			if err := tx.Bucket(bucketReceipts).Put([]byte(journal.ReceiptNumber("S042-T03", seq)), u64(seq)); err != nil {
				return err
			}
		}
		return nil
	})
	l = reopen(t, path)
	if e, err := l.ByReceipt("S042-T03-000003"); err != nil || e.Seq != 3 {
		t.Fatalf("by receipt with an old index: %+v %v", e, err)
	}
	if _, err := l.Verify(); err != nil {
		t.Fatalf("verify of an old file: %v", err)
	}
	mustAppend(t, l, journal.Entry{Kind: journal.KindPowerUp})
	if r := mustAppend(t, l, realisticSale(4)).Entry.Receipt; r != "S042-T03-000004" {
		t.Fatalf("the next document of an old file is %s, want S042-T03-000004", r)
	}
	if _, err := l.Verify(); err != nil {
		t.Fatalf("verify after continuing an old file: %v", err)
	}
	l.Close()
	editEntry(t, path, 2, func(e *journal.Entry) { e.Receipt = "S042-T03-000009"; e.Hash, _ = e.ComputeHash() })
	l = reopen(t, path)
	_, err := l.Verify()
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Seq != 2 || !strings.Contains(ve.Reason, "not indexed") {
		t.Fatalf("verify of a receipt number that no index leads to: %v", err)
	}
}
