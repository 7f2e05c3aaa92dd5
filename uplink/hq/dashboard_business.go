package hq

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BusinessView is the dashboard's business view of one trading day (see TradingDay):
// what the fleet, each store and each till took, the firmware and catalog versions the
// tills run, and what HQ found wrong in what the tills sent.
type BusinessView struct {
	Generated time.Time  `json:"generated"`
	Day       TradingDay `json:"day"`
	// Fleet is the whole fleet's takings per currency, Stores per store and currency,
	// Tills per till and currency: every till the fleet view knows, with zero takings
	// (and no currency) when it took nothing that day.
	Fleet  []Takings `json:"fleet"`
	Stores []Takings `json:"stores"`
	Tills  []Takings `json:"tills"`
	// TakingsErr says why the takings could not be read (they are then empty).
	TakingsErr string `json:"takings_error,omitempty"`

	Firmware []VersionCount `json:"firmware"`
	Catalogs []CatalogCount `json:"catalogs"`

	// Integrity are the tills HQ recorded chain conflicts or broken chains of;
	// Quarantine what HQ holds in its quarantine, by till and reason.
	Integrity       []IntegrityAlert  `json:"integrity"`
	Quarantine      []QuarantineCount `json:"quarantine"`
	QuarantineTotal int               `json:"quarantine_total"`
	QuarantineErr   string            `json:"quarantine_error,omitempty"`
}

// IntegrityAlert is a till whose entries HQ found in conflict with what it holds, or not
// linking to its chain: two boxes answer to one till id, or a ledger was replaced.
type IntegrityAlert struct {
	Store     string     `json:"store"`
	Till      string     `json:"till"`
	Conflicts int        `json:"conflicts"` // conflicts and broken chains recorded
	Last      *time.Time `json:"last,omitempty"`
	Kind      string     `json:"kind,omitempty"`   // of the last one HQ still has the event of
	Detail    string     `json:"detail,omitempty"` // its detail
}

// businessCache keeps what the business view last read of the store.
type businessCache struct {
	mu          sync.Mutex
	day         string
	takingsAt   time.Time
	takings     []Takings
	takingsErr  string
	quarAt      time.Time
	quarantine  []QuarantineCount
	quarErr     string
	quarantined bool
}

func (d *Dashboard) businessEvery() time.Duration {
	if d.BusinessEvery > 0 {
		return d.BusinessEvery
	}
	return 10 * time.Second
}

// businessModel builds the view of the request's day (?day=YYYY-MM-DD, today in
// TradingZone by default); only a day that does not parse is an error.
func (d *Dashboard) businessModel(r *http.Request) (BusinessView, error) {
	now := d.now()
	day := DayOf(now, d.TradingZone)
	if s := r.URL.Query().Get("day"); s != "" {
		var err error
		if day, err = ParseDay(s, d.TradingZone); err != nil {
			return BusinessView{}, err
		}
	}
	bv := BusinessView{Generated: now.UTC(), Day: day}
	tills := d.View.Tills()
	bv.Firmware, bv.Catalogs = FleetVersions(tills)
	takings, terr := d.dayTakings(r.Context(), day, now)
	bv.TakingsErr = terr
	// Every known till has a row, the ones that took nothing too.
	took := map[TillKey]bool{}
	for _, t := range takings {
		took[TillKey{t.Store, t.Till}] = true
	}
	bv.Tills = append([]Takings(nil), takings...)
	for _, t := range tills {
		if !took[t.TillKey] {
			bv.Tills = append(bv.Tills, Takings{Store: t.Store, Till: t.Till})
		}
	}
	sort.SliceStable(bv.Tills, func(i, j int) bool {
		a, b := bv.Tills[i], bv.Tills[j]
		if a.Store != b.Store {
			return a.Store < b.Store
		}
		return a.Till < b.Till
	})
	bv.Stores, bv.Fleet = TakingsTotals(takings)
	bv.Integrity = integrityAlerts(tills, d.View.Events())
	bv.Quarantine, bv.QuarantineErr = d.quarantineCounts(r.Context(), now)
	for _, q := range bv.Quarantine {
		bv.QuarantineTotal += q.Count
	}
	return bv, nil
}

// dayTakings asks the store at most once a BusinessEvery for the same day.
func (d *Dashboard) dayTakings(ctx context.Context, day TradingDay, now time.Time) ([]Takings, string) {
	if d.Store == nil {
		return nil, "no store: the takings are read from HQ's store"
	}
	c := &d.business
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.day != day.Date || c.takingsAt.IsZero() || now.Sub(c.takingsAt) >= d.businessEvery() || now.Before(c.takingsAt) {
		ts, err := DayTakings(ctx, d.Store, day)
		c.day, c.takingsAt, c.takings, c.takingsErr = day.Date, now, ts, ""
		if err != nil {
			c.takingsErr = err.Error()
		}
	}
	return c.takings, c.takingsErr
}

// quarantineCounts reads the quarantine at most once a BusinessEvery.
func (d *Dashboard) quarantineCounts(ctx context.Context, now time.Time) ([]QuarantineCount, string) {
	if d.Store == nil {
		return nil, ""
	}
	c := &d.business
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.quarantined || now.Sub(c.quarAt) >= d.businessEvery() || now.Before(c.quarAt) {
		qs, err := QuarantineCounts(ctx, d.Store)
		c.quarantined, c.quarAt, c.quarantine, c.quarErr = true, now, qs, ""
		if err != nil {
			c.quarErr = err.Error()
		}
	}
	return c.quarantine, c.quarErr
}

// integrityAlerts are the tills with conflicts recorded, with the last conflict or
// broken-chain event the view still holds of each (events are newest first).
func integrityAlerts(tills []TillStatus, events []FleetEvent) []IntegrityAlert {
	last := map[TillKey]FleetEvent{}
	for _, e := range events {
		if e.Source != "hq" || e.Event.Kind != "conflict" && e.Event.Kind != "broken-chain" {
			continue
		}
		if _, ok := last[e.TillKey]; !ok {
			last[e.TillKey] = e
		}
	}
	var out []IntegrityAlert
	for _, t := range tills {
		if t.Conflicts == 0 {
			continue
		}
		a := IntegrityAlert{Store: t.Store, Till: t.Till, Conflicts: t.Conflicts, Last: t.LastConflict}
		if e, ok := last[t.TillKey]; ok {
			a.Kind, a.Detail = e.Event.Kind, strings.TrimPrefix(e.Event.Detail, e.Event.Kind+": ")
		}
		out = append(out, a)
	}
	return out
}

func (d *Dashboard) businessPage(w http.ResponseWriter, r *http.Request) {
	bv, err := d.businessModel(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	if err := businessTmpl.Execute(&buf, bv); err != nil {
		http.Error(w, "dashboard: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// minorDigits are the currencies (ISO 4217) whose minor unit is not a hundredth.
var minorDigits = map[string]int{"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
	"UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0}

// FormatMoney writes minor units of currency as a decimal amount: 123456 PLN is "1234.56".
func FormatMoney(minor int64, currency string) string {
	digits, ok := minorDigits[strings.ToUpper(currency)]
	if !ok {
		digits = 2
	}
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = uint64(-minor)
	}
	s := strconv.FormatUint(u, 10)
	if digits > 0 {
		for len(s) <= digits {
			s = "0" + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// zones caches the locations the page names (time.LoadLocation reads the zone database
// each time); a name that does not load is UTC.
var zones sync.Map

func zoneNamed(name string) *time.Location {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l = time.UTC
	}
	zones.Store(name, l)
	return l
}

var businessTmpl = template.Must(template.New("business").Funcs(template.FuncMap{
	"money": FormatMoney,
	"tenders": func(t Takings) string {
		kinds := make([]string, 0, len(t.Tenders))
		for k := range t.Tenders {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = k + " " + FormatMoney(t.Tenders[k], t.Currency)
		}
		return strings.Join(parts, ", ")
	},
	"hhmm": func(t *time.Time, zone string) string {
		if t == nil {
			return ""
		}
		return t.In(zoneNamed(zone)).Format("15:04")
	},
	"stamp": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"join":  func(s []string) string { return strings.Join(s, ", ") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tillbox business</title>
<meta http-equiv="refresh" content="30">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:20px;margin:0 0 .2em} h2{font-size:16px;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%} th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
.alerts{color:#cf222e} .muted{color:#777} .big{font-size:22px;font-weight:600}
</style></head><body>
<h1>tillbox business</h1>
<p><a href="/">fleet</a> · <a href="/rollouts">rollouts</a></p>
<p class="muted">Times of day are the trading zone's; money in units of its currency.</p>
<p id="day">Trading day <b>{{.Day.Date}}</b> ({{.Day.Zone}}: {{stamp .Day.From}} to {{stamp .Day.To}} UTC); sales and refunds HQ holds verified. <span class="muted">updated {{stamp .Generated}} UTC</span></p>
{{if .TakingsErr}}<p class="alerts" id="takings-error">the takings could not be read: {{.TakingsErr}}</p>{{end}}
<h2>Fleet</h2>
{{if .Fleet}}<table id="fleet"><tr><th>currency</th><th>receipts</th><th>sales</th><th>refunds</th><th>gross</th><th>tenders</th></tr>
{{range .Fleet}}<tr><td>{{.Currency}}</td><td class="num">{{.Receipts}}</td><td class="num">{{.Sales}}</td><td class="num">{{.Refunds}}</td><td class="num big">{{money .Gross .Currency}}</td><td>{{tenders .}}</td></tr>
{{end}}</table>{{else}}<p id="fleet" class="muted">No sales yet on this day.</p>{{end}}
<h2>Takings per store</h2>
<table id="store-takings"><tr><th>store</th><th>currency</th><th>receipts</th><th>sales</th><th>refunds</th><th>gross</th><th>tenders</th><th>last sale</th></tr>
{{range .Stores}}<tr id="store-{{.Store}}-{{.Currency}}"><td>{{.Store}}</td><td>{{.Currency}}</td><td class="num">{{.Receipts}}</td><td class="num">{{.Sales}}</td><td class="num">{{.Refunds}}</td><td class="num">{{money .Gross .Currency}}</td><td>{{tenders .}}</td><td>{{hhmm .Last $.Day.Zone}}</td></tr>
{{end}}</table>
<h2>Takings per till</h2>
<table id="till-takings"><tr><th>store</th><th>till</th><th>currency</th><th>receipts</th><th>sales</th><th>refunds</th><th>gross</th><th>tenders</th><th>last sale</th></tr>
{{range .Tills}}<tr id="till-{{.Store}}-{{.Till}}{{if .Currency}}-{{.Currency}}{{end}}"><td>{{.Store}}</td><td>{{.Till}}</td><td>{{.Currency}}</td><td class="num">{{.Receipts}}</td><td class="num">{{.Sales}}</td><td class="num">{{.Refunds}}</td><td class="num">{{if .Currency}}{{money .Gross .Currency}}{{else}}0{{end}}</td><td>{{tenders .}}</td><td>{{hhmm .Last $.Day.Zone}}</td></tr>
{{end}}</table>
<h2>Firmware in the fleet</h2>
<table id="firmware"><tr><th>version</th><th>tills</th><th>stores</th></tr>
{{range .Firmware}}<tr><td>{{if .Version}}{{.Version}}{{else}}(not reported){{end}}</td><td class="num">{{.Tills}}</td><td>{{join .Stores}}</td></tr>
{{end}}</table>
<h2>Catalogs in use</h2>
<table id="catalogs"><tr><th>store</th><th>catalog version</th><th>tills</th></tr>
{{range .Catalogs}}<tr><td>{{.Store}}</td><td class="num">{{if .Version}}{{.Version}}{{else}}none yet{{end}}</td><td class="num">{{.Tills}}</td></tr>
{{end}}</table>
<h2>Integrity</h2>
{{if .Integrity}}<table id="integrity"><tr><th>store</th><th>till</th><th>conflicts and broken chains</th><th>last (UTC)</th><th>what</th></tr>
{{range .Integrity}}<tr class="alerts"><td>{{.Store}}</td><td>{{.Till}}</td><td class="num">{{.Conflicts}}</td><td>{{with .Last}}{{stamp .}}{{end}}</td><td>{{.Kind}}{{if .Detail}}: {{.Detail}}{{end}}</td></tr>
{{end}}</table>{{else}}<p id="integrity">No conflicts or broken chains recorded.</p>{{end}}
{{if .QuarantineErr}}<p class="alerts">the quarantine could not be read: {{.QuarantineErr}}</p>{{end}}
{{if .Quarantine}}<p class="alerts" id="quarantine-total">Held in the quarantine: {{.QuarantineTotal}} (tillhq quarantine list)</p>
<table id="quarantine"><tr><th>store</th><th>till</th><th>reason</th><th>messages</th><th>newest (UTC)</th></tr>
{{range .Quarantine}}<tr><td>{{.Store}}</td><td>{{.Till}}</td><td>{{.Reason}}</td><td class="num">{{.Count}}</td><td>{{stamp .Newest}}</td></tr>
{{end}}</table>{{else}}<p id="quarantine-total">The quarantine is empty.</p>{{end}}
</body></html>
`))
