package hq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// loadItem is an item the generated load sells.
type loadItem struct {
	code, name, tax string
	price           int64
}

var loadItems = []loadItem{
	{"1001", "Bread", "B", 450}, {"1002", "Milk 1l", "B", 349}, {"2001", "Coffee", "A", 2199},
	{"2002", "Soap", "A", 599}, {"3001", "Apples kg", "B", 799}, {"3002", "Batteries", "A", 1499},
}

var loadRates = map[string]int64{"A": 2300, "B": 800}

// loadDoc makes the n-th entry of a till on a day: mostly sales, with refunds, cash moves,
// stock transfers and technical entries among them.
func loadDoc(r *rand.Rand, at time.Time) journal.Entry {
	e := journal.Entry{At: at, Cashier: fmt.Sprintf("c%d", 1+r.IntN(3)), Currency: "PLN"}
	switch p := r.IntN(20); {
	case p == 0:
		e.Kind, e.Currency, e.Cashier = journal.KindPowerUp, "", ""
		return e
	case p == 1:
		e.Kind, e.Reason = journal.KindCashIn, "float"
		a := int64(1000 * (1 + r.IntN(20)))
		e.Tenders, e.Totals = []journal.Tender{{Kind: "cash", Amount: a}}, &journal.Totals{Gross: a}
		return e
	case p == 2:
		e.Kind, e.Reason = journal.KindCashOut, "bank"
		a := -int64(1000 * (1 + r.IntN(20)))
		e.Tenders, e.Totals = []journal.Tender{{Kind: "cash", Amount: a}}, &journal.Totals{Gross: a}
		return e
	case p == 3:
		e.Kind, e.Ref, e.Reason, e.Currency = journal.KindStockTransfer, "ORD7", "restock", ""
		for range 1 + r.IntN(3) {
			it := loadItems[r.IntN(len(loadItems))]
			e.Lines = append(e.Lines, journal.Line{Item: it.code, Name: it.name, Qty: int64(1000 * (1 + r.IntN(5)))})
		}
		e.Data = json.RawMessage(`{"order":"ORD7","from":"w1","to":"w9","reason":"restock","review":false}`)
		return e
	}
	e.Kind = journal.KindSale
	sign, nl := int64(1), 1+r.IntN(4)
	if r.IntN(8) == 0 {
		e.Kind, e.Ref, e.Reason, sign, nl = journal.KindRefund, "R", "damaged", -1, 1
	}
	gross := map[string]int64{}
	var total int64
	for range nl {
		it := loadItems[r.IntN(len(loadItems))]
		q := sign * int64(500*(1+r.IntN(6)))
		a := q * it.price / 1000
		e.Lines = append(e.Lines, journal.Line{Item: it.code, Name: it.name, Qty: q, Price: it.price, Amount: a, Tax: it.tax})
		gross[it.tax] += a
		total += a
	}
	e.Totals = &journal.Totals{Gross: total}
	for _, code := range []string{"A", "B"} {
		g, ok := gross[code]
		if !ok {
			continue
		}
		net := g * 10000 / (10000 + loadRates[code])
		e.Totals.Taxes = append(e.Totals.Taxes, journal.TaxTotal{Code: code, Rate: loadRates[code], Net: net, Tax: g - net, Gross: g})
	}
	if card := total / 2; sign > 0 && r.IntN(2) == 0 {
		e.Tenders = []journal.Tender{{Kind: "card", Amount: card, Ref: "T1"}, {Kind: "cash", Amount: total - card}}
	} else {
		e.Tenders = []journal.Tender{{Kind: "cash", Amount: total}}
	}
	return e
}

// twoDayLoad writes two days of entries for each till of each store and returns them.
func twoDayLoad(t *testing.T, stores, tills []string, perDay int) []wire.Tx {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 11))
	var out []wire.Tx
	for _, s := range stores {
		for _, tl := range tills {
			l, err := ledger.Open(filepath.Join(t.TempDir(), s+tl+".ledger"), &ledger.Options{Store: s, Till: tl})
			if err != nil {
				t.Fatal(err)
			}
			for d := range 2 {
				day := time.Date(2026, 3, 2+d, 8, 0, 0, 0, time.UTC)
				for i := range perDay {
					res, err := l.Append(loadDoc(r, day.Add(time.Duration(i)*13*time.Minute)))
					if err != nil {
						t.Fatal(err)
					}
					tx, err := wire.DecodeTx(wire.Topic{Store: s, Till: tl, Kind: wire.KindTx}, bytes.Clone(res.Raw))
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, tx)
				}
			}
			l.Close()
		}
	}
	return out
}

// namedQuery is one query of queries.sql.
type namedQuery struct{ name, sql string }

func readQueries(t *testing.T) []namedQuery {
	t.Helper()
	b, err := os.ReadFile("queries.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out []namedQuery
	for _, part := range strings.Split(string(b), "-- name: ")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		out = append(out, namedQuery{name, strings.TrimSpace(body)})
	}
	if len(out) != 5 {
		t.Fatalf("queries.sql holds %d queries, want 5", len(out))
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(string(readme)), " ")
	for _, q := range out {
		if !strings.Contains(flat, strings.Join(strings.Fields(q.sql), " ")) {
			t.Errorf("the README does not show the query %q as queries.sql has it", q.name)
		}
	}
	return out
}

// textRows runs q and returns its rows in PostgreSQL's text format, NULL as "∅".
func textRows(t *testing.T, conn *pgx.Conn, q string, args ...any) [][]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q, append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		var row []string
		for _, v := range rows.RawValues() {
			if v == nil {
				row = append(row, "∅")
			} else {
				row = append(row, string(v))
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// verified are the stored documents of the verified prefix, with their central numbers,
// read back through the store's own API and decoded in Go.
type verified struct {
	e       journal.Entry
	central string
}

func verifiedDocs(t *testing.T, st hq.Store) []verified {
	t.Helper()
	ctx := context.Background()
	tills, err := st.Tills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []verified
	for _, ts := range tills {
		err := st.Entries(ctx, ts.TillKey, 0, func(r hq.Record) error {
			tx, err := wire.DecodeEntry(r.Raw)
			if err != nil {
				return err
			}
			if r.Seq <= ts.Through && tx.Entry.Kind.Document() {
				out = append(out, verified{tx.Entry, r.Central})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func utcDay(at time.Time) string { return at.UTC().Format("2006-01-02") }

// expectedQueries computes each query's rows from the documents in Go: the figures the
// projection's queries must give.
func expectedQueries(docs []verified, store, till, day string) [][][]string {
	trading := func(e *journal.Entry) bool { return e.Kind == journal.KindSale || e.Kind == journal.KindRefund }
	type takings struct{ n, gross int64 }
	tk := map[[3]string]*takings{}
	type item struct {
		name        string
		qty, amount int64
	}
	items := map[string]*item{}
	vat := map[[3]string]*[3]int64{}
	type tender struct{ n, amount int64 }
	tenders := map[string]*tender{}
	var receipts [][]string
	for _, d := range docs {
		e := &d.e
		if e.Store == store && e.Till == till && utcDay(e.At) == day {
			var gross int64
			if e.Totals != nil {
				gross = e.Totals.Gross
			}
			cashier := e.Cashier
			if cashier == "" {
				cashier = "∅"
			}
			receipts = append(receipts, []string{e.Receipt, d.central, string(e.Kind), cashier, itoa(gross)})
		}
		if !trading(e) {
			continue
		}
		k := [3]string{e.Store, utcDay(e.At), e.Currency}
		if tk[k] == nil {
			tk[k] = &takings{}
		}
		tk[k].n++
		tk[k].gross += e.Totals.Gross
		for _, l := range e.Lines {
			if items[l.Item] == nil {
				items[l.Item] = &item{name: l.Name}
			}
			items[l.Item].qty += l.Qty
			items[l.Item].amount += l.Amount
		}
		for _, x := range e.Totals.Taxes {
			k := [3]string{utcDay(e.At), x.Code, itoa(x.Rate)}
			if vat[k] == nil {
				vat[k] = &[3]int64{}
			}
			vat[k][0] += x.Net
			vat[k][1] += x.Tax
			vat[k][2] += x.Gross
		}
		for _, x := range e.Tenders {
			if tenders[x.Kind] == nil {
				tenders[x.Kind] = &tender{}
			}
			tenders[x.Kind].n++
			tenders[x.Kind].amount += x.Amount
		}
	}
	var q1, q2, q3, q4 [][]string
	for k, v := range tk {
		q1 = append(q1, []string{k[0], k[1], k[2], itoa(v.n), itoa(v.gross)})
	}
	sort.Slice(q1, func(i, j int) bool { return slices.Compare(q1[i][:3], q1[j][:3]) < 0 })
	for code, v := range items {
		q2 = append(q2, []string{code, v.name, itoa(v.qty), itoa(v.amount)})
	}
	sort.Slice(q2, func(i, j int) bool {
		a, _ := strconv.ParseInt(q2[i][3], 10, 64)
		b, _ := strconv.ParseInt(q2[j][3], 10, 64)
		return a > b || a == b && q2[i][0] < q2[j][0]
	})
	q2 = q2[:min(len(q2), 10)]
	for k, v := range vat {
		q3 = append(q3, []string{k[0], k[1], k[2], itoa(v[0]), itoa(v[1]), itoa(v[2])})
	}
	sort.Slice(q3, func(i, j int) bool {
		if q3[i][0] != q3[j][0] || q3[i][1] != q3[j][1] {
			return q3[i][0] < q3[j][0] || q3[i][0] == q3[j][0] && q3[i][1] < q3[j][1]
		}
		a, _ := strconv.ParseInt(q3[i][2], 10, 64)
		b, _ := strconv.ParseInt(q3[j][2], 10, 64)
		return a < b
	})
	for kind, v := range tenders {
		q4 = append(q4, []string{kind, itoa(v.n), itoa(v.amount)})
	}
	sort.Slice(q4, func(i, j int) bool { return q4[i][0] < q4[j][0] })
	return [][][]string{q1, q2, q3, q4, receipts}
}

// checkQueries runs the README's queries and compares each with the figures computed
// from the documents.
func checkQueries(t *testing.T, conn *pgx.Conn, st hq.Store, qs []namedQuery, store, till, day string) {
	t.Helper()
	want := expectedQueries(verifiedDocs(t, st), store, till, day)
	for i, q := range qs {
		var args []any
		if strings.Contains(q.sql, "$1") {
			args = []any{store, till, day}
		}
		got := textRows(t, conn, q.sql, args...)
		if len(got) == 0 {
			t.Errorf("%s: no rows", q.name)
		}
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("%s:\n got %v\nwant %v", q.name, got, want[i])
		}
	}
}

// projectionDump is every projection table's rows as text, sorted.
func projectionDump(t *testing.T, conn *pgx.Conn) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	for _, tb := range []string{"hq_receipts", "hq_lines", "hq_tenders", "hq_taxes", "hq_cash_moves", "hq_stock_moves"} {
		out[tb] = textRows(t, conn, `SELECT x::text FROM `+tb+` x ORDER BY 1`)
		if len(out[tb]) == 0 {
			t.Errorf("%s is empty", tb)
		}
	}
	return out
}

func checkRebuild(t *testing.T, conn *pgx.Conn, st hq.Store) {
	t.Helper()
	before := projectionDump(t, conn)
	n, err := hq.RebuildProjection(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if int(n) != len(before["hq_receipts"]) {
		t.Errorf("rebuild projected %d documents, the projection held %d", n, len(before["hq_receipts"]))
	}
	after := projectionDump(t, conn)
	for tb, rows := range before {
		if fmt.Sprint(rows) != fmt.Sprint(after[tb]) {
			t.Errorf("%s differs after rebuild: %d rows before, %d after", tb, len(rows), len(after[tb]))
		}
	}
}

// TestProjection: a two-day load of several stores through the real ingest path (with a
// gap that leaves entries pending and a forgery above the watermark) is projected as the
// entries say; the README's queries give the figures computed from the entries; rebuild
// writes the same tables; an operator's evict removes the evicted documents' rows.
func TestProjection(t *testing.T) {
	pg := rig.StartPostgres(t)
	ctx := context.Background()
	if err := hq.Migrate(ctx, pg.URL); err != nil {
		t.Fatal(err)
	}
	st, err := hq.Open(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	const perDay = 25
	txs := twoDayLoad(t, []string{"s042", "s043", "s044"}, []string{"t01", "t02"}, perDay)
	held := hq.TillKey{Store: "s044", Till: "t02"}
	var in []wire.Tx
	for _, tx := range txs {
		if e := tx.Entry; e.Store == held.Store && e.Till == held.Till && e.Seq == 5 {
			continue // withheld: the till's later entries stay pending
		}
		in = append(in, tx)
	}
	in = append(in, forgeTx(t, "t01", 2*perDay+3, "S042-T01-000052"))
	rand.New(rand.NewPCG(3, 5)).Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
	for len(in) > 0 {
		n := min(len(in), 40)
		if _, err := hq.Ingest(ctx, st, batchOf(in[:n]...)); err != nil {
			t.Fatal(err)
		}
		in = in[n:]
	}
	if th, _ := st.Through(ctx, held); th != 4 {
		t.Fatalf("%s watermark %d, want 4", held, th)
	}
	var pending int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM hq_receipts WHERE (store = 's044' AND till = 't02' AND seq > 4) OR (store = 's042' AND till = 't01' AND seq > 50)`).Scan(&pending); err != nil || pending != 0 {
		t.Fatalf("%d pending or forged documents projected (%v)", pending, err)
	}

	// The payload is each document's stored entry, as jsonb.
	var unlike, docs int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE r.payload IS DISTINCT FROM convert_from(e.raw, 'UTF8')::jsonb
	OR r.payload->>'receipt' IS DISTINCT FROM r.receipt), count(*)
FROM hq_receipts r JOIN hq_entries e USING (store, till, seq)`).Scan(&unlike, &docs); err != nil || unlike != 0 || docs == 0 {
		t.Fatalf("%d of %d projected payloads differ from their entries (%v)", unlike, docs, err)
	}

	qs := readQueries(t)
	checkQueries(t, conn, st, qs, "s043", "t02", "2026-03-03")
	checkRebuild(t, conn, st)

	// The withheld entry arrives: the till's pending documents are projected.
	for _, tx := range txs {
		if e := tx.Entry; e.Store == held.Store && e.Till == held.Till && e.Seq == 5 {
			if _, err := hq.Ingest(ctx, st, batchOf(tx)); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkQueries(t, conn, st, qs, "s044", "t02", "2026-03-02")

	// Evicted documents leave the projection with their entries.
	if _, err := hq.Evict(ctx, st, hq.TillKey{Store: "s042", Till: "t02"}, 20); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM hq_lines WHERE store = 's042' AND till = 't02' AND seq >= 20`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d evicted lines left in the projection (%v)", left, err)
	}
	checkQueries(t, conn, st, qs, "s042", "t02", "2026-03-02")
	checkRebuild(t, conn, st)
}
