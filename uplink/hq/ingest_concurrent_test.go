package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tillbox/ledger/journal"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// salesOf makes n chained sales of till k from seq 1, as its ledger would.
func salesOf(t *testing.T, k TillKey, n int) []Incoming {
	t.Helper()
	prev := journal.GenesisPrev
	out := make([]Incoming, 0, n)
	for i := range n {
		e := rig.Sale(i)
		e.V, e.Store, e.Till, e.Seq, e.Prev = journal.FormatVersion, k.Store, k.Till, uint64(i+1), prev
		e.Receipt = journal.ReceiptNumber(journal.DefaultPrefix(k.Store, k.Till), e.Seq)
		e.At = time.Date(2026, 11, 1, 8, 0, i, 0, time.UTC)
		h, err := e.ComputeHash()
		if err != nil {
			t.Fatal(err)
		}
		e.Hash = h
		raw, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := wire.DecodeEntry(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Incoming{Tx: tx, Source: "mqtt"})
		prev = h
	}
	return out
}

// checkHeld fails unless every till of chains is stored exactly once through its last
// seq with its chain verified, every document projected once, and each store's central
// numbers gapless.
func checkHeld(t *testing.T, ctx context.Context, st Store, url string, chains map[TillKey][]Incoming) {
	t.Helper()
	total := 0
	perStore := map[string]int{}
	for k, c := range chains {
		n, err := Check(ctx, st, k)
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
		if n != len(c) {
			t.Errorf("%s: %d entries verified, want %d", k, n, len(c))
		}
		total += len(c)
		perStore[k.Store] += len(c)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var entries, docs, distinct int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM hq_entries), (SELECT count(*) FROM hq_documents),
	(SELECT count(DISTINCT central) FROM hq_documents)`).Scan(&entries, &docs, &distinct); err != nil {
		t.Fatal(err)
	}
	if entries != total || docs != total || distinct != total {
		t.Errorf("held %d entries, %d documents, %d central numbers; want %d of each", entries, docs, distinct, total)
	}
	for store, n := range perStore {
		var next, numbered, top int64
		if err := conn.QueryRow(ctx, `SELECT (SELECT central_next FROM hq_stores WHERE store = $1),
	(SELECT coalesce(sum(cardinality(seqs)), 0) FROM hq_central_runs WHERE store = $1),
	(SELECT coalesce(max(first + cardinality(seqs) - 1), 0) FROM hq_central_runs WHERE store = $1)`, store).Scan(&next, &numbered, &top); err != nil {
			t.Fatal(err)
		}
		if next != int64(n) || numbered != int64(n) || top != int64(n) {
			t.Errorf("store %s: central_next %d, %d numbered, highest %d; want %d each (gapless)", store, next, numbered, top, n)
		}
	}
}

// TestIngestLeavesHeldTillsForLater: a batch whose tills' heads another transaction holds
// stores the other tills' entries at once and leaves those tills' entries to a second
// transaction, which waits for the heads and then stores them.
func TestIngestLeavesHeldTillsForLater(t *testing.T) {
	pg := rig.StartPostgres(t)
	ctx := context.Background()
	if err := Migrate(ctx, pg.URL); err != nil {
		t.Fatal(err)
	}
	st, err := OpenPostgres(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	free, held := TillKey{"s1", "t1"}, TillKey{"s1", "t2"}
	chains := map[TillKey][]Incoming{free: salesOf(t, free, 10), held: salesOf(t, held, 10)}
	// Both tills' heads exist: the first five of each.
	if _, err := Ingest(ctx, st, Batch{Entries: append(append([]Incoming(nil), chains[free][:5]...), chains[held][:5]...)}); err != nil {
		t.Fatal(err)
	}
	// Another transaction holds the held till's head (and no store row).
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	other, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `SELECT 1 FROM hq_tills WHERE store = $1 AND till = $2 FOR UPDATE`, held.Store, held.Till); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Ingest(ctx, st, Batch{Entries: append(append([]Incoming(nil), chains[held][5:]...), chains[free][5:]...)})
		done <- outcome{res, err}
	}()
	// The free till is stored through its last seq while the other transaction still
	// holds the held till's head.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		n, err := st.Through(ctx, free)
		if err != nil {
			t.Fatal(err)
		}
		if n == 10 {
			break
		}
		select {
		case o := <-done:
			t.Fatalf("the batch finished (%+v, %v) before the held till's head was released; the free till is at %d", o.res, o.err, n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the free till stayed at %d while another transaction held the other till", n)
		}
	}
	if n, err := st.Through(ctx, held); err != nil || n != 5 {
		t.Fatalf("held till at %d (%v), want 5 while its head is held", n, err)
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Stored != 10 || o.res.Deferred != 5 || o.res.Through[held] != 10 || o.res.Through[free] != 10 || !o.res.Moved[held] {
		t.Fatalf("result %+v: want 10 stored, 5 deferred, both tills through 10", o.res)
	}
	checkHeld(t, ctx, st, pg.URL, chains)
}

// TestTwoConsumersShareTills: two stores on one database (two tillhq processes), fed the
// same tills' entries in overlapping batches at the same time, with some entries given
// to both: every entry is stored once, every chain verifies through its last seq, every
// document is projected once, central numbers stay gapless, and batches did leave tills
// held by the other for later.
func TestTwoConsumersShareTills(t *testing.T) {
	pg := rig.StartPostgres(t)
	ctx := context.Background()
	if err := Migrate(ctx, pg.URL); err != nil {
		t.Fatal(err)
	}
	stores := make([]Store, 2)
	for i := range stores {
		st, err := OpenPostgres(ctx, pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[i] = st
	}
	chains := map[TillKey][]Incoming{}
	var all []Incoming
	const tills, entries = 24, 60
	for i := range tills {
		k := TillKey{fmt.Sprintf("s%d", i%4), fmt.Sprintf("t%02d", i)}
		chains[k] = salesOf(t, k, entries)
	}
	// The fleet's entries interleaved by seq, as a broker spreads a storm: each consumer
	// takes every other run of 30, and a tenth of them the other one too (a resend).
	for seq := range entries {
		for i := range tills {
			all = append(all, chains[TillKey{fmt.Sprintf("s%d", i%4), fmt.Sprintf("t%02d", i)}][seq])
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	feeds := make([][]Incoming, 2)
	for i := 0; i < len(all); i += 30 {
		run := all[i:min(i+30, len(all))]
		n := (i / 30) % 2
		feeds[n] = append(feeds[n], run...)
		for _, in := range run {
			if rnd.IntN(10) == 0 {
				feeds[1-n] = append(feeds[1-n], in)
			}
		}
	}
	var deferred, stored [2]int
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for n := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := feeds[n]
			for i := 0; i < len(f); i += 90 {
				res, err := Ingest(ctx, stores[n], Batch{Entries: f[i:min(i+90, len(f))]})
				if err != nil {
					errs <- err
					return
				}
				deferred[n] += res.Deferred
				stored[n] += res.Stored
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("stored %d + %d, deferred %d + %d", stored[0], stored[1], deferred[0], deferred[1])
	if stored[0]+stored[1] != tills*entries {
		t.Errorf("stored %d + %d, want %d in all", stored[0], stored[1], tills*entries)
	}
	if deferred[0]+deferred[1] == 0 {
		t.Error("no batch left a till held by the other consumer for later: the path under test did not run")
	}
	checkHeld(t, ctx, stores[0], pg.URL, chains)
}
