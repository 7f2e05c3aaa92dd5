package ledger

import (
	bolt "go.etcd.io/bbolt"
	"os"
	"testing"
)

// TestDiskBytesPerPayloadByte appends realistic sales one commit each, as the till does,
// and checks that the file holds at most 1.3 bytes per byte of stored entries (bbolt's
// default half-full split pages gave 2.2).
func TestDiskBytesPerPayloadByte(t *testing.T) {
	l := newLedger(t)
	l.db.NoSync = true // the layout does not depend on fsync; the test stays short
	var payload int64
	for i := 0; i < 3000; i++ {
		payload += int64(len(mustAppend(t, l, realisticSale(i)).Raw))
	}
	if _, err := l.Confirm(1000); err != nil {
		t.Fatal(err)
	}
	var used int64
	err := l.view("size", func(tx *bolt.Tx) error {
		used = tx.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st := l.db.Stats()
	inUse := used - int64(st.FreePageN+st.PendingPageN)*int64(l.db.Info().PageSize)
	ratio := float64(inUse) / float64(payload)
	t.Logf("%d entries, %d payload bytes, %d bytes in used pages: %.3f bytes per payload byte (file %d)", 3000, payload, inUse, ratio, fileSize(t, l.Path()))
	if ratio > 1.3 {
		t.Fatalf("%.3f bytes on disk per payload byte, want at most 1.3", ratio)
	}
}

func fileSize(t testing.TB, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
