package hq_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// forgeTx is a well-formed entry of s042/till at seq that links to nothing the till wrote,
// with the receipt number given.
func forgeTx(t *testing.T, till string, seq uint64, receipt string) wire.Tx {
	t.Helper()
	return forgeLinked(t, till, seq, receipt, strings.Repeat("ab", 32))
}

// forgeLinked is forgeTx with the prev given: a forgery that links to the chain HQ holds.
func forgeLinked(t *testing.T, till string, seq uint64, receipt, prev string) wire.Tx {
	t.Helper()
	return entryTx(t, till, seq, receipt, prev, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

// TestOnlyTheVerifiedPrefixIsShown: an entry far above the watermark, and the entries
// above a gap, are held but never read as stored, by seq, by receipt or by central number;
// once the gap closes they are promoted and read like the others.
func TestOnlyTheVerifiedPrefixIsShown(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		k := hq.TillKey{Store: "s042", Till: "t01"}
		_, txs := tillEntries(t, "t01", 5)
		// A hostile entry far above the watermark that repeats the number of receipt 1, and
		// one with a number no verified receipt has.
		far := forgeTx(t, "t01", 60_000, txs[0].Entry.Receipt)
		farOwn := forgeTx(t, "t01", 65_000, journal.ReceiptNumber("S042-T01", 7777))
		res, err := hq.Ingest(ctx, st, batchOf(txs[0], txs[1], txs[3], far, farOwn))
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != 5 || res.Through[k] != 2 {
			t.Fatalf("ingest: %+v", res)
		}
		seen := func() []uint64 {
			var got []uint64
			if err := st.Entries(ctx, k, 0, func(r hq.Record) error { got = append(got, r.Seq); return nil }); err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := seen(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
			t.Fatalf("entries shown above the watermark: %v", got)
		}
		r, err := st.Lookup(ctx, txs[0].Entry.Receipt)
		if err != nil || r.Seq != 1 || r.Hash != txs[0].Entry.Hash {
			t.Fatalf("receipt 1 reads %+v, %v: want the till's seq 1", r, err)
		}
		for _, n := range []string{farOwn.Entry.Receipt, txs[3].Entry.Receipt} {
			if r, err := st.Lookup(ctx, n); !errors.Is(err, hq.ErrNotFound) {
				t.Fatalf("lookup %q above the watermark: %+v, %v; want ErrNotFound", n, r, err)
			}
		}
		// The gap closes: seq 4 is promoted with a central number, the forgeries stay out.
		res, err = hq.Ingest(ctx, st, batchOf(txs[2]))
		if err != nil || res.Through[k] != 4 {
			t.Fatalf("gap closed: %+v, %v", res, err)
		}
		r, err = st.Lookup(ctx, txs[3].Entry.Receipt)
		if err != nil || r.Seq != 4 || r.Central != hq.CentralNumber("s042", 4) {
			t.Fatalf("promoted receipt 4 reads %+v, %v", r, err)
		}
		if got, err := st.Lookup(ctx, r.Central); err != nil || got.Seq != 4 {
			t.Fatalf("central %s reads %+v, %v", r.Central, got, err)
		}
		if got := seen(); len(got) != 4 || got[3] != 4 {
			t.Fatalf("entries after the gap closed: %v", got)
		}
		if r, err := st.Lookup(ctx, farOwn.Entry.Receipt); !errors.Is(err, hq.ErrNotFound) {
			t.Fatalf("forgery at seq 2000000 reads %+v, %v", r, err)
		}
		if n, err := hq.Check(ctx, st, k); err != nil || n != 4 {
			t.Fatalf("check: %d, %v", n, err)
		}
	})
}

// signedEntries makes n sales of s042/till signed by a fresh device key.
func signedEntries(t *testing.T, till string, n int) (ed25519.PublicKey, []wire.Tx) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }
	l, err := ledger.Open(filepath.Join(t.TempDir(), till+".ledger"), &ledger.Options{Store: "s042", Till: till, Sign: sign})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out []wire.Tx
	for i := range n {
		res, err := l.Append(rig.Sale(i))
		if err != nil {
			t.Fatal(err)
		}
		tx, err := wire.DecodeTx(wire.Topic{Store: "s042", Till: till, Kind: wire.KindTx}, bytes.Clone(res.Raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tx)
	}
	return pub, out
}

// quarantinedAt returns the ids of the quarantined entries of k at seq, oldest first.
func quarantinedAt(t *testing.T, st hq.Store, k hq.TillKey, seq uint64) []uint64 {
	t.Helper()
	var ids []uint64
	err := st.Quarantined(context.Background(), func(q hq.Quarantine) error {
		if q.Store == k.Store && q.Till == k.Till && q.Seq == seq {
			ids = append(ids, q.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestForgeryAtThroughPlusOneResolved: a forged entry linked at through+1 is stored and
// acknowledged, and the till's own entries are quarantined on every resend. Accept (the
// till's signature proves its entry) or evict resolves it, and the till's entries are then
// stored up to its last seq; what the forgery had is never shown again.
func TestForgeryAtThroughPlusOneResolved(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		for _, how := range []string{"accept", "evict"} {
			till := map[string]string{"accept": "t01", "evict": "t02"}[how]
			k := hq.TillKey{Store: "s042", Till: till}
			key, txs := signedEntries(t, till, 6)
			if _, err := hq.Ingest(ctx, st, batchOf(txs[:3]...)); err != nil {
				t.Fatal(err)
			}
			forged := forgeLinked(t, till, 4, txs[3].Entry.Receipt, txs[2].Entry.Hash)
			if res, err := hq.Ingest(ctx, st, batchOf(forged)); err != nil || res.Through[k] != 4 {
				t.Fatalf("%s: forgery: %+v, %v", how, res, err)
			}
			for range 2 { // every resend is quarantined: seq 4 conflicts, seq 5 does not link
				res, err := hq.Ingest(ctx, st, batchOf(txs[3:]...))
				if err != nil || res.Through[k] != 4 || len(res.Alerts) != 2 {
					t.Fatalf("%s: resend: %+v, %v", how, res, err)
				}
			}
			if r, err := st.Lookup(ctx, txs[3].Entry.Receipt); err != nil || r.Hash != forged.Entry.Hash {
				t.Fatalf("%s: before: %+v, %v", how, r, err)
			}
			forgedCentral, _ := st.Lookup(ctx, txs[3].Entry.Receipt)
			switch how {
			case "accept":
				ids := quarantinedAt(t, st, k, 4)
				// Unsigned by the key, or with another key: refused, nothing changes.
				other, _, _ := ed25519.GenerateKey(nil)
				if _, err := hq.Accept(ctx, st, ids[0], other); !errors.Is(err, hq.ErrNotResolved) {
					t.Fatalf("accept with another key: %v", err)
				}
				res, err := hq.Accept(ctx, st, ids[0], key)
				if err != nil || !res.Stored || res.Removed != 1 || res.Through != 4 {
					t.Fatalf("accept: %+v, %v", res, err)
				}
				// The forgery, now quarantined and unsigned, cannot be accepted back.
				fq := quarantinedAt(t, st, k, 4)
				if _, err := hq.Accept(ctx, st, fq[len(fq)-1], key); !errors.Is(err, hq.ErrNotResolved) {
					t.Fatalf("accept of the forgery: %v", err)
				}
				// Seq 5 replayed promotes seq 6, held above it; the second copy of seq 5 is
				// a duplicate of what is now held, which resolves it too.
				ids = quarantinedAt(t, st, k, 5)
				if len(ids) != 2 {
					t.Fatalf("seq 5 quarantined %d times", len(ids))
				}
				if res, err := hq.Replay(ctx, st, ids[0]); err != nil || res.Through != 6 {
					t.Fatalf("replay seq 5: %+v, %v", res, err)
				}
				if res, err := hq.Replay(ctx, st, ids[1]); err != nil || !res.Stored {
					t.Fatalf("replay the copy of seq 5: %+v, %v", res, err)
				}
				if ids := quarantinedAt(t, st, k, 5); len(ids) != 0 {
					t.Fatalf("seq 5 still quarantined: %v", ids)
				}
			case "evict":
				res, err := hq.Evict(ctx, st, k, 4)
				if err != nil || res.Removed != 1 || res.Through != 3 {
					t.Fatalf("evict: %+v, %v", res, err)
				}
				if _, err := st.Lookup(ctx, txs[3].Entry.Receipt); !errors.Is(err, hq.ErrNotFound) {
					t.Fatalf("evicted receipt still read: %v", err)
				}
				// The till sends again.
				if res, err := hq.Ingest(ctx, st, batchOf(txs[3:]...)); err != nil || res.Through[k] != 6 || len(res.Alerts) != 0 {
					t.Fatalf("resend after evict: %+v, %v", res, err)
				}
			}
			if n, err := hq.Check(ctx, st, k); err != nil || n != 6 {
				t.Fatalf("%s: check: %d, %v", how, n, err)
			}
			r, err := st.Lookup(ctx, txs[3].Entry.Receipt)
			if err != nil || r.Hash != txs[3].Entry.Hash || r.Central == "" || r.Central == forgedCentral.Central {
				t.Fatalf("%s: receipt 4 reads %+v, %v (the forgery had central %s)", how, r, err, forgedCentral.Central)
			}
			if got, err := st.Lookup(ctx, forgedCentral.Central); !errors.Is(err, hq.ErrNotFound) {
				t.Fatalf("%s: the forgery's central %s reads %+v, %v", how, forgedCentral.Central, got, err)
			}
		}
	})
}
