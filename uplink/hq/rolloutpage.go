package hq

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"time"

	"tillbox/uplink/wire"
)

// RolloutPage serves the rollouts beside the dashboard:
//
//	/rollouts       an HTML page: each rollout's state, its stages' counts and every till
//	/api/rollouts   the same as JSON: each rollout with its per-stage summary
type RolloutPage struct{ Docs Docs }

// RolloutView is one rollout as the page shows it.
type RolloutView struct {
	Rollout
	Summary []StageSummary `json:"summary"`
}

func (p RolloutPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs, err := Rollouts(r.Context(), p.Docs)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	views := make([]RolloutView, len(rs))
	for i := range rs {
		views[len(rs)-1-i] = RolloutView{rs[i], rs[i].Summary()} // newest first
	}
	switch r.URL.Path {
	case "/api/rollouts":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(views)
	case "/rollouts":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		rolloutTmpl.Execute(w, views)
	default:
		http.NotFound(w, r)
	}
}

var rolloutTmpl = template.Must(template.New("rollouts").Funcs(template.FuncMap{
	"inc": func(i int) int { return i + 1 },
	"pct": func(t RolloutTill) string {
		if t.Total <= 0 {
			return ""
		}
		return strconv.FormatInt(t.Bytes*100/t.Total, 10) + "%"
	},
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>tillbox rollouts</title>
<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.paused,.aborted{color:#a00}.complete{color:#070}.failed{background:#fdd}.confirmed{background:#dfd}</style></head><body>
<h1>Rollouts</h1><p><a href="/">fleet</a></p>
{{range .}}<h2>{{.ID}}: release {{.Release.Version}} ({{.Release.Board}}), {{.Target}}</h2>
<p class="{{.State}}">{{.State}}{{if .Reason}}: {{.Reason}}{{end}}, stage {{inc .Stage}} of {{len .Stages}}</p>
<table><tr><th>stage</th><th>%</th><th>tills</th><th>pending</th><th>active</th><th>confirmed</th><th>failed</th></tr>
{{range .Summary}}<tr><td>{{.Stage}}</td><td>{{.Percent}}</td><td>{{.Tills}}</td><td>{{.Pending}}</td><td>{{.Active}}</td><td>{{.Confirmed}}</td><td>{{.Failed}}</td></tr>
{{end}}</table>
<table><tr><th>store</th><th>till</th><th>stage</th><th>step</th><th>download</th><th>why</th></tr>
{{range .Tills}}<tr class="{{if .Failed}}failed{{else if .Settled}}confirmed{{end}}"><td>{{.Store}}</td><td>{{.Till}}</td><td>{{inc .Stage}}</td><td>{{.Step}}</td><td>{{pct .}}</td><td>{{.Error}}</td></tr>
{{end}}</table>
{{else}}<p>No rollouts.</p>{{end}}
</body></html>
`))

// TillRollout is where one till stands in the newest rollout that includes it, for the
// fleet views' update column.
type TillRollout struct {
	Rollout string `json:"rollout"`
	Release string `json:"release"` // the release's version
	State   string `json:"state"`   // the rollout's: running, paused, aborted, complete
	Stage   int    `json:"stage"`   // the till's stage, from 1
	Stages  int    `json:"stages"`
	Step    string `json:"step"`              // StepPending, StepAsked or one of wire's Step*
	Percent int    `json:"percent,omitempty"` // of the download, while there is one (-1: none)
	Error   string `json:"error,omitempty"`
}

// String is the till's rollout in a table cell: "ID VERSION stage 2/3 downloading 40%",
// with the rollout's state when it is not running.
func (t TillRollout) String() string {
	s := fmt.Sprintf("%s %s stage %d/%d %s", t.Rollout, t.Release, t.Stage, t.Stages, t.Step)
	if t.Percent >= 0 {
		s += fmt.Sprintf(" %d%%", t.Percent)
	}
	if t.State != RolloutRunning {
		s += " (" + t.State + ")"
	}
	return s
}

// RolloutSteps returns, for every till of rs, its place in the newest rollout (by
// creation) that includes it.
func RolloutSteps(rs []Rollout) map[TillKey]TillRollout {
	sorted := append([]Rollout(nil), rs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Created.Before(sorted[j].Created) })
	out := map[TillKey]TillRollout{}
	for _, r := range sorted {
		for _, t := range r.Tills {
			tr := TillRollout{Rollout: r.ID, Release: r.Release.Version, State: r.State, Stage: t.Stage + 1, Stages: len(r.Stages),
				Step: t.Step, Error: t.Error, Percent: -1}
			if t.Total > 0 && t.Step == wire.StepDownloading {
				tr.Percent = int(t.Bytes * 100 / t.Total)
			}
			out[t.TillKey] = tr
		}
	}
	return out
}

// CurrentRollouts are the rollouts of rs a fleet manager watches now, newest first: every
// running or paused one, and those that completed or were aborted within the last day.
func CurrentRollouts(rs []Rollout, now time.Time) []Rollout {
	var out []Rollout
	for _, r := range rs {
		if r.State == RolloutRunning || r.State == RolloutPaused || now.Sub(r.Updated) < 24*time.Hour {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}
