package hq_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"tillbox/uplink/hq"
	"tillbox/uplink/wire"
)

const monitoringDir = "../../scripts/monitoring"

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (scripts/deps.sh installs Debian's prometheus package)")
	}
	return p
}

// TestShippedAlertRules runs promtool on the shipped rules: they parse, and each alert of
// the rules' unit test fires when it must and not before.
func TestShippedAlertRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", "tillbox.rules.yml"}, {"test", "rules", "tillbox.rules.test.yml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = monitoringDir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exposed is what a dashboard with one till of each kind, a store and a consumer exposes
// at /metrics.
func exposed(t *testing.T) []byte {
	t.Helper()
	st, err := hq.OpenBolt(filepath.Join(t.TempDir(), "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cons, err := hq.NewConsumer(st, &hq.Options{Broker: "tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v := hq.NewFleetView("")
	tp := wire.Topics{}
	put := func(till string, s wire.Status) {
		p, _ := wire.EncodeStatus(s)
		v.Observe(tp.Status("s042", till), p)
	}
	put("t01", wire.Status{State: "online", At: &now, Version: "1.4.2", Catalog: 3, Backlog: 2, OldestUnsynced: &now, LastSale: &now,
		FreeDiskBytes: 1 << 30, LedgerBytes: 1 << 20, Devices: []wire.Device{{Name: "printer", State: "paper-out"}}})
	put("t02", wire.Status{State: "online", At: &now, Version: "1.4.2"})
	v.Observe(tp.Status("s042", "t02"), wire.LostWill())
	v.RecordConflict(hq.TillKey{Store: "s042", Till: "t01"}, "conflict", "test")
	w := httptest.NewRecorder()
	(&hq.Dashboard{View: v, Store: st, Consumer: cons}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.Bytes()
}

// TestMetricsLintAndNamesShipped: promtool finds nothing to say of /metrics, and every
// tillbox or tillhq metric the rules and the Grafana dashboard use is one tillhq exposes.
func TestMetricsLintAndNamesShipped(t *testing.T) {
	body := exposed(t)
	if bytes.Contains(body, []byte(`state="`)) {
		t.Errorf("a state is a label:\n%s", body)
	}
	if !bytes.Contains(body, []byte(`tillbox_till_info{store="s042",till="t01",version="1.4.2",catalog="3"} 1`)) {
		t.Errorf("no tillbox_till_info for t01:\n%s", body)
	}
	families := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			families[strings.Fields(f)[0]] = true
		}
	}
	rules, err := os.ReadFile(filepath.Join(monitoringDir, "tillbox.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	graf, err := os.ReadFile(filepath.Join(monitoringDir, "tillbox-fleet.grafana.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(graf, &dash); err != nil || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("the Grafana dashboard does not parse: %v", err)
	}
	exprs := string(rules)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			exprs += "\n" + tg.Expr
		}
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\b(?:tillbox|tillhq)_[a-z_]+`).FindAllString(exprs, -1) {
		used[m] = true
	}
	if len(used) < 10 {
		t.Fatalf("only %d metric names found in the rules and the dashboard: the test would prove little", len(used))
	}
	var missing []string
	for m := range used {
		if !families[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("used but not exposed: %v", missing)
	}
	bin := promtool(t)
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
