package hq_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// TestMigrateFromVersion1: a database as the first schema left it (central numbers one row
// per receipt) keeps its entries and numbers through Migrate, and numbering goes on from
// where it stopped.
func TestMigrateFromVersion1(t *testing.T) {
	pg := rig.StartPostgres(t)
	ctx := context.Background()
	if err := hq.MigrateTo(ctx, pg.URL, 1); err != nil {
		t.Fatal(err)
	}
	_, txs := tillEntries(t, "t01", 6)
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Seqs 1-4 stored and verified by version 1, with central numbers 1-4 of store s042.
	for _, tx := range txs[:4] {
		e := tx.Entry
		if _, err := conn.Exec(ctx, `INSERT INTO hq_entries (store, till, seq, hash, prev, kind, receipt, at, raw, source)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'mqtt')`, e.Store, e.Till, int64(e.Seq), e.Hash, e.Prev, string(e.Kind), e.Receipt, e.At, tx.Raw); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO hq_central (central, store, till, seq) VALUES ($1, $2, $3, $4)`,
			hq.CentralNumber(e.Store, e.Seq), e.Store, e.Till, int64(e.Seq)); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO hq_tills (store, till, through, through_hash) VALUES ('s042', 't01', 4, '` + txs[3].Entry.Hash + `')`,
		`INSERT INTO hq_stores (store, central_next) VALUES ('s042', 4)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hq.OpenPostgres(ctx, pg.URL); err == nil {
		t.Fatal("a version 1 database opened without migrating")
	}

	if err := hq.Migrate(ctx, pg.URL); err != nil {
		t.Fatal(err)
	}
	st, err := hq.OpenPostgres(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := hq.Ingest(ctx, st, batchOf(txs[4:]...))
	k := hq.TillKey{Store: "s042", Till: "t01"}
	if err != nil || res.Stored != 2 || res.Through[k] != 6 {
		t.Fatalf("ingest after migrating: %+v, %v", res, err)
	}
	for seq := uint64(1); seq <= 6; seq++ {
		r, err := st.Lookup(ctx, hq.CentralNumber("s042", seq))
		if err != nil || r.Seq != seq || r.Receipt != journal.ReceiptNumber("S042-T01", seq) {
			t.Fatalf("central %d: %+v, %v", seq, r, err)
		}
		if byReceipt, err := st.Lookup(ctx, r.Receipt); err != nil || byReceipt.Central != hq.CentralNumber("s042", seq) {
			t.Fatalf("receipt %s: %+v, %v", r.Receipt, byReceipt, err)
		}
	}
	if n, err := hq.Check(ctx, st, k); err != nil || n != 6 {
		t.Fatalf("check: %d, %v", n, err)
	}
	// The projection holds what version 1 stored (projected by the migration) and what
	// came after, each with its central number.
	rows, err := conn.Query(ctx, `SELECT seq, receipt, central FROM hq_receipts ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seq := uint64(0)
	for rows.Next() {
		var q int64
		var receipt, central string
		if err := rows.Scan(&q, &receipt, &central); err != nil {
			t.Fatal(err)
		}
		seq++
		if uint64(q) != seq || receipt != journal.ReceiptNumber("S042-T01", seq) || central != hq.CentralNumber("s042", seq) {
			t.Fatalf("projected receipt %d: seq %d, %s, %s", seq, q, receipt, central)
		}
	}
	if rows.Err() != nil || seq != 6 {
		t.Fatalf("%d receipts projected, want 6 (%v)", seq, rows.Err())
	}
}

// TestCentralNumbersAcrossTills: the store's numbers follow the order HQ verified the
// entries in, across tills and commits, and entries without a receipt get none.
func TestCentralNumbersAcrossTills(t *testing.T) {
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		l1, a := tillEntries(t, "t01", 3)
		_, b := tillEntries(t, "t02", 3)
		res, err := l1.Append(journal.Entry{Kind: journal.KindPowerUp})
		if err != nil {
			t.Fatal(err)
		}
		power, err := wire.DecodeEntry(res.Raw)
		if err != nil {
			t.Fatal(err)
		}
		// One commit: t01 seqs 1-2, then t02 seqs 1-3 (tills in id order).
		if _, err := hq.Ingest(ctx, st, batchOf(b[0], a[0], b[1], a[1], b[2])); err != nil {
			t.Fatal(err)
		}
		// The next: t01 seq 3 and its power-up (seq 4, no receipt).
		if _, err := hq.Ingest(ctx, st, batchOf(power, a[2])); err != nil {
			t.Fatal(err)
		}
		want := map[hq.TillKey][]string{
			{Store: "s042", Till: "t01"}: {"S042-C000000001", "S042-C000000002", "S042-C000000006", ""},
			{Store: "s042", Till: "t02"}: {"S042-C000000003", "S042-C000000004", "S042-C000000005"},
		}
		for k, centrals := range want {
			var got []string
			st.Entries(ctx, k, 0, func(r hq.Record) error { got = append(got, r.Central); return nil })
			if len(got) != len(centrals) {
				t.Fatalf("%s: centrals %q, want %q", k, got, centrals)
			}
			for i := range got {
				if got[i] != centrals[i] {
					t.Fatalf("%s: centrals %q, want %q", k, got, centrals)
				}
				if got[i] == "" {
					continue
				}
				r, err := st.Lookup(ctx, got[i])
				if err != nil || r.TillKey != k || r.Seq != uint64(i+1) {
					t.Fatalf("lookup %s: %+v, %v", got[i], r, err)
				}
			}
		}
	})
}
