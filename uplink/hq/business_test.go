package hq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/jackc/pgx/v5"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// tradingDoc is a document of the business view's tests: a sale of gross paid by card
// and cash (cash handed over, change given back), a refund, or a cash move.
func tradingDoc(kind journal.Kind, at time.Time, gross, card, cashGiven int64) journal.Entry {
	e := journal.Entry{Kind: kind, At: at, Cashier: "c1", Currency: "PLN",
		Lines:  []journal.Line{{Item: "1001", Name: "Bread", Qty: 1000, Price: gross, Amount: gross, Tax: "B"}},
		Totals: &journal.Totals{Gross: gross}}
	if card != 0 {
		e.Tenders = append(e.Tenders, journal.Tender{Kind: "card", Amount: card, Ref: "T1"})
	}
	if cashGiven != 0 {
		e.Tenders = append(e.Tenders, journal.Tender{Kind: "cash", Amount: cashGiven})
		if kind == journal.KindSale {
			e.Totals.Change = cashGiven - (gross - card)
		}
	}
	if kind == journal.KindRefund {
		e.Lines[0].Qty, e.Lines[0].Amount, e.Ref = -1000, gross, "R1"
	}
	if kind == journal.KindCashIn {
		e.Lines = nil
	}
	return e
}

// ledgerTxs journals docs in a fresh ledger of store/till and returns their payloads.
func ledgerTxs(t *testing.T, store, till string, docs []journal.Entry) []wire.Tx {
	t.Helper()
	l, err := ledger.Open(filepath.Join(t.TempDir(), store+till+".ledger"), &ledger.Options{Store: store, Till: till})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out []wire.Tx
	for _, d := range docs {
		res, err := l.Append(d)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := wire.DecodeTx(wire.Topic{Store: store, Till: till, Kind: wire.KindTx}, bytes.Clone(res.Raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tx)
	}
	return out
}

// The business view counts a trading day by the stated zone (Europe/Warsaw, UTC+1 in
// March): a sale at 23:30 UTC belongs to the next day there. Only verified documents
// count: an entry above a gap is pending and not shown; a conflict is quarantined, shown
// as such, and changes no figure. Change given back is taken off cash. Both stores give
// the same figures.
func TestBusinessViewTakingsByTradingDay(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		at, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	stores(t, func(t *testing.T, st hq.Store) {
		ctx := context.Background()
		t01 := ledgerTxs(t, "s042", "t01", []journal.Entry{
			tradingDoc(journal.KindSale, utc("2026-03-01 22:30"), 1000, 0, 1000),    // 23:30 on the 1st in Warsaw
			tradingDoc(journal.KindSale, utc("2026-03-01 23:30"), 1649, 0, 2000),    // 00:30 on the 2nd: change 351
			{Kind: journal.KindPowerUp, At: utc("2026-03-02 07:00")},                // no receipt, no takings
			tradingDoc(journal.KindCashIn, utc("2026-03-02 07:01"), 5000, 0, 5000),  // a cash move, not takings
			tradingDoc(journal.KindSale, utc("2026-03-02 09:00"), 2599, 1000, 1599), // card and exact cash
			tradingDoc(journal.KindRefund, utc("2026-03-02 10:00"), -450, 0, -450),  // paid back in cash
			tradingDoc(journal.KindSale, utc("2026-03-02 22:59"), 300, 300, 0),      // 23:59 on the 2nd
			tradingDoc(journal.KindSale, utc("2026-03-02 23:00"), 7777, 0, 7777),    // 00:00 on the 3rd
		})
		t02 := ledgerTxs(t, "s042", "t02", []journal.Entry{
			tradingDoc(journal.KindSale, utc("2026-03-02 12:00"), 1200, 0, 1200),
			tradingDoc(journal.KindSale, utc("2026-03-02 12:05"), 100, 0, 100), // never sent
			tradingDoc(journal.KindSale, utc("2026-03-02 12:10"), 500, 0, 500), // pending above the gap
		})
		t03 := ledgerTxs(t, "s043", "t03", []journal.Entry{
			tradingDoc(journal.KindSale, utc("2026-03-02 13:00"), 990, 990, 0),
		})
		// t03's seq 1 again, with another content: a conflict.
		other := ledgerTxs(t, "s043", "t03", []journal.Entry{tradingDoc(journal.KindSale, utc("2026-03-02 13:00"), 1, 1, 0)})
		b := batchOf(append(append(t01, t02[0], t02[2]), t03...)...)
		if _, err := hq.Ingest(ctx, st, b); err != nil {
			t.Fatal(err)
		}
		res, err := hq.Ingest(ctx, st, batchOf(other...))
		if err != nil || res.Quarantined != 1 {
			t.Fatalf("conflict: %+v, %v", res, err)
		}

		day, err := hq.ParseDay("2026-03-02", warsaw)
		if err != nil {
			t.Fatal(err)
		}
		if !day.From.Equal(utc("2026-03-01 23:00")) || !day.To.Equal(utc("2026-03-02 23:00")) || day.Zone != "Europe/Warsaw" {
			t.Fatalf("day %+v", day)
		}
		got, err := hq.DayTakings(ctx, st, day)
		if err != nil {
			t.Fatal(err)
		}
		last := func(s string) *time.Time { at := utc(s); return &at }
		want := []hq.Takings{
			{Store: "s042", Till: "t01", Currency: "PLN", Sales: 3, Refunds: 1, Gross: 1649 + 2599 - 450 + 300,
				Tenders: map[string]int64{"cash": 2000 - 351 + 1599 - 450, "card": 1000 + 300}, Last: last("2026-03-02 22:59")},
			{Store: "s042", Till: "t02", Currency: "PLN", Sales: 1, Gross: 1200, Tenders: map[string]int64{"cash": 1200}, Last: last("2026-03-02 12:00")},
			{Store: "s043", Till: "t03", Currency: "PLN", Sales: 1, Gross: 990, Tenders: map[string]int64{"card": 990}, Last: last("2026-03-02 13:00")},
		}
		if a, b := jsonOf(t, got), jsonOf(t, want); a != b {
			t.Fatalf("takings of %s:\n got %s\nwant %s", day.Date, a, b)
		}
		// The day before and the day after, by the same zone.
		for _, c := range []struct {
			day   string
			gross int64
		}{{"2026-03-01", 1000}, {"2026-03-03", 7777}} {
			d, _ := hq.ParseDay(c.day, warsaw)
			ts, err := hq.DayTakings(ctx, st, d)
			if err != nil || len(ts) != 1 || ts[0].Gross != c.gross || ts[0].Sales != 1 {
				t.Errorf("takings of %s: %+v, %v; want one sale of %d", c.day, ts, err, c.gross)
			}
		}

		// The dashboard: today in Warsaw at 10:00 UTC is the 2nd.
		view := hq.NewFleetView("tillbox/v1")
		status := func(store, till, version string, catalog uint64) {
			now := utc("2026-03-02 09:59")
			p, _ := wire.EncodeStatus(wire.Status{State: "online", At: &now, Version: version, Catalog: catalog})
			view.Observe("tillbox/v1/"+store+"/"+till+"/status", p)
		}
		status("s042", "t01", "1.4.2", 7)
		status("s042", "t02", "1.4.2", 6)
		status("s043", "t03", "1.5.0", 7)
		status("s043", "t04", "1.5.0", 7) // took nothing
		view.RecordConflict(hq.TillKey{Store: "s043", Till: "t03"}, "conflict", "seq 1 held with another hash")
		d := &hq.Dashboard{View: view, Store: st, TradingZone: warsaw, Now: func() time.Time { return utc("2026-03-02 10:00") }}
		var bv hq.BusinessView
		w := httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest("GET", "/api/business", nil))
		if err := json.Unmarshal(w.Body.Bytes(), &bv); err != nil {
			t.Fatalf("%v: %s", err, w.Body)
		}
		if bv.Day.Date != "2026-03-02" || len(bv.Tills) != 4 || bv.Tills[3].Till != "t04" || bv.Tills[3].Receipts() != 0 {
			t.Errorf("days and tills: %s", jsonOf(t, bv.Tills))
		}
		if len(bv.Stores) != 2 || bv.Stores[0].Gross != 1649+2599-450+300+1200 || bv.Stores[0].Receipts() != 5 || bv.Stores[1].Gross != 990 {
			t.Errorf("stores: %s", jsonOf(t, bv.Stores))
		}
		if len(bv.Fleet) != 1 || bv.Fleet[0].Gross != 1649+2599-450+300+1200+990 || bv.Fleet[0].Tenders["card"] != 1300+990 {
			t.Errorf("fleet: %s", jsonOf(t, bv.Fleet))
		}
		if a := jsonOf(t, bv.Firmware); a != `[{"version":"1.5.0","tills":2,"stores":["s043"]},{"version":"1.4.2","tills":2,"stores":["s042"]}]` {
			t.Errorf("firmware: %s", a)
		}
		if a := jsonOf(t, bv.Catalogs); a != `[{"store":"s042","version":7,"tills":1},{"store":"s042","version":6,"tills":1},{"store":"s043","version":7,"tills":2}]` {
			t.Errorf("catalogs: %s", a)
		}
		if len(bv.Integrity) != 1 || bv.Integrity[0].Till != "t03" || bv.Integrity[0].Kind != "conflict" || bv.Integrity[0].Conflicts != 1 {
			t.Errorf("integrity: %s", jsonOf(t, bv.Integrity))
		}
		if bv.QuarantineTotal != 1 || len(bv.Quarantine) != 1 || bv.Quarantine[0].Till != "t03" || bv.Quarantine[0].Reason != "conflict" {
			t.Errorf("quarantine: %s", jsonOf(t, bv.Quarantine))
		}
		// The page shows the same figures.
		w = httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest("GET", "/business", nil))
		page := w.Body.String()
		for _, want := range []string{"Trading day <b>2026-03-02</b> (Europe/Warsaw: 2026-03-01 23:00:00 to 2026-03-02 23:00:00 UTC)",
			`<tr id="till-s042-t01-PLN"><td>s042</td><td>t01</td><td>PLN</td><td class="num">4</td><td class="num">3</td><td class="num">1</td><td class="num">40.98</td><td>card 13.00, cash 27.98</td><td>23:59</td></tr>`,
			`<tr id="till-s043-t04"><td>s043</td><td>t04</td>`, `<td>1.5.0</td><td class="num">2</td><td>s043</td>`,
			"conflict: seq 1 held with another hash", "Held in the quarantine: 1"} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		if t.Failed() {
			t.Logf("page:\n%s", page)
		}
		w = httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest("GET", "/api/business?day=2026-13-01", nil))
		if w.Code != 400 || !strings.Contains(w.Body.String(), "want YYYY-MM-DD") {
			t.Errorf("a bad day: %d %s", w.Code, w.Body)
		}
	})
}

// migratedPostgres is a store on a new, migrated PostgreSQL of the rig and a connection
// to it for a test's own SQL, both closed by Cleanup.
func migratedPostgres(tb testing.TB) (*rig.Postgres, hq.Store, *pgx.Conn) {
	tb.Helper()
	pg := rig.StartPostgres(tb)
	ctx := context.Background()
	if err := hq.Migrate(ctx, pg.URL); err != nil {
		tb.Fatal(err)
	}
	st, err := hq.Open(ctx, pg.URL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(ctx) })
	return pg, st, conn
}

// TestBusinessViewChangeInProjection: the change given back that the view takes off cash
// is the projection's (hq_documents.change): written by ingest, by a rebuild, and by the
// migration to schema 6 for a database whose documents were projected before it.
func TestBusinessViewChangeInProjection(t *testing.T) {
	pg, st, conn := migratedPostgres(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	txs := ledgerTxs(t, "s042", "t01", []journal.Entry{
		tradingDoc(journal.KindSale, at, 1649, 0, 2000),                     // change 351
		tradingDoc(journal.KindSale, at.Add(time.Minute), 2599, 1000, 2000), // change 401
	})
	if _, err := hq.Ingest(ctx, st, batchOf(txs...)); err != nil {
		t.Fatal(err)
	}
	day := hq.DayOf(at, time.UTC)
	cash := func(what string) int64 {
		t.Helper()
		ts, err := hq.DayTakings(ctx, st, day)
		if err != nil || len(ts) != 1 {
			t.Fatalf("%s: %+v, %v", what, ts, err)
		}
		return ts[0].Tenders["cash"]
	}
	const want = 2000 - 351 + 2000 - 401
	if got := cash("ingested"); got != want {
		t.Fatalf("cash after ingest %d, want %d", got, want)
	}
	if _, err := hq.RebuildProjection(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got := cash("rebuilt"); got != want {
		t.Fatalf("cash after rebuild %d, want %d", got, want)
	}
	// A schema 5 database: its documents have no change yet.
	for _, q := range []string{`UPDATE hq_documents SET change = 0`, `DELETE FROM hq_schema WHERE version = 6`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if got := cash("schema 5"); got != 4000 {
		t.Fatalf("cash without the change %d, want 4000 (the test sees no change column)", got)
	}
	if err := hq.Migrate(ctx, pg.URL); err != nil {
		t.Fatal(err)
	}
	if got := cash("migrated"); got != want {
		t.Fatalf("cash after the migration to schema 6 %d, want %d", got, want)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFormatMoney(t *testing.T) {
	for _, c := range []struct {
		minor int64
		cur   string
		want  string
	}{{0, "PLN", "0.00"}, {5, "EUR", "0.05"}, {123456, "PLN", "1234.56"}, {-450, "CHF", "-4.50"}, {1200, "JPY", "1200"}, {1500, "KWD", "1.500"}} {
		if got := hq.FormatMoney(c.minor, c.cur); got != c.want {
			t.Errorf("FormatMoney(%d, %s) = %q, want %q", c.minor, c.cur, got, c.want)
		}
	}
}

// The main dashboard shows each till's step in its newest rollout and the current
// rollouts per stage.
func TestDashboardShowsRolloutsPerStageAndTill(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	view := hq.NewFleetView("tillbox/v1")
	for _, tl := range []string{"t01", "t02", "t03"} {
		p, _ := wire.EncodeStatus(wire.Status{State: "online", At: &now, Version: "1.4.2"})
		view.Observe("tillbox/v1/s042/"+tl+"/status", p)
	}
	k := func(tl string) hq.TillKey { return hq.TillKey{Store: "s042", Till: tl} }
	old := hq.Rollout{ID: "r1", Release: hq.Release{Version: "1.4.2", Board: "rpi4"}, State: hq.RolloutComplete, Stages: []int{100},
		Created: now.Add(-72 * time.Hour), Updated: now.Add(-48 * time.Hour),
		Tills: []hq.RolloutTill{{TillKey: k("t01"), Step: wire.StepConfirmed}, {TillKey: k("t03"), Step: wire.StepConfirmed}}}
	cur := hq.Rollout{ID: "r2", Release: hq.Release{Version: "1.5.0", Board: "rpi4"}, State: hq.RolloutPaused, Reason: "1 failures",
		Stages: []int{34, 100}, Created: now.Add(-time.Hour), Updated: now,
		Tills: []hq.RolloutTill{{TillKey: k("t01"), Stage: 0, Step: wire.StepDownloading, Bytes: 40, Total: 100},
			{TillKey: k("t02"), Stage: 1, Step: hq.StepPending}}}
	d := &hq.Dashboard{View: view, Now: func() time.Time { return now },
		Rollouts: func(context.Context) ([]hq.Rollout, error) { return []hq.Rollout{old, cur}, nil }}
	w := httptest.NewRecorder()
	d.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	page := w.Body.String()
	for _, want := range []string{
		`<td class="update">r2 1.5.0 stage 1/2 downloading 40% (paused)</td>`,
		`<td class="update">r2 1.5.0 stage 2/2 pending (paused)</td>`,
		`<td class="update">r1 1.4.2 stage 1/1 confirmed (complete)</td>`,
		`<b>r2</b>: release 1.5.0 (rpi4) to , <span class="rollout-state">paused</span>: 1 failures, stage 1 of 2`,
		`<tr><td>1</td><td class="num">34</td><td class="num">1</td><td class="num">0</td><td class="num">1</td><td class="num">0</td><td class="num">0</td></tr>`,
		`<tr><td>2</td><td class="num">100</td><td class="num">1</td><td class="num">1</td><td class="num">0</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(page, `id="rollout-r1"`) {
		t.Error("a rollout complete two days ago is among the current ones")
	}
	if t.Failed() {
		t.Logf("page:\n%s", page)
	}
	var m struct {
		Tills []struct {
			Till    string
			Rollout *hq.TillRollout
		}
		Rollouts []hq.RolloutView
	}
	w = httptest.NewRecorder()
	d.ServeHTTP(w, httptest.NewRequest("GET", "/api/fleet", nil))
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Rollouts) != 1 || m.Rollouts[0].ID != "r2" || len(m.Rollouts[0].Summary) != 2 || len(m.Tills) != 3 ||
		m.Tills[0].Rollout == nil || m.Tills[0].Rollout.Percent != 40 || m.Tills[1].Rollout.Step != hq.StepPending {
		t.Errorf("/api/fleet: %s", w.Body)
	}
}
