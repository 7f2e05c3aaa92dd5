package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"tillbox/ledger/journal"
)

// TestSignedEntriesStoreTheSignatureAfterTheHash: with Options.Sign each entry carries the
// device signature of its hash, the stored bytes are still exactly json.Marshal of the
// entry (the wire payload), the hash and chain are unchanged by the signature, and the
// file verifies.
func TestSignedEntriesStoreTheSignatureAfterTheHash(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	o := testOpts()
	o.Clock = testClock
	o.Sign = func(msg []byte) ([]byte, error) { return ed25519.Sign(priv, msg), nil }
	l, err := Open(filepath.Join(t.TempDir(), "till.ledger"), o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 3; i++ {
		res, err := l.Append(journal.Entry{Kind: journal.KindSale, Currency: "EUR", Totals: &journal.Totals{Gross: 100}})
		if err != nil {
			t.Fatal(err)
		}
		e := res.Entry
		if e.Sig == "" {
			t.Fatal("entry not signed")
		}
		again, _ := json.Marshal(&e)
		if !bytes.Equal(again, res.Raw) {
			t.Fatalf("stored bytes are not the entry's encoding:\n%s\n%s", res.Raw, again)
		}
		if !bytes.HasSuffix(res.Raw, []byte(`","sig":"`+e.Sig+`"}`)) {
			t.Fatalf("sig is not the last field: %s", res.Raw)
		}
		sig, err := base64.RawURLEncoding.DecodeString(e.Sig)
		if err != nil || !ed25519.Verify(pub, journal.SigMessage(e.Hash), sig) {
			t.Fatalf("signature does not verify: %v", err)
		}
		if err := e.CheckHash(); err != nil {
			t.Fatalf("hash with a signature present: %v", err)
		}
		unsigned := e
		unsigned.Sig = ""
		if h, _ := unsigned.ComputeHash(); h != e.Hash {
			t.Fatal("the signature changed the hash")
		}
	}
	if rep, err := l.Verify(); err != nil || rep.Entries != 3 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// TestSignFailureStoresNothing: a signer that fails fails the Append whole.
func TestSignFailureStoresNothing(t *testing.T) {
	o := testOpts()
	o.Sign = func([]byte) ([]byte, error) { return nil, errors.New("key unavailable") }
	l, err := Open(filepath.Join(t.TempDir(), "till.ledger"), o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(journal.Entry{Kind: journal.KindPowerUp}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("append with a failing signer: %v", err)
	}
	if last, _ := l.LastSeq(); last != 0 {
		t.Fatalf("last seq %d after a failed sign", last)
	}
}
