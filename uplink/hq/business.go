package hq

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"tillbox/ledger/journal"
)

// The business view: what the fleet took on one trading day, per store and per till,
// read from what HQ holds as verified (the relational projection in PostgreSQL, the
// verified prefix of each till in bbolt), beside the catalog and firmware versions the
// tills run and HQ's own integrity findings.
//
// A trading day is a calendar day in one stated time zone: from its midnight to the next
// (23 or 25 hours across a change of summer time). HQ does not know each store's zone
// (the tills keep it in their configuration and journal UTC), so the zone is HQ's
// setting, UTC unless told otherwise: the same days as the projection's views
// (hq_takings_daily and the others group by UTC day).

// TradingDay is one calendar day in a time zone, the instants From <= at < To.
type TradingDay struct {
	Date     string    // YYYY-MM-DD
	Zone     string    // IANA name, e.g. Europe/Warsaw
	From, To time.Time // UTC
}

// DayOf is the trading day in loc (nil: UTC) that holds t.
func DayOf(t time.Time, loc *time.Location) TradingDay {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	return tradingDay(y, m, d, loc)
}

func tradingDay(y int, m time.Month, d int, loc *time.Location) TradingDay {
	from := time.Date(y, m, d, 0, 0, 0, 0, loc)
	to := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	return TradingDay{Date: from.Format(time.DateOnly), Zone: loc.String(), From: from.UTC(), To: to.UTC()}
}

// ParseDay reads a YYYY-MM-DD day in loc (nil: UTC).
func ParseDay(s string, loc *time.Location) (TradingDay, error) {
	if loc == nil {
		loc = time.UTC
	}
	t, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return TradingDay{}, fmt.Errorf("hq: trading day %q: want YYYY-MM-DD", s)
	}
	return tradingDay(t.Year(), t.Month(), t.Day(), loc), nil
}

// Takings are what one till (or, summed, one store or the fleet) took in one currency on
// a trading day: its sales and refunds among the verified documents. Gross is sales minus
// what refunds paid back, in minor units. Tenders are the payments by kind; change given
// back is taken off cash, so that cash is what stayed in the drawer.
type Takings struct {
	Store    string           `json:"store,omitempty"`
	Till     string           `json:"till,omitempty"`
	Currency string           `json:"currency"`
	Sales    int64            `json:"sales"`   // sale documents
	Refunds  int64            `json:"refunds"` // refund documents
	Gross    int64            `json:"gross"`
	Tenders  map[string]int64 `json:"tenders,omitempty"`
	Last     *time.Time       `json:"last,omitempty"` // the day's last sale or refund
}

// Receipts is the number of documents the takings count.
func (t Takings) Receipts() int64 { return t.Sales + t.Refunds }

func (t *Takings) add(o Takings) {
	t.Sales += o.Sales
	t.Refunds += o.Refunds
	t.Gross += o.Gross
	for k, v := range o.Tenders {
		if t.Tenders == nil {
			t.Tenders = map[string]int64{}
		}
		t.Tenders[k] += v
	}
	if o.Last != nil && (t.Last == nil || o.Last.After(*t.Last)) {
		l := *o.Last
		t.Last = &l
	}
}

// DayTakings returns the takings of every till with a sale or refund on day, one per till
// and currency, sorted by store, till and currency. Only verified documents count: an
// entry above a till's watermark, a forgery or a conflict is never among them.
func DayTakings(ctx context.Context, st Store, day TradingDay) ([]Takings, error) {
	var out []Takings
	var err error
	switch s := st.(type) {
	case *pgStore:
		out, err = s.dayTakings(ctx, day)
	case *boltStore:
		out, err = s.dayTakings(ctx, day)
	default:
		err = fmt.Errorf("%w: %T", ErrStoreURL, st)
	}
	if err != nil {
		return nil, fmt.Errorf("hq: takings of %s (%s): %w", day.Date, day.Zone, err)
	}
	slices.SortFunc(out, func(a, b Takings) int {
		return cmp.Or(cmp.Compare(a.Store, b.Store), cmp.Compare(a.Till, b.Till), cmp.Compare(a.Currency, b.Currency))
	})
	return out, nil
}

// pgTakings are the takings from the projection in one statement: each till's sales and
// refunds of the day, a range of hq_documents' primary key (store, till, at, seq) for
// every till HQ holds; one row per till and currency (tender NULL) with the change given
// back, and one per tender kind from the documents' tender arrays. No payload is read:
// its cost is the day's documents, not the history's nor their size.
const pgTakings = `WITH d AS MATERIALIZED (
	SELECT d.store, d.till, coalesce(d.currency, '') AS currency, d.kind, d.gross, d.change, d.at, d.tender_kinds, d.tender_amounts
	FROM hq_tills t
	JOIN hq_documents d ON d.store = t.store AND d.till = t.till AND d.at >= $1 AND d.at < $2
	WHERE d.kind IN ('sale', 'refund'))
SELECT store, till, currency, NULL::text,
	count(*) FILTER (WHERE kind = 'sale'), count(*) FILTER (WHERE kind = 'refund'), coalesce(sum(gross), 0)::bigint,
	coalesce(sum(change), 0)::bigint, max(at)
FROM d GROUP BY 1, 2, 3
UNION ALL
SELECT d.store, d.till, d.currency, coalesce(x.kind, ''), 0, 0, coalesce(sum(x.amount), 0)::bigint, 0, max(d.at)
FROM d CROSS JOIN LATERAL unnest(d.tender_kinds, d.tender_amounts) AS x(kind, amount)
GROUP BY 1, 2, 3, 4`

type takingsKey struct{ store, till, currency string }

func (s *pgStore) dayTakings(ctx context.Context, day TradingDay) ([]Takings, error) {
	by := map[takingsKey]*Takings{}
	change := map[takingsKey]int64{}
	tenders := map[takingsKey]map[string]int64{}
	rows, err := s.pool.Query(ctx, pgTakings, day.From, day.To)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var t Takings
		var tender *string
		var ch int64
		var last time.Time
		if err := rows.Scan(&t.Store, &t.Till, &t.Currency, &tender, &t.Sales, &t.Refunds, &t.Gross, &ch, &last); err != nil {
			return nil, err
		}
		k := takingsKey{t.Store, t.Till, t.Currency}
		if tender != nil {
			if tenders[k] == nil {
				tenders[k] = map[string]int64{}
			}
			tenders[k][*tender] += t.Gross
			continue
		}
		last = last.UTC()
		t.Last = &last
		by[k], change[k] = &t, ch
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Takings, 0, len(by))
	for k, t := range by {
		t.Tenders = lessChange(tenders[k], change[k])
		out = append(out, *t)
	}
	return out, nil
}

// lessChange takes change given back off the cash tendered.
func lessChange(tenders map[string]int64, change int64) map[string]int64 {
	if change != 0 {
		if tenders == nil {
			tenders = map[string]int64{}
		}
		tenders["cash"] -= change
	}
	return tenders
}

// takingsDoc is what the takings read of a stored entry.
type takingsDoc struct {
	Kind     journal.Kind `json:"kind"`
	At       time.Time    `json:"at"`
	Currency string       `json:"currency"`
	Totals   *struct {
		Gross  int64 `json:"gross"`
		Change int64 `json:"change"`
	} `json:"totals"`
	Tenders []journal.Tender `json:"tenders"`
}

// countTakings adds one stored document to by; it reports whether the document is of
// the day (false also for one after it).
func countTakings(by map[takingsKey]*Takings, k TillKey, raw []byte, day TradingDay) (before bool, err error) {
	var d takingsDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return false, fmt.Errorf("%s: stored entry: %w", k, err)
	}
	if d.At.Before(day.From) {
		return true, nil
	}
	if !d.At.Before(day.To) || d.Kind != journal.KindSale && d.Kind != journal.KindRefund {
		return false, nil
	}
	key := takingsKey{k.Store, k.Till, d.Currency}
	t := by[key]
	if t == nil {
		t = &Takings{Store: k.Store, Till: k.Till, Currency: d.Currency}
		by[key] = t
	}
	var o Takings
	if d.Kind == journal.KindSale {
		o.Sales = 1
	} else {
		o.Refunds = 1
	}
	var change int64
	if d.Totals != nil {
		o.Gross, change = d.Totals.Gross, d.Totals.Change
	}
	o.Tenders = map[string]int64{}
	for _, tn := range d.Tenders {
		o.Tenders[tn.Kind] += tn.Amount
	}
	o.Tenders = lessChange(o.Tenders, change)
	at := d.At.UTC()
	o.Last = &at
	t.add(o)
	return false, nil
}

// TakingsTotals sums takings per store and currency (stores) and per currency over the
// whole fleet (fleet), each sorted.
func TakingsTotals(tills []Takings) (stores, fleet []Takings) {
	ps, pf := map[[2]string]*Takings{}, map[string]*Takings{}
	for _, t := range tills {
		k := [2]string{t.Store, t.Currency}
		if ps[k] == nil {
			ps[k] = &Takings{Store: t.Store, Currency: t.Currency}
		}
		ps[k].add(t)
		if pf[t.Currency] == nil {
			pf[t.Currency] = &Takings{Currency: t.Currency}
		}
		pf[t.Currency].add(t)
	}
	for _, t := range ps {
		stores = append(stores, *t)
	}
	for _, t := range pf {
		fleet = append(fleet, *t)
	}
	slices.SortFunc(stores, func(a, b Takings) int {
		return cmp.Or(cmp.Compare(a.Store, b.Store), cmp.Compare(a.Currency, b.Currency))
	})
	slices.SortFunc(fleet, func(a, b Takings) int { return cmp.Compare(a.Currency, b.Currency) })
	return stores, fleet
}

// VersionCount is how many tills run one firmware version (of the tills the fleet view
// knows, a lost one by what it last said).
type VersionCount struct {
	Version string   `json:"version"` // "" : the till did not say
	Tills   int      `json:"tills"`
	Stores  []string `json:"stores"`
}

// CatalogCount is how many tills of a store use one catalog version.
type CatalogCount struct {
	Store   string `json:"store"`
	Version uint64 `json:"version"` // 0: none received yet
	Tills   int    `json:"tills"`
}

// FleetVersions counts the firmware versions (most tills first) and each store's catalog
// versions (by store, newest first) of ts; a till whose status did not decode counts in
// neither.
func FleetVersions(ts []TillStatus) ([]VersionCount, []CatalogCount) {
	fw := map[string]*VersionCount{}
	cat := map[string]map[uint64]int{}
	for _, t := range ts {
		if t.Err != "" {
			continue
		}
		v := fw[t.Status.Version]
		if v == nil {
			v = &VersionCount{Version: t.Status.Version}
			fw[t.Status.Version] = v
		}
		v.Tills++
		if n := len(v.Stores); n == 0 || v.Stores[n-1] != t.Store {
			v.Stores = append(v.Stores, t.Store) // ts is sorted by store
		}
		if cat[t.Store] == nil {
			cat[t.Store] = map[uint64]int{}
		}
		cat[t.Store][t.Status.Catalog]++
	}
	var vs []VersionCount
	for _, v := range fw {
		slices.Sort(v.Stores)
		v.Stores = slices.Compact(v.Stores)
		vs = append(vs, *v)
	}
	slices.SortFunc(vs, func(a, b VersionCount) int {
		return cmp.Or(cmp.Compare(b.Tills, a.Tills), cmp.Compare(b.Version, a.Version)) // most tills first
	})
	var cs []CatalogCount
	for s, m := range cat {
		for v, n := range m {
			cs = append(cs, CatalogCount{Store: s, Version: v, Tills: n})
		}
	}
	slices.SortFunc(cs, func(a, b CatalogCount) int {
		return cmp.Or(cmp.Compare(a.Store, b.Store), cmp.Compare(b.Version, a.Version)) // newest first
	})
	return vs, cs
}

// QuarantineCount is how many messages of one till HQ holds in its quarantine for one
// reason (the reason's text before its first colon: "conflict", "broken chain", ...).
type QuarantineCount struct {
	Store  string    `json:"store"` // "" : a message that named no till
	Till   string    `json:"till"`
	Reason string    `json:"reason"`
	Count  int       `json:"count"`
	Newest time.Time `json:"newest"`
}

// QuarantineCounts reads the quarantine and counts it by till and reason, sorted by till
// and reason.
func QuarantineCounts(ctx context.Context, st Store) ([]QuarantineCount, error) {
	by := map[[3]string]*QuarantineCount{}
	err := st.Quarantined(ctx, func(q Quarantine) error {
		reason, _, _ := strings.Cut(q.Reason, ":")
		reason = strings.TrimSpace(reason)
		k := [3]string{q.Store, q.Till, reason}
		c := by[k]
		if c == nil {
			c = &QuarantineCount{Store: q.Store, Till: q.Till, Reason: reason}
			by[k] = c
		}
		c.Count++
		if q.At.After(c.Newest) {
			c.Newest = q.At.UTC()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]QuarantineCount, 0, len(by))
	for _, c := range by {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b QuarantineCount) int {
		return cmp.Or(cmp.Compare(a.Store, b.Store), cmp.Compare(a.Till, b.Till), cmp.Compare(a.Reason, b.Reason))
	})
	return out, nil
}
