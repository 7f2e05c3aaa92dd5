package ledger

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/ledger/journal"
)

// damageNewestMeta flips a byte in the meta page with the higher txid, as bit rot after
// the fsync would: bbolt then opens the file at the previous transaction. It returns the
// txid it damaged.
func damageNewestMeta(t *testing.T, path string) uint64 {
	t.Helper()
	b := readFile(t, path)
	ps := int(binary.LittleEndian.Uint32(b[16+8:])) // meta: magic, version, page size
	// A meta page: 16-byte page header, then magic, version, page size, flags (4 each),
	// root bucket (16), freelist (8), high water mark (8), txid (8), checksum (8).
	txid := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off+16+32+16:]) }
	off := 0
	if txid(ps) > txid(0) {
		off = ps
	}
	id := txid(off)
	b[off+16+32+16+8] ^= 0xff // the checksum: this meta page no longer validates
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRolledBackCommitIsNoticedAndItsNumberNeverReused(t *testing.T) {
	l := newLedger(t)
	for i := 0; i < 4; i++ {
		mustAppend(t, l, realisticSale(i))
	}
	printed := mustAppend(t, l, realisticSale(4)).Entry // the sale whose commit is lost
	path := l.Path()
	l.Close()
	damageNewestMeta(t, path)

	// The technician's read-only open: the sale is not silently gone.
	ro := *testOpts()
	ro.ReadOnly = true
	r, err := Open(path, &ro)
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := r.LastSeq(); last != 4 {
		t.Fatalf("bbolt did not fall back: last seq %d, want 4 (the test damaged the wrong page)", last)
	}
	_, err = r.Verify()
	var rb *RollbackError
	if !errors.Is(err, ErrRolledBack) || !errors.As(err, &rb) || rb.FileSeq != 4 || rb.HeadSeq != 5 || errors.Is(err, ErrCorrupt) {
		t.Fatalf("read-only verify of a rolled-back file: %v, want ErrRolledBack 4 < 5", err)
	}
	wantErrContains(t, err, path, "seq 5..5 lost")
	r.Close()

	// The till's writable open: it opens, says what was lost, and never reuses seq 5.
	l = reopen(t, path)
	rb = l.Rollback()
	if rb == nil || rb.Gap() != (Gap{From: 5, To: 5, Hash: printed.Hash}) {
		t.Fatalf("rollback = %+v, want the gap 5..5 with the printed sale's hash", rb)
	}
	if _, err := l.ByReceipt(printed.Receipt); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lost receipt: %v", err)
	}
	next := mustAppend(t, l, journal.Entry{Kind: journal.KindIntegrityError, Reason: rb.Error()})
	if next.Entry.Seq != 6 || next.Entry.Prev != printed.Hash {
		t.Fatalf("entry after the gap: seq %d prev %s, want seq 6 chained to the lost sale's hash", next.Entry.Seq, journal.Short(next.Entry.Prev))
	}
	sale := mustAppend(t, l, realisticSale(6)).Entry
	if sale.Receipt == printed.Receipt || sale.Seq != 7 {
		t.Fatalf("receipt number reused: %s", sale.Receipt)
	}
	rep, err := l.Verify()
	if err != nil || len(rep.Gaps) != 1 || rep.LastSeq != 7 {
		t.Fatalf("verify across the recorded gap: %+v, %v", rep, err)
	}
	if st, _ := l.Stats(); st.Entries != 6 {
		t.Fatalf("stats count %d entries, want 6 (7 seqs, one lost)", st.Entries)
	}
	if _, err := l.Confirm(7); err != nil {
		t.Fatalf("HQ acknowledges through the gap: %v", err)
	}
	l.Close()
	// Once recorded, the gap is not reported again, and the file verifies from a fresh open.
	l = reopen(t, path)
	if l.Rollback() != nil {
		t.Fatalf("rollback reported again: %v", l.Rollback())
	}
	if _, err := l.VerifyRecent(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Prune(farFuture); err != nil {
		t.Fatal(err)
	}
	if rep, err := l.Verify(); err != nil || rep.Entries != 0 {
		t.Fatalf("verify after pruning across the gap: %+v, %v", rep, err)
	}
}

func TestHeadRecordBehindOrMissingIsAccepted(t *testing.T) {
	l := newLedger(t)
	mustAppend(t, l, realisticSale(1))
	mustAppend(t, l, realisticSale(2))
	path := l.Path()
	l.Close()
	// A cut between the commit and the head write leaves the record one behind.
	h, ok, err := readHead(path)
	if err != nil || !ok || h.Seq != 2 {
		t.Fatalf("head record: %+v %v %v", h, ok, err)
	}
	b := readFile(t, headPath(path))
	copy(b[0:headSlot], make([]byte, headSlot)) // slot of seq 2 torn: seq 1 remains
	os.WriteFile(headPath(path), b, 0o600)
	if h, _, _ := readHead(path); h.Seq != 1 {
		t.Fatalf("torn slot: head %+v, want seq 1 from the other slot", h)
	}
	l = reopen(t, path)
	if l.Rollback() != nil {
		t.Fatalf("a head record behind the file is not a rollback: %v", l.Rollback())
	}
	l.Close()
	os.Remove(headPath(path))
	l = reopen(t, path)
	if l.Rollback() != nil {
		t.Fatal(l.Rollback())
	}
	if h, _, _ := readHead(path); h.Seq != 2 {
		t.Fatalf("head record not rewritten at open: %+v", h)
	}
}

func TestHeadRecordDivergedIsRefused(t *testing.T) {
	l := newLedger(t)
	mustAppend(t, l, realisticSale(1))
	path := l.Path()
	l.Close()
	hf, _, err := openHead(path)
	if err != nil {
		t.Fatal(err)
	}
	hf.write(headRecord{Seq: 1, Hash: strings.Repeat("ab", 32)}, true, false)
	hf.close()
	_, err = Open(path, testOpts())
	var rb *RollbackError
	if !errors.As(err, &rb) || !rb.Diverged {
		t.Fatalf("open with another entry at the witnessed seq: %v, want a diverged rollback", err)
	}
	wantErrContains(t, err, path, "reused")
}

// TestHeadRecordIsWrittenBeforeAppendReturns: in both modes the record holds the entry when
// Append returns (the async mode leaves only its fdatasync for later), so a kill -9 right
// after a sale cannot leave the record behind a printed receipt.
func TestHeadRecordIsWrittenBeforeAppendReturns(t *testing.T) {
	for _, syncHead := range []bool{false, true} {
		o := *testOpts()
		o.SyncHead = syncHead
		l, err := Open(filepath.Join(t.TempDir(), "till.ledger"), &o)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			r := mustAppend(t, l, realisticSale(i))
			if h, ok, err := readHead(l.Path()); err != nil || !ok || h.Seq != r.Entry.Seq || h.Hash != r.Entry.Hash {
				t.Fatalf("sync=%v: head %+v %v %v after seq %d", syncHead, h, ok, err, r.Entry.Seq)
			}
		}
		if err := l.HeadError(); err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
}
