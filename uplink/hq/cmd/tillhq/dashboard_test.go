package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"tillbox/ledger"
	"tillbox/uplink"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// chromiumPath is Debian's chromium package.
const chromiumPath = "/usr/bin/chromium"

// The dashboard's credentials in these tests: a person's (basic authentication) and
// Prometheus's (a bearer token).
const (
	webUser, webPassword = "ops", "correct horse battery"
	webToken             = "scrape-token-0123456789"
)

// webAuthFile writes a credentials file with tillhq passwd and returns its path.
func webAuthFile(t *testing.T, bin string) string {
	t.Helper()
	var lines []string
	for _, c := range [][2]string{{webUser, webPassword}, {"bearer", webToken}} {
		cmd := exec.Command(bin, "passwd", c[0])
		cmd.Stdin = strings.NewReader(c[1] + "\n")
		out, err := cmd.Output()
		if err != nil || !strings.HasPrefix(string(out), c[0]+":pbkdf2-sha256$") {
			t.Fatalf("tillhq passwd %s: %v\n%s", c[0], err, out)
		}
		if strings.Contains(string(out), c[1]) {
			t.Fatalf("tillhq passwd %s printed the secret", c[0])
		}
		lines = append(lines, strings.TrimSpace(string(out)))
	}
	path := filepath.Join(t.TempDir(), "dashboard.auth")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fleetOnDashboard starts a real tillhq (in-process broker, bbolt store, dashboard behind
// authentication) and four simulated tills in two stores: s042/t01 selling and healthy,
// s042/t02 out of paper, s043/t03 lost (its link cut, the broker publishes its will),
// s043/t04 healthy.
func fleetOnDashboard(t *testing.T) (bin, broker, web string) {
	t.Helper()
	bin = buildTillhq(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	web = fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	rig.StartProc(t, "tillhq", dir, exec.Command(bin, "serve", "--insecure", "--listen", addr, "--store", filepath.Join(dir, "hq.db"),
		"--http", web, "--dashboard-auth", webAuthFile(t, bin)))
	for _, a := range []string{addr, web} {
		if err := rig.WaitListening(a, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	broker = "tcp://" + addr
	till := func(store, name, via string, devices []wire.Device, sales int) {
		l := openLedgerIn(t, store, name)
		o := fastOptions(via)
		o.Info = func() uplink.Info { return uplink.Info{Version: "1.4.2", Board: "rpi4", Devices: devices} }
		c, _ := runTill(t, l, o)
		appendSales(t, l, c, sales)
		waitSynced(t, l, c)
	}
	ok := []wire.Device{{Name: "printer", State: "ok"}, {Name: "scanner", State: "ok"}, {Name: "drawer", State: "ok"}}
	till("s042", "t01", broker, ok, 25)
	till("s042", "t02", broker, []wire.Device{{Name: "printer", State: "paper-out"}, {Name: "scanner", State: "ok"}}, 5)
	px := rig.StartProxy(t, addr)
	till("s043", "t03", px.URL(), ok, 3)
	till("s043", "t04", broker, ok, 0)
	px.Cut()
	waitFor(t, 30*time.Second, "the dashboard to see all four tills, t03 lost", func() bool {
		var m struct {
			Tills []struct{ Store, Till, State string }
		}
		if err := getJSON("http://"+web+"/api/fleet", &m); err != nil {
			return false
		}
		states := map[string]string{}
		for _, r := range m.Tills {
			states[r.Store+"/"+r.Till] = r.State
		}
		return len(states) == 4 && states["s043/t03"] == "lost" && states["s042/t01"] == "online" && states["s042/t02"] == "online"
	})
	return bin, broker, web
}

func openLedgerIn(t *testing.T, store, till string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(filepath.Join(t.TempDir(), till+".ledger"), &ledger.Options{Store: store, Till: till})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// getJSON reads url as the person of webUser.
func getJSON(url string, v any) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(webUser, webPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// getStatus is the status of GET url with the Authorization header auth ("" for none).
func getStatus(t *testing.T, url, auth string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFleetDashboardMetricsAndTable(t *testing.T) {
	bin, broker, web := fleetOnDashboard(t)

	t.Run("only with a credential", func(t *testing.T) {
		basic := func(u, p string) string {
			r, _ := http.NewRequest("GET", "/", nil)
			r.SetBasicAuth(u, p)
			return r.Header.Get("Authorization")
		}
		for _, path := range []string{"/", "/api/fleet", "/metrics", "/business", "/api/business"} {
			for _, c := range []struct {
				auth string
				want int
			}{
				{"", http.StatusUnauthorized},
				{basic(webUser, "wrong password"), http.StatusUnauthorized},
				{basic("nobody", webPassword), http.StatusUnauthorized},
				{"Bearer wrong-token-0123456789", http.StatusUnauthorized},
				{basic(webUser, webPassword), http.StatusOK},
				{"Bearer " + webToken, http.StatusOK},
			} {
				if got := getStatus(t, "http://"+web+path, c.auth); got != c.want {
					t.Errorf("GET %s with %q: %d, want %d", path, c.auth, got, c.want)
				}
			}
		}
	})

	t.Run("metrics parse as Prometheus text", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+web+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+webToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("content type %q", ct)
		}
		if bytes.Contains(body, []byte(`state="`)) {
			t.Errorf("a state is a metric label:\n%s", body)
		}
		var p expfmt.TextParser
		fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, body)
		}
		value := func(name string, labels map[string]string) (float64, bool) {
			f := fams[name]
			if f == nil {
				return 0, false
			}
		next:
			for _, m := range f.Metric {
				for k, v := range labels {
					found := false
					for _, lp := range m.Label {
						if lp.GetName() == k && lp.GetValue() == v {
							found = true
						}
					}
					if !found {
						continue next
					}
				}
				switch f.GetType() {
				case dto.MetricType_COUNTER:
					return m.Counter.GetValue(), true
				default:
					return m.Gauge.GetValue(), true
				}
			}
			return 0, false
		}
		till := func(s, tl string) map[string]string { return map[string]string{"store": s, "till": tl} }
		checks := []struct {
			name   string
			labels map[string]string
			want   func(float64) bool
			say    string
		}{
			{"tillbox_till_up", till("s042", "t01"), func(v float64) bool { return v == 1 }, "1"},
			{"tillbox_till_lost", till("s043", "t03"), func(v float64) bool { return v == 1 }, "1"},
			{"tillbox_till_attention", till("s042", "t02"), func(v float64) bool { return v == 1 }, "1"},
			{"tillbox_till_attention", till("s042", "t01"), func(v float64) bool { return v == 0 }, "0"},
			{"tillbox_till_backlog_entries", till("s042", "t01"), func(v float64) bool { return v == 0 }, "0"},
			{"tillbox_till_oldest_unsynced_age_seconds", till("s042", "t01"), func(v float64) bool { return v == 0 }, "0"},
			{"tillbox_till_last_sale_timestamp_seconds", till("s042", "t01"), func(v float64) bool { return v > float64(time.Now().Add(-time.Hour).Unix()) }, "within the hour"},
			{"tillbox_till_device_ok", map[string]string{"store": "s042", "till": "t02", "device": "printer"}, func(v float64) bool { return v == 0 }, "0"},
			{"tillbox_till_alert", map[string]string{"store": "s042", "till": "t02", "alert": "paper-out"}, func(v float64) bool { return v == 1 }, "1"},
			{"tillbox_till_alert", map[string]string{"store": "s042", "till": "t01", "alert": "paper-out"}, func(v float64) bool { return v == 0 }, "0"},
			{"tillbox_till_alert", map[string]string{"store": "s043", "till": "t03", "alert": "lost"}, func(v float64) bool { return v == 1 }, "1"},
			{"tillbox_till_info", map[string]string{"store": "s042", "till": "t01", "version": "1.4.2", "catalog": "0"}, func(v float64) bool { return v == 1 }, "1"},
			{"tillbox_till_info", map[string]string{"store": "s043", "till": "t03", "version": "1.4.2"}, func(v float64) bool { return v == 1 }, "1 (a lost till keeps its version)"},
			{"tillbox_till_backlog_entries", till("s043", "t03"), func(v float64) bool { return v >= 0 && v <= 3 }, "its last word, 0 to 3"},
			{"tillbox_till_lost_since_timestamp_seconds", till("s043", "t03"), func(v float64) bool { return v > float64(time.Now().Add(-time.Hour).Unix()) }, "within the hour"},
			{"tillhq_till_acknowledged_seq", till("s042", "t01"), func(v float64) bool { return v == 25 }, "25"},
			{"tillhq_entries_stored_total", nil, func(v float64) bool { return v == 33 }, "33 (25+5+3)"},
			{"tillhq_quarantined_total", nil, func(v float64) bool { return v == 0 }, "0"},
			{"tillhq_acks_published_total", nil, func(v float64) bool { return v >= 3 }, ">= 3"},
			{"tillhq_consumer_pending_messages", nil, func(v float64) bool { return v >= 0 }, ">= 0"},
			{"tillhq_consumer_lag_seconds", nil, func(v float64) bool { return v >= 0 }, ">= 0"},
		}
		for _, c := range checks {
			v, ok := value(c.name, c.labels)
			if !ok || !c.want(v) {
				t.Errorf("%s%v = %v (present %v), want %s", c.name, c.labels, v, ok, c.say)
			}
		}
	})

	t.Run("fleet table filters", func(t *testing.T) {
		run := func(args ...string) string {
			t.Helper()
			out, err := exec.Command(bin, append([]string{"fleet", "--broker", broker, "--wait", "3s"}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("tillhq fleet %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		tills := func(out string) string {
			var ids []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
				f := strings.Fields(line)
				ids = append(ids, f[0]+"/"+f[1])
			}
			return strings.Join(ids, " ")
		}
		all := run()
		if !strings.Contains(all, "LAST SALE") || !strings.Contains(all, "printer paper-out") {
			t.Errorf("fleet:\n%s", all)
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{nil, "s042/t01 s042/t02 s043/t03 s043/t04"},
			{[]string{"--attention"}, "s042/t02 s043/t03"},
			{[]string{"--store", "s043"}, "s043/t03 s043/t04"},
			{[]string{"--state", "lost"}, "s043/t03"},
			{[]string{"--store", "s042", "--attention"}, "s042/t02"},
		} {
			if got := tills(run(c.args...)); got != c.want {
				t.Errorf("fleet %v: %q, want %q", c.args, got, c.want)
			}
		}
	})

	t.Run("a person sees it in Chromium", func(t *testing.T) {
		if _, err := os.Stat(chromiumPath); err != nil {
			t.Fatalf("%s is missing: install Debian's chromium package (scripts/deps.sh) to run the dashboard's browser test", chromiumPath)
		}
		browse := func(creds bool, extra ...string) []byte {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir=" + t.TempDir(), "--window-size=1280,900"}, extra...)
			page := "http://" + web + "/"
			if creds {
				page = "http://" + url.UserPassword(webUser, webPassword).String() + "@" + web + "/"
			}
			cmd := exec.CommandContext(ctx, chromiumPath, append(args, page)...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("chromium %v: %v\n%s", extra, err, errb.String())
			}
			return out.Bytes()
		}
		// Without credentials the browser is asked for them and shows nothing of the fleet.
		if dom := string(browse(false, "--dump-dom")); strings.Contains(dom, "tillbox fleet") || strings.Contains(dom, "s042") {
			t.Errorf("without credentials the browser got:\n%s", dom)
		}
		dom := string(browse(true, "--dump-dom"))
		for _, want := range []string{
			"<title>tillbox fleet</title>",
			`<li data-till="s042/t02"><b>s042/t02</b>: printer paper-out</li>`,
			`<li data-till="s043/t03"><b>s043/t03</b>: lost</li>`,
			`<td class="state-lost">lost</td>`,
			`<td>printer:paper-out, scanner:ok</td>`,
			`<td class="lost-since">`,
			// store, tills, online, lost, need attention, unsynced
			`<tr><td>s042</td><td class="num">2</td><td class="num">2</td><td class="num">0</td><td class="num">1</td><td class="num">0</td></tr>`,
			// (the lost till's unsynced count is the last it reported, whatever it was)
			`<tr><td>s043</td><td class="num">2</td><td class="num">1</td><td class="num">1</td><td class="num">1</td>`,
		} {
			if !strings.Contains(dom, want) {
				t.Errorf("the page does not show %s", want)
			}
		}
		if strings.Contains(dom, `data-till="s042/t01"`) || strings.Contains(dom, `data-till="s043/t04"`) {
			t.Error("a healthy till is listed among the alerts")
		}
		if t.Failed() {
			t.Logf("DOM:\n%s", dom)
		}
		shot := filepath.Join(t.ArtifactDir(), "dashboard.png")
		browse(true, "--screenshot="+shot)
		if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
			t.Fatalf("screenshot %s: %v", shot, err)
		}
		keepArtifact(t, shot)
		t.Logf("dashboard screenshot: %s (kept with go test -artifacts)", shot)
	})
}

// keepArtifact copies file into $TILLBOX_ARTIFACTS when that is set.
func keepArtifact(t *testing.T, file string) {
	t.Helper()
	dir := os.Getenv("TILLBOX_ARTIFACTS")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(file)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, filepath.Base(file)), b, 0o644)
	}
	if err != nil {
		t.Errorf("artifact %s: %v", file, err)
	}
}
