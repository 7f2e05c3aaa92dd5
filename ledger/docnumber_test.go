package ledger

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"tillbox/ledger/journal"
)

// Receipt numbers come from the document counter: technical entries between documents
// leave no gaps, and the counter survives a reopen.
func TestReceiptNumbersAreConsecutiveAcrossTechnicalEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.ledger")
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		mustAppend(t, l, journal.Entry{Kind: journal.KindPowerUp})
		mustAppend(t, l, journal.Entry{Kind: journal.KindSignOn, Cashier: "anna"})
		got = append(got, mustAppend(t, l, sale(testClock(), 500)).Entry.Receipt)
	}
	l.Close()
	l, err = Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mustAppend(t, l, journal.Entry{Kind: journal.KindPowerUp})
	got = append(got, mustAppend(t, l, journal.Entry{Kind: journal.KindNoSale, Reason: "cash check"}).Entry.Receipt)
	want := []string{"S042-T03-000001", "S042-T03-000002", "S042-T03-000003", "S042-T03-000004"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("receipts %q, want %q", got, want)
		}
	}
	if _, err := l.Verify(); err != nil {
		t.Fatal(err)
	}
}

// A ledger written before the document counter existed numbered its documents by seq: its
// counter starts after the highest number in the receipt index, so no number repeats.
func TestLedgerWithoutDocumentCounterContinuesAboveItsReceipts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.ledger")
	l, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, journal.Entry{Kind: journal.KindPowerUp})
	mustAppend(t, l, sale(testClock(), 500))
	l.Close()
	// As the older format left it: no counter, the sale at seq 2 indexed as number 9 (seq
	// numbering after technical entries), and a receipt of another prefix.
	rawEdit(t, path, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Delete(keyLastDoc); err != nil {
			return err
		}
		r := tx.Bucket(bucketReceipts)
		if err := r.Delete([]byte("S042-T03-000001")); err != nil {
			return err
		}
		if err := r.Put([]byte("S042-T03-000009"), u64(2)); err != nil {
			return err
		}
		return r.Put([]byte("OTHER-000500"), u64(2))
	})
	l, err = Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, want := range []string{"S042-T03-000010", "S042-T03-000011"} {
		if got := mustAppend(t, l, sale(testClock(), 700)).Entry.Receipt; got != want {
			t.Fatalf("receipt %q, want %q", got, want)
		}
	}
}
