package hq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"tillbox/uplink/wire"
)

// Dashboard serves the fleet manager's view over HTTP:
//
//	/            an HTML page: alerts, per-store summaries and every till, refreshed by
//	             the page itself every few seconds (it works without JavaScript too)
//	/api/fleet   the same as JSON
//	/api/tills   every till as the fleet view knows it ([]TillStatus), for tillhq fleet --hq
//	/business    the business view: a trading day's takings per store and till, the
//	             catalog and firmware versions in the fleet, HQ's integrity findings
//	/api/business  the same as JSON (BusinessView); ?day=YYYY-MM-DD for another day
//	/metrics     Prometheus text format: per-till and consumer figures
//
// It authenticates nobody itself: serve it behind WebAuth.Wrap.
//
// Consumer and Store may be nil (a viewer without a consumer); their figures are left out.
type Dashboard struct {
	View     *FleetView
	Consumer *Consumer
	Store    Store
	// Thresholds decide "needs someone"; nil is DefaultThresholds.
	Thresholds *Thresholds
	// Now is the clock for ages and "needs attention". Default time.Now.
	Now func() time.Time
	// Reviews, when set, lists the stock documents to verify (ToVerify over the store).
	// It reads every stored entry, so the page asks at most once a ReviewsEvery (default
	// a minute) and shows what it last found in between.
	Reviews      func(context.Context) ([]Review, error)
	ReviewsEvery time.Duration
	// Rollouts, when set, lists the fleet updates (Rollouts over the store's Docs): the
	// page shows the current ones per stage and each till's step in its rollout.
	Rollouts func(context.Context) ([]Rollout, error)
	// TradingZone is the time zone of the business view's trading days; nil is UTC, the
	// projection's days.
	TradingZone *time.Location
	// BusinessEvery bounds how often the business view reads the takings and the
	// quarantine from Store (default 10s); in between it shows what it last read.
	BusinessEvery time.Duration

	business businessCache

	reviewsMu   sync.Mutex
	reviewsAt   time.Time
	reviewsLast []Review
	reviewsErr  string
}

// toVerify is Reviews' answer, asked again only when the last one is older than
// ReviewsEvery.
func (d *Dashboard) toVerify(ctx context.Context, now time.Time) ([]Review, string) {
	if d.Reviews == nil {
		return nil, ""
	}
	every := d.ReviewsEvery
	if every <= 0 {
		every = time.Minute
	}
	d.reviewsMu.Lock()
	defer d.reviewsMu.Unlock()
	if d.reviewsAt.IsZero() || now.Sub(d.reviewsAt) >= every {
		list, err := d.Reviews(ctx)
		d.reviewsAt, d.reviewsLast, d.reviewsErr = now, list, ""
		if err != nil {
			d.reviewsErr = err.Error()
		}
	}
	return d.reviewsLast, d.reviewsErr
}

func (d *Dashboard) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// ServeHTTP routes the dashboard's three paths.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		d.page(w, r)
	case "/api/fleet":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(d.model(r))
	case "/api/tills":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(d.View.Tills())
	case "/business":
		d.businessPage(w, r)
	case "/api/business":
		bv, err := d.businessModel(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(bv)
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(d.metrics(r.Context()))
	default:
		http.NotFound(w, r)
	}
}

// TillRow is one till as the dashboard shows it.
type TillRow struct {
	Store, Till      string
	State            string
	Backlog          uint64
	OldestUnsynced   string // age, "" when nothing is unsynced
	LastSale         string // age
	Version          string
	Catalog          uint64
	Slot             string
	Devices          string
	LostSince        string // age, "" unless lost
	LastSeen         string // age of the last status HQ received
	CertSerial       string
	Attention        []string
	StatusAge        string
	LedgerMB, FreeMB int64
	// Rollout is the till's place in the newest rollout that includes it; nil: none.
	Rollout *TillRollout `json:",omitempty"`
}

// StoreSummary is one store's line.
type StoreSummary struct {
	Store                          string
	Tills, Online, Lost, Attention int
	Backlog                        uint64
}

// Alert is one till needing someone, or a recent event.
type Alert struct {
	Store, Till string
	What        string
	Severity    string
	At          string
}

type dashModel struct {
	Generated string
	Filter    FleetFilter
	Tills     []TillRow
	Stores    []StoreSummary
	Alerts    []Alert
	Events    []Alert
	// ToVerify are the stock documents beyond their order, until tillhq review resolves
	// them; ReviewErr says why the list could not be read.
	ToVerify  []Review `json:",omitempty"`
	ReviewErr string   `json:",omitempty"`
	// Rollouts are the current fleet updates (CurrentRollouts), each with its stages'
	// counts; RolloutErr says why they could not be read.
	Rollouts   []RolloutView `json:",omitempty"`
	RolloutErr string        `json:",omitempty"`
}

func (d *Dashboard) model(r *http.Request) dashModel {
	now := d.now()
	f := FleetFilter{Store: r.URL.Query().Get("store"), State: r.URL.Query().Get("state"), Attention: r.URL.Query().Get("attention") != "",
		Thresholds: d.Thresholds}
	all := d.View.Tills()
	m := dashModel{Generated: now.UTC().Format(time.RFC3339), Filter: f}
	m.ToVerify, m.ReviewErr = d.toVerify(r.Context(), now)
	var steps map[TillKey]TillRollout
	if d.Rollouts != nil {
		rs, err := d.Rollouts(r.Context())
		if err != nil {
			m.RolloutErr = err.Error()
		}
		steps = RolloutSteps(rs)
		for _, ro := range CurrentRollouts(rs, now) {
			m.Rollouts = append(m.Rollouts, RolloutView{ro, ro.Summary()})
		}
	}
	stores := map[string]*StoreSummary{}
	for _, t := range all {
		ss := stores[t.Store]
		if ss == nil {
			ss = &StoreSummary{Store: t.Store}
			stores[t.Store] = ss
		}
		why := d.Thresholds.Attention(t, now)
		ss.Tills++
		ss.Backlog += t.Status.Backlog
		switch t.Status.State {
		case "online":
			ss.Online++
		case "lost":
			ss.Lost++
		}
		if len(why) > 0 {
			ss.Attention++
			m.Alerts = append(m.Alerts, Alert{Store: t.Store, Till: t.Till, What: strings.Join(why, ", "), Severity: "error"})
		}
	}
	for _, t := range f.Filter(all, now) {
		s := t.Status
		row := TillRow{Store: t.Store, Till: t.Till, State: s.State, Backlog: s.Backlog, Version: s.Version, Catalog: s.Catalog, Slot: s.Slot,
			Devices: DevicesText(s.Devices), Attention: d.Thresholds.Attention(t, now), LedgerMB: s.LedgerBytes >> 20,
			FreeMB: s.FreeDiskBytes >> 20, CertSerial: t.CertSerial}
		if tr, ok := steps[t.TillKey]; ok {
			row.Rollout = &tr
		}
		if t.LostSince != nil {
			row.LostSince = roundAge(now.Sub(*t.LostSince))
		}
		if !t.LastSeen.IsZero() {
			row.LastSeen = roundAge(now.Sub(t.LastSeen)) + " ago"
		}
		if t.Err != "" {
			row.State = "bad status"
		}
		if s.OldestUnsynced != nil && s.Backlog > 0 {
			row.OldestUnsynced = roundAge(now.Sub(*s.OldestUnsynced))
		}
		if s.LastSale != nil {
			row.LastSale = roundAge(now.Sub(*s.LastSale)) + " ago"
		}
		if s.At != nil {
			row.StatusAge = roundAge(now.Sub(*s.At)) + " ago"
		}
		m.Tills = append(m.Tills, row)
	}
	for _, ss := range stores {
		m.Stores = append(m.Stores, *ss)
	}
	sort.Slice(m.Stores, func(i, j int) bool { return m.Stores[i].Store < m.Stores[j].Store })
	for i, e := range d.View.Events() {
		if i == 20 {
			break
		}
		m.Events = append(m.Events, Alert{Store: e.Store, Till: e.Till, What: eventText(e.Event),
			Severity: e.Event.Severity, At: eventTime(e.Event.At, now)})
	}
	return m
}

// eventText is "kind: detail", or the kind alone; a detail that starts with its kind
// already (HQ's "conflict: seq 4 is held ...") is not prefixed again.
func eventText(e wire.Event) string {
	if e.Detail == "" {
		return e.Kind
	}
	if strings.HasPrefix(e.Detail, e.Kind+": ") {
		return e.Detail
	}
	return e.Kind + ": " + e.Detail
}

// eventTime is an event's time as the page shows it: the time alone today, the date too
// before (events come back from the history after a restart).
func eventTime(at, now time.Time) string {
	at = at.UTC()
	if y, m, dd := at.Date(); y == now.UTC().Year() && m == now.UTC().Month() && dd == now.UTC().Day() {
		return at.Format("15:04:05")
	}
	return at.Format("2006-01-02 15:04:05")
}

func (d *Dashboard) page(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	name := "page"
	if r.URL.Query().Get("fragment") != "" {
		name = "body"
	}
	if err := dashTmpl.ExecuteTemplate(&buf, name, d.model(r)); err != nil {
		http.Error(w, "dashboard: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

var dashTmpl = template.Must(template.New("page").Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 }}).Parse(`{{define "page"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tillbox fleet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:20px;margin:0 0 .2em} h2{font-size:16px;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%} th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4} td.num{text-align:right}
tr.attention td{background:#fff1f0} .state-online{color:#1a7f37;font-weight:600}
.state-lost{color:#cf222e;font-weight:600} .state-stopped{color:#9a6700}
ul.alerts li{color:#cf222e;margin:.2em 0} .muted{color:#777}
</style></head><body>
<h1>tillbox fleet</h1>
<p><a href="/business">business view</a> · <a href="/rollouts">rollouts</a></p>
<div id="live">{{template "body" .}}</div>
<script>
// Live updates: the server renders the same fragment again; no second copy of the layout.
setInterval(function(){
  fetch(location.pathname+"?fragment=1&"+location.search.slice(1)).then(function(r){return r.text()})
    .then(function(t){document.getElementById("live").innerHTML=t}).catch(function(){});
}, 3000);
</script>
</body></html>{{end}}
{{define "body"}}<p class="muted">updated {{.Generated}}</p>
<h2>Alerts</h2>
{{if .Alerts}}<ul class="alerts" id="alerts">{{range .Alerts}}<li data-till="{{.Store}}/{{.Till}}"><b>{{.Store}}/{{.Till}}</b>: {{.What}}</li>{{end}}</ul>
{{else}}<p id="alerts">No till needs attention.</p>{{end}}
<h2>Stores</h2>
<table id="stores"><tr><th>store</th><th>tills</th><th>online</th><th>lost</th><th>need attention</th><th>unsynced</th></tr>
{{range .Stores}}<tr><td>{{.Store}}</td><td class="num">{{.Tills}}</td><td class="num">{{.Online}}</td><td class="num">{{.Lost}}</td><td class="num">{{.Attention}}</td><td class="num">{{.Backlog}}</td></tr>
{{end}}</table>
<h2>Tills</h2>
<table id="tills"><tr><th>store</th><th>till</th><th>state</th><th>unsynced</th><th>oldest unsynced</th><th>last sale</th><th>devices</th><th>version</th><th>slot</th><th>catalog</th><th>update</th><th>status</th><th>lost for</th><th>attention</th></tr>
{{range .Tills}}<tr id="till-{{.Store}}-{{.Till}}"{{if .Attention}} class="attention"{{end}}><td>{{.Store}}</td><td>{{.Till}}</td><td class="state-{{.State}}">{{.State}}</td><td class="num">{{.Backlog}}</td><td>{{.OldestUnsynced}}</td><td>{{.LastSale}}</td><td>{{.Devices}}</td><td>{{.Version}}</td><td>{{.Slot}}</td><td class="num">{{.Catalog}}</td><td class="update">{{with .Rollout}}{{.String}}{{end}}</td><td>{{.StatusAge}}</td><td class="lost-since">{{.LostSince}}</td><td>{{range $i, $a := .Attention}}{{if $i}}, {{end}}{{$a}}{{end}}</td></tr>
{{end}}</table>
{{if or .ToVerify .ReviewErr}}<h2>To verify</h2>
{{if .ReviewErr}}<p class="alerts">the documents to verify could not be read: {{.ReviewErr}}</p>{{end}}
{{if .ToVerify}}<table id="to-verify"><tr><th>store</th><th>till</th><th>receipt</th><th>central</th><th>kind</th><th>at</th><th>order</th><th>beyond the order</th></tr>
{{range .ToVerify}}<tr><td>{{.Store}}</td><td>{{.Till}}</td><td>{{.Receipt}}</td><td>{{.Central}}</td><td>{{.Kind}}</td><td>{{.At.UTC.Format "2006-01-02 15:04"}}</td><td>{{.Order}}</td><td>{{range $i, $o := .Over}}{{if $i}}, {{end}}{{$o}}{{end}}</td></tr>
{{end}}</table>{{end}}{{end}}
{{if or .Rollouts .RolloutErr}}<h2>Rollouts</h2>
{{if .RolloutErr}}<p class="alerts">the rollouts could not be read: {{.RolloutErr}}</p>{{end}}
{{range .Rollouts}}<p id="rollout-{{.ID}}"><b>{{.ID}}</b>: release {{.Release.Version}} ({{.Release.Board}}) to {{.Target}}, <span class="rollout-state">{{.State}}</span>{{if .Reason}}: {{.Reason}}{{end}}, stage {{inc .Stage}} of {{len .Stages}}</p>
<table class="rollout-stages" id="stages-{{.ID}}"><tr><th>stage</th><th>%</th><th>tills</th><th>pending</th><th>active</th><th>confirmed</th><th>failed</th></tr>
{{range .Summary}}<tr><td>{{.Stage}}</td><td class="num">{{.Percent}}</td><td class="num">{{.Tills}}</td><td class="num">{{.Pending}}</td><td class="num">{{.Active}}</td><td class="num">{{.Confirmed}}</td><td class="num">{{.Failed}}</td></tr>
{{end}}</table>
{{end}}<p class="muted">each till's step is in the update column above; <a href="/rollouts">every rollout</a></p>{{end}}
<h2>Recent events</h2>
{{if .Events}}<ul id="events">{{range .Events}}<li>{{.At}} <b>{{.Store}}/{{.Till}}</b> {{.Severity}}: {{.What}}</li>{{end}}</ul>
{{else}}<p id="events" class="muted">none</p>{{end}}{{end}}`))

// metrics writes the Prometheus text exposition format by hand: a few gauges and counters
// do not need a client library, and the format is stable (version 0.0.4).
func (d *Dashboard) metrics(ctx context.Context) []byte {
	now := d.now()
	var b bytes.Buffer
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	sample := func(name string, v float64, labels ...string) {
		b.WriteString(name)
		if len(labels) > 0 {
			b.WriteByte('{')
			for i := 0; i < len(labels); i += 2 {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%s=\"%s\"", labels[i], labelEscaper.Replace(labels[i+1]))
			}
			b.WriteByte('}')
		}
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		b.WriteByte('\n')
	}
	tills := d.View.Tills()
	perTill := func(name, typ, help string, v func(t TillStatus) (float64, bool)) {
		family(name, typ, help)
		for _, t := range tills {
			if x, ok := v(t); ok {
				sample(name, x, "store", t.Store, "till", t.Till)
			}
		}
	}
	boolf := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	perTill("tillbox_till_up", "gauge", "1 when the till's retained status says online.", func(t TillStatus) (float64, bool) {
		return boolf(t.Status.State == "online"), true
	})
	perTill("tillbox_till_lost", "gauge", "1 when the broker published the till's last will.", func(t TillStatus) (float64, bool) {
		return boolf(t.Status.State == "lost"), true
	})
	perTill("tillbox_till_attention", "gauge", "1 when the till needs someone (see the dashboard for why).", func(t TillStatus) (float64, bool) {
		return boolf(len(d.Thresholds.Alerts(t, now)) > 0), true
	})
	family("tillbox_till_alert", "gauge", "1 when the till raises this alert under HQ's thresholds; every alert kind is listed.")
	for _, t := range tills {
		on := map[string]bool{}
		for _, a := range d.Thresholds.Alerts(t, now) {
			on[a.Kind] = true
		}
		for _, k := range AlertKinds {
			sample("tillbox_till_alert", boolf(on[k]), "store", t.Store, "till", t.Till, "alert", k)
		}
	}
	family("tillbox_till_info", "gauge", "Always 1: the till's firmware version and catalog version as labels.")
	for _, t := range tills {
		sample("tillbox_till_info", 1, "store", t.Store, "till", t.Till, "version", t.Status.Version,
			"catalog", strconv.FormatUint(t.Status.Catalog, 10))
	}
	perTill("tillbox_till_lost_since_timestamp_seconds", "gauge", "Unix time the broker published the till's last will (lost tills only).", func(t TillStatus) (float64, bool) {
		if t.LostSince == nil || t.Status.State != "lost" {
			return 0, false
		}
		return float64(t.LostSince.UnixMilli()) / 1000, true
	})
	perTill("tillbox_till_last_seen_timestamp_seconds", "gauge", "Unix time HQ last received the till's own status.", func(t TillStatus) (float64, bool) {
		return float64(t.LastSeen.UnixMilli()) / 1000, !t.LastSeen.IsZero()
	})
	perTill("tillbox_till_backlog_entries", "gauge", "Entries the till holds that HQ has not acknowledged, as it last said (a lost till's last word).", func(t TillStatus) (float64, bool) {
		return float64(t.Status.Backlog), t.Err == ""
	})
	perTill("tillbox_till_oldest_unsynced_age_seconds", "gauge", "Age of the till's oldest unacknowledged entry; 0 when none.", func(t TillStatus) (float64, bool) {
		if t.Status.OldestUnsynced == nil || t.Status.Backlog == 0 {
			return 0, t.Err == ""
		}
		return now.Sub(*t.Status.OldestUnsynced).Seconds(), true
	})
	perTill("tillhq_till_conflicts_total", "counter", "Chain conflicts and broken chains HQ recorded for the till.", func(t TillStatus) (float64, bool) {
		return float64(t.Conflicts), true
	})
	perTill("tillbox_till_last_sale_timestamp_seconds", "gauge", "Unix time of the till's last sale.", func(t TillStatus) (float64, bool) {
		if t.Status.LastSale == nil {
			return 0, false
		}
		return float64(t.Status.LastSale.UnixMilli()) / 1000, true
	})
	perTill("tillbox_till_status_age_seconds", "gauge", "Age of the till's last status.", func(t TillStatus) (float64, bool) {
		if t.Status.At == nil {
			return 0, false
		}
		return now.Sub(*t.Status.At).Seconds(), true
	})
	perTill("tillbox_till_free_disk_bytes", "gauge", "Free space on the till's data partition.", func(t TillStatus) (float64, bool) {
		return float64(t.Status.FreeDiskBytes), t.Status.FreeDiskBytes > 0
	})
	perTill("tillbox_till_ledger_bytes", "gauge", "Size of the till's ledger file.", func(t TillStatus) (float64, bool) {
		return float64(t.Status.LedgerBytes), t.Status.LedgerBytes > 0
	})
	family("tillbox_till_device_ok", "gauge", "1 when the device needs nobody (ok, online, a drawer open); its state is on the dashboard.")
	for _, t := range tills {
		for _, dv := range t.Status.Devices {
			sample("tillbox_till_device_ok", boolf(devicesFine[dv.State]), "store", t.Store, "till", t.Till, "device", dv.Name)
		}
	}
	family("tillbox_till_device_state_seconds", "gauge", "How long the device has been in its present state, by HQ's clock.")
	for _, t := range tills {
		for _, dv := range t.Status.Devices {
			if at, ok := t.DeviceSince[dv.Name]; ok {
				sample("tillbox_till_device_state_seconds", now.Sub(at).Seconds(), "store", t.Store, "till", t.Till, "device", dv.Name)
			}
		}
	}
	family("tillhq_till_events_dropped_total", "counter", "Events of the till over HQ's bound per minute, not kept.")
	dropped := d.View.Dropped()
	for _, t := range tills {
		sample("tillhq_till_events_dropped_total", float64(dropped[t.TillKey]), "store", t.Store, "till", t.Till)
	}
	if d.Store != nil {
		if states, err := d.Store.Tills(ctx); err == nil {
			family("tillhq_till_acknowledged_seq", "gauge", "Every seq of the till up to this one is stored at HQ, chain verified.")
			for _, s := range states {
				sample("tillhq_till_acknowledged_seq", float64(s.Through), "store", s.Store, "till", s.Till)
			}
		}
	}
	if d.Consumer != nil {
		st := d.Consumer.Stats()
		family("tillhq_entries_stored_total", "counter", "Entries this process stored.")
		sample("tillhq_entries_stored_total", float64(st.Stored))
		family("tillhq_duplicates_total", "counter", "Entries received again that HQ already held.")
		sample("tillhq_duplicates_total", float64(st.Duplicates))
		family("tillhq_quarantined_total", "counter", "Messages this process quarantined (forged, altered, malformed, conflicting).")
		sample("tillhq_quarantined_total", float64(st.Quarantined))
		family("tillhq_quarantine_dropped_total", "counter", "Messages of the till this process did not keep, over the quarantine's bound for the reason.")
		for _, q := range d.Consumer.QuarantineDropped() {
			sample("tillhq_quarantine_dropped_total", float64(q.Dropped), "store", q.Store, "till", q.Till, "reason", q.Kind)
		}
		family("tillhq_acks_published_total", "counter", "Acks this process published.")
		sample("tillhq_acks_published_total", float64(st.Acks))
		family("tillhq_consumer_pending_messages", "gauge", "Messages received and waiting for the store.")
		sample("tillhq_consumer_pending_messages", float64(st.Pending))
		family("tillhq_consumer_lag_seconds", "gauge", "For the last commit: time from the newest entry's journaling at the till to its commit at HQ.")
		sample("tillhq_consumer_lag_seconds", st.Lag.Seconds())
	}
	return b.Bytes()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
