package hq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// tillEntries makes n sales in a fresh ledger of s042/till and returns their payloads.
func tillEntries(t *testing.T, till string, n int) (*ledger.Ledger, []wire.Tx) {
	return tillEntriesFrom(t, till, 0, n)
}

// tillEntriesFrom is tillEntries with sales numbered from first, so that two ledgers of
// the same till differ in content.
func tillEntriesFrom(t *testing.T, till string, first, n int) (*ledger.Ledger, []wire.Tx) {
	t.Helper()
	l, err := ledger.Open(filepath.Join(t.TempDir(), till+".ledger"), &ledger.Options{Store: "s042", Till: till})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var out []wire.Tx
	for i := 0; i < n; i++ {
		res, err := l.Append(rig.Sale(first + i))
		if err != nil {
			t.Fatal(err)
		}
		tx, err := wire.DecodeTx(wire.Topic{Store: "s042", Till: till, Kind: wire.KindTx}, bytes.Clone(res.Raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tx)
	}
	return l, out
}

func batchOf(txs ...wire.Tx) hq.Batch {
	var b hq.Batch
	for _, tx := range txs {
		b.Entries = append(b.Entries, hq.Incoming{Tx: tx, Source: "mqtt"})
	}
	return b
}

// stores runs f against each store kind: bbolt, and PostgreSQL started for the test.
func stores(t *testing.T, f func(t *testing.T, st hq.Store)) {
	t.Run("bolt", func(t *testing.T) {
		st, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		f(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		pg := rig.StartPostgres(t)
		ctx := context.Background()
		if _, err := hq.OpenPostgres(ctx, pg.URL); !errors.Is(err, hq.ErrSchema) {
			t.Fatalf("open before migrate: %v, want ErrSchema", err)
		}
		for range 2 { // migrate is idempotent
			if err := hq.Migrate(ctx, pg.URL); err != nil {
				t.Fatal(err)
			}
		}
		st, err := hq.Open(ctx, pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		f(t, st)
	})
}

func TestIngestRules(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		_, txs := tillEntries(t, "t01", 10)
		k := hq.TillKey{Store: "s042", Till: "t01"}

		// Out of order with a gap: stored, but the watermark stops at the gap.
		res, err := hq.Ingest(ctx, st, batchOf(txs[4], txs[0], txs[2], txs[1]))
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != 4 || res.Through[k] != 3 || !res.Moved[k] {
			t.Fatalf("first batch: %+v", res)
		}
		// The gap filled, with duplicates in and across batches.
		res, err = hq.Ingest(ctx, st, batchOf(txs[3], txs[3], txs[0], txs[5]))
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != 2 || res.Duplicates != 2 || res.Through[k] != 6 || !res.Resent[k] {
			t.Fatalf("second batch: %+v", res)
		}
		// The same key with another hash: a conflict, quarantined, the held entry kept.
		_, other := tillEntriesFrom(t, "t01", 1000, 8)
		res, err = hq.Ingest(ctx, st, batchOf(other[7], other[2]))
		if err != nil {
			t.Fatal(err)
		}
		if res.Quarantined != 1 || res.Stored != 1 || res.Through[k] != 6 || res.Moved[k] {
			t.Fatalf("conflict batch: %+v", res)
		}
		// other[7] was new as a key but does not link: the chain check removes it once the
		// watermark reaches it.
		res, err = hq.Ingest(ctx, st, batchOf(txs[6]))
		if err != nil {
			t.Fatal(err)
		}
		if res.Through[k] != 7 || res.Quarantined != 1 {
			t.Fatalf("chain batch: %+v", res)
		}
		res, err = hq.Ingest(ctx, st, batchOf(txs[7:]...))
		if err != nil {
			t.Fatal(err)
		}
		if res.Through[k] != 10 {
			t.Fatalf("final batch: %+v", res)
		}
		if n, err := hq.Check(ctx, st, k); err != nil || n != 10 {
			t.Fatalf("check: %d, %v", n, err)
		}
		var reasons []string
		st.Quarantined(ctx, func(q hq.Quarantine) error { reasons = append(reasons, q.Reason); return nil })
		if len(reasons) != 2 || !strings.Contains(reasons[0], "conflict") || !strings.Contains(reasons[1], "broken chain") {
			t.Fatalf("quarantine = %q", reasons)
		}
		// As fleet events, each names its kind once.
		for i, want := range []string{"conflict", "broken-chain"} {
			kind, detail := hq.AlertKind(reasons[i])
			if kind != want || !strings.HasPrefix(detail, "seq ") {
				t.Errorf("alert %q: kind %q, detail %q; want %s and the detail from seq on", reasons[i], kind, detail, want)
			}
		}
		var held []byte
		st.Entries(ctx, k, 7, func(r hq.Record) error {
			if r.Seq == 8 {
				held = r.Raw
			}
			return nil
		})
		if !bytes.Equal(held, txs[7].Raw) {
			t.Fatal("seq 8 is not the till's own entry")
		}

		// Central numbers: one per receipt, in verification order; lookups by either.
		r, err := st.Lookup(ctx, "S042-T01-000003")
		if err != nil || r.Seq != 3 || r.Central == "" {
			t.Fatalf("lookup by receipt: %+v, %v", r, err)
		}
		r2, err := st.Lookup(ctx, r.Central)
		if err != nil || r2.Seq != 3 || r2.Receipt != "S042-T01-000003" {
			t.Fatalf("lookup by central %q: %+v, %v", r.Central, r2, err)
		}
		if r.Central != hq.CentralNumber("s042", 3) {
			t.Fatalf("central of seq 3 = %q", r.Central)
		}
		for _, n := range []string{"S042-T01-999999", hq.CentralNumber("s042", 11), "S042-C3", "s042-C000000003", "-C000000003", "S042-C"} {
			if _, err := st.Lookup(ctx, n); !errors.Is(err, hq.ErrNotFound) {
				t.Fatalf("lookup of %q: %v, want ErrNotFound", n, err)
			}
		}
		// Verified in seq order over five commits: seq n is the store's n-th receipt.
		err = st.Entries(ctx, k, 0, func(r hq.Record) error {
			if want := hq.CentralNumber("s042", r.Seq); r.Central != want {
				return fmt.Errorf("seq %d has central %q, want %q", r.Seq, r.Central, want)
			}
			if got, err := st.Lookup(ctx, r.Central); err != nil || got.Seq != r.Seq || got.Till != "t01" {
				return fmt.Errorf("lookup %q: %+v, %v", r.Central, got, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		tills, err := st.Tills(ctx)
		if err != nil || len(tills) != 1 || tills[0].Through != 10 || tills[0].Hash != txs[9].Entry.Hash {
			t.Fatalf("tills = %+v, %v", tills, err)
		}
	})
}

func TestImportIsIdempotent(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		l, _ := tillEntries(t, "t07", 120)
		if _, err := l.Confirm(20); err != nil { // HQ already had the first 20 over MQTT
			t.Fatal(err)
		}
		var export bytes.Buffer
		if _, err := l.Export(&export); err != nil {
			t.Fatal(err)
		}
		k := hq.TillKey{Store: "s042", Till: "t07"}
		var early bytes.Buffer
		l.After(0, 20, func(_ *journal.Entry, raw []byte) bool { early.Write(raw); early.WriteByte('\n'); return true })
		if _, err := hq.Import(ctx, st, &early, 7); err != nil {
			t.Fatal(err)
		}
		file := export.Bytes()
		res, err := hq.Import(ctx, st, bytes.NewReader(file), 50)
		if err != nil || res.Stored != 100 || res.Through[k] != 120 {
			t.Fatalf("import: %+v, %v", res, err)
		}
		res, err = hq.Import(ctx, st, bytes.NewReader(file), 50)
		if err != nil || res.Stored != 0 || res.Duplicates != 100 || res.Quarantined != 0 {
			t.Fatalf("import again: %+v, %v", res, err)
		}
		// A line that is not JSON, and a line re-spaced by some editor: its content is the
		// same but its bytes are not the till's, so it is quarantined, not stored.
		bad := append([]byte("not a line\n"), bytes.Replace(file, []byte(`"v":1`), []byte(`"v": 1`), 1)...)
		res, err = hq.Import(ctx, st, bytes.NewReader(bad), 50)
		if err != nil || res.Quarantined != 2 || res.Stored != 0 || res.Duplicates != 99 {
			t.Fatalf("import with a bad line: %+v, %v", res, err)
		}
		if n, err := hq.Check(ctx, st, k); err != nil || n != 120 {
			t.Fatalf("check: %d, %v", n, err)
		}
	})
}

// TestPendingAboveAGapIsBounded: an entry held above a gap is at most MaxPending above
// its till's watermark; one beyond is let go and counted, not stored, and the till's
// resend of it, once the watermark has come near, is stored like any other.
func TestPendingAboveAGapIsBounded(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		k := hq.TillKey{Store: "s042", Till: "t01"}
		_, txs := tillEntries(t, "t01", 3)
		edge := forgeTx(t, "t01", 1+hq.MaxPending, journal.ReceiptNumber("S042-T01", 7777))
		beyond := forgeTx(t, "t01", 2+hq.MaxPending, journal.ReceiptNumber("S042-T01", 7778))
		ingest := func(b hq.Batch) hq.Result {
			t.Helper()
			res, err := hq.Ingest(ctx, st, b)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := ingest(batchOf(txs[0], txs[2], edge, beyond)); res.Stored != 3 || res.LetGo != 1 || res.Through[k] != 1 {
			t.Fatalf("with a gap: stored %d, let go %d, through %d; want 3, 1, 1", res.Stored, res.LetGo, res.Through[k])
		}
		if res := ingest(batchOf(txs[1])); res.Stored != 1 || res.Through[k] != 3 {
			t.Fatalf("gap closed: stored %d, through %d; want 1, 3", res.Stored, res.Through[k])
		}
		// The one held is a duplicate when sent again; the one let go is new.
		if res := ingest(batchOf(edge, beyond)); res.Stored != 1 || res.Duplicates != 1 || res.LetGo != 0 {
			t.Fatalf("sent again: stored %d, duplicates %d, let go %d; want 1, 1, 0", res.Stored, res.Duplicates, res.LetGo)
		}
		if n, err := hq.Check(ctx, st, k); err != nil || n != 3 {
			t.Fatalf("check: %d, %v", n, err)
		}
	})
}
