package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestOpenWithoutAFreelistIsCheckedFirst: a ledger whose newest meta page has no freelist
// (written with NoFreelistSync by another tool) is one bbolt's writable open would write
// to; Open checks it read-only first, then opens it, and it works as before.
func TestOpenWithoutAFreelistIsCheckedFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.ledger")
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, realisticSale(1))
	l.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketStock).Put([]byte("x"), u64(1)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = boltWritesNothing(f)
	f.Close()
	if !errors.Is(err, errNeedsReadOnlyCheck) {
		t.Fatalf("file without a freelist: %v, want errNeedsReadOnlyCheck", err)
	}
	l = reopen(t, path)
	mustAppend(t, l, realisticSale(2))
	if _, err := l.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestBoltWritesNothingReadsTheMetaBboltUses: on a ledger of this package, both meta pages
// valid, or the newest one damaged (bbolt then uses the other), the single writable open
// is taken; with both damaged it is not.
func TestBoltWritesNothingReadsTheMetaBboltUses(t *testing.T) {
	l := newLedger(t)
	for i := 0; i < 3; i++ {
		mustAppend(t, l, realisticSale(i))
	}
	path := l.Path()
	l.Close()
	check := func() error {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return boltWritesNothing(f)
	}
	if err := check(); err != nil {
		t.Fatalf("a ledger of this package: %v", err)
	}
	b := readFile(t, path)
	damageNewestMeta(t, path)
	if err := check(); err != nil {
		t.Fatalf("newest meta damaged: %v", err)
	}
	b2 := bytes.Clone(b)
	ps := int(binary.LittleEndian.Uint32(b2[16+8:]))
	for _, off := range []int{0, ps} {
		b2[off+16+56] ^= 0xff // both checksums
	}
	os.WriteFile(path, b2, 0o600)
	if err := check(); !errors.Is(err, errNeedsReadOnlyCheck) {
		t.Fatalf("both meta pages damaged: %v, want errNeedsReadOnlyCheck", err)
	}
	os.WriteFile(path, b, 0o600)
}

// TestDamagedFreelistIsReportedAndLetGo: a freelist page that is not one makes bbolt's
// writable open panic; Open reports the file as damaged, leaves it as it was, and lets its
// lock go, so that the next open says the same instead of "in use".
func TestDamagedFreelistIsReportedAndLetGo(t *testing.T) {
	l := newLedger(t)
	mustAppend(t, l, realisticSale(1))
	path := l.Path()
	l.Close()
	b := readFile(t, path)
	ps := int(binary.LittleEndian.Uint32(b[16+8:]))
	meta := func(off int) (txid, freelist uint64) {
		return binary.LittleEndian.Uint64(b[off+16+48:]), binary.LittleEndian.Uint64(b[off+16+32:])
	}
	t0, f0 := meta(0)
	t1, f1 := meta(ps)
	fl := f0
	if t1 > t0 {
		fl = f1
	}
	binary.LittleEndian.PutUint16(b[int(fl)*ps+8:], 0x01) // the page's flags: a branch page
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := Open(path, testOpts())
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInUse) {
			t.Fatalf("open %d: %v, want ErrCorrupt", i+1, err)
		}
		wantErrContains(t, err, path, "freelist")
	}
	if !bytes.Equal(readFile(t, path), b) {
		t.Fatal("the damaged file was changed by Open")
	}
}

// TestVerifyRecentCommitsNothing: the checkpoint VerifyRecent moves is written by the next
// commit (at start-up, the power-up entry's), a later VerifyRecent starts from it meanwhile,
// and a ledger left without that commit (killed) starts from the checkpoint in the file.
func TestVerifyRecentCommitsNothing(t *testing.T) {
	l := newLedger(t)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, realisticSale(i))
	}
	txid := func() (id int) {
		l.view("txid", func(tx *bolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	fileCheckpoint := func() (cp uint64) {
		l.view("cp", func(tx *bolt.Tx) error { cp = getU64(tx.Bucket(bucketMeta), keyCheckSeq); return nil })
		return cp
	}
	before := txid()
	if rep, err := l.VerifyRecent(); err != nil || rep.Entries != 10 {
		t.Fatalf("VerifyRecent: %+v %v", rep, err)
	}
	if txid() != before || fileCheckpoint() != 0 {
		t.Fatalf("VerifyRecent committed: txid %d -> %d, checkpoint in the file %d", before, txid(), fileCheckpoint())
	}
	if rep, err := l.VerifyRecent(); err != nil || rep.Entries != 0 || rep.From != 10 {
		t.Fatalf("VerifyRecent again: %+v %v; want nothing new from 10", rep, err)
	}
	// A copy of the file now is what a kill leaves: the checkpoint is still the old one.
	killed := filepath.Join(t.TempDir(), "till.ledger")
	os.WriteFile(killed, readFile(t, l.Path()), 0o600)
	mustAppend(t, l, realisticSale(10))
	if cp := fileCheckpoint(); cp != 10 {
		t.Fatalf("checkpoint in the file after the next commit: %d, want 10", cp)
	}
	k := reopen(t, killed)
	if rep, err := k.VerifyRecent(); err != nil || rep.From != 0 || rep.Entries != 10 {
		t.Fatalf("VerifyRecent after a kill: %+v %v; want the 10 entries again", rep, err)
	}
	k.Close()
	// Close writes a checkpoint no commit took yet.
	if rep, err := l.VerifyRecent(); err != nil || rep.From != 10 || rep.Entries != 1 {
		t.Fatalf("VerifyRecent: %+v %v", rep, err)
	}
	path := l.Path()
	l.Close()
	l = reopen(t, path)
	if rep, err := l.VerifyRecent(); err != nil || rep.From != 11 || rep.Entries != 0 {
		t.Fatalf("VerifyRecent after Close: %+v %v; want nothing from 11", rep, err)
	}
}
