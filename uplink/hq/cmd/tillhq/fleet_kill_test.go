package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger"
	"tillbox/uplink/identity"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// tillRow is a till of /api/fleet.
type tillRow struct {
	Store, Till, State, Version, LostSince string
	Backlog                                uint64
	Catalog                                uint64
}

func fleetRows(web string) (map[string]tillRow, error) {
	var m struct{ Tills []tillRow }
	if err := getJSON("http://"+web+"/api/fleet", &m); err != nil {
		return nil, err
	}
	out := map[string]tillRow{}
	for _, r := range m.Tills {
		out[r.Store+"/"+r.Till] = r
	}
	return out, nil
}

func authGet(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+webToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

// TestKilledTillKeepsWhatHQKnew runs the real tillbox against tillhq serve: the till has
// sales HQ has not acknowledged (HQ knows no device key for it), it is killed with
// SIGKILL, the broker publishes its will. The fleet table, the dashboard and the metrics
// still show its backlog and version, and since when it is lost; after tillhq restarts,
// the inventory and the event history are still there.
func TestKilledTillKeepsWhatHQKnew(t *testing.T) {
	bin := buildTillhq(t)
	tillbox := rig.Build(t, "tillbox/firmware", t.TempDir())
	out, err := exec.Command(tillbox, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("tillbox version: %v\n%s", err, out)
	}
	version := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "tillbox"))
	dir := t.TempDir()
	store := filepath.Join(dir, "hq.db")
	auth := webAuthFile(t, bin)
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(webToken+"\n"), 0o600)
	addr := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	web := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	keys := t.TempDir() // no till registered: HQ stores nothing of it and acks nothing
	serve := func() *rig.Proc {
		p := rig.StartProc(t, "tillhq", dir, exec.Command(bin, "serve", "--insecure", "--keys", keys, "--listen", addr,
			"--store", store, "--http", web, "--dashboard-auth", auth))
		for _, a := range []string{addr, web} {
			if err := rig.WaitListening(a, 15*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	hqProc := serve()

	// Two sales made offline, then the till goes online and stays.
	data := filepath.Join(dir, "till")
	config := func(broker string) string {
		p := filepath.Join(dir, "till-"+fmt.Sprint(broker != "")+".json")
		os.WriteFile(p, []byte(fmt.Sprintf(`{"data":%q,"uplink":{"broker":%q,"embedded":false,"backoff_min":"100ms","backoff_max":"1s"}}`, data, broker)), 0o600)
		return p
	}
	script := func(s string) string {
		p := filepath.Join(t.TempDir(), "script")
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	sale := "signon 1 1234\nscan 5901234123457\nkey SUBTOTAL CASH\ndrawer close\n"
	offline := exec.Command(tillbox, "run", "--config", config(""), "--script", script(sale+sale), "--log", filepath.Join(dir, "offline.log"))
	if out, err := offline.CombinedOutput(); err != nil {
		t.Fatalf("tillbox offline: %v\n%s", err, out)
	}
	till := exec.Command(tillbox, "run", "--config", config("tcp://"+addr), "--script", script(strings.Repeat("wait 1m\n", 10)),
		"--log", filepath.Join(dir, "online.log"))
	if err := till.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { till.Process.Kill(); till.Wait() })

	var before tillRow
	waitFor(t, 30*time.Second, "the dashboard to show the till online with its backlog", func() bool {
		rows, err := fleetRows(web)
		before = rows["s001/t01"]
		return err == nil && before.State == "online" && before.Backlog >= 2
	})
	if before.Version != version {
		t.Errorf("version %q on the dashboard, tillbox says %q", before.Version, version)
	}
	if err := till.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	till.Wait()
	l, err := ledger.Open(filepath.Join(data, "till.ledger"), &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := l.Stats()
	l.Close()
	if st.Backlog < before.Backlog {
		t.Fatalf("the killed till's ledger holds %d unacknowledged, the dashboard said %d", st.Backlog, before.Backlog)
	}

	var lost tillRow
	waitFor(t, 60*time.Second, "the will to mark the till lost", func() bool {
		rows, err := fleetRows(web)
		lost = rows["s001/t01"]
		return err == nil && lost.State == "lost"
	})
	check := func(when string, r tillRow) {
		t.Helper()
		if r.State != "lost" || r.Backlog != before.Backlog || r.Version != version || r.LostSince == "" {
			t.Errorf("%s: %+v, want lost with backlog %d, version %q and a lost since", when, r, before.Backlog, version)
		}
	}
	check("dashboard", lost)
	metrics := authGet(t, "http://"+web+"/metrics")
	for _, want := range []string{
		fmt.Sprintf(`tillbox_till_backlog_entries{store="s001",till="t01"} %d`, before.Backlog),
		fmt.Sprintf(`tillbox_till_info{store="s001",till="t01",version=%q,catalog=`, version),
		`tillbox_till_lost{store="s001",till="t01"} 1`,
		`tillbox_till_lost_since_timestamp_seconds{store="s001",till="t01"} `,
		`tillbox_till_alert{store="s001",till="t01",alert="lost"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	fleetTable := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"fleet"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tillhq fleet %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	row := func(table string) []string {
		for _, line := range strings.Split(table, "\n") {
			if f := strings.Fields(line); len(f) > 8 && f[0] == "s001" && f[1] == "t01" {
				return f
			}
		}
		t.Fatalf("no s001/t01 in\n%s", table)
		return nil
	}
	// STORE TILL STATE BACKLOG ...; the version and the lost-since time further on.
	table := fleetTable("--hq", "http://"+web, "--hq-token", tokenFile)
	if f := row(table); f[2] != "lost" || f[3] != fmt.Sprint(before.Backlog) || !strings.Contains(table, " "+version+" ") ||
		!strings.Contains(table, time.Now().UTC().Format("2006-01-02T")) {
		t.Errorf("tillhq fleet --hq:\n%s", table)
	}
	wantEvents := func(when string) {
		t.Helper()
		page := authGet(t, "http://"+web+"/")
		if !strings.Contains(page, "<b>s001/t01</b> error: lost: the broker published the till&#39;s last will") {
			t.Errorf("%s: the page's events do not show the loss:\n%s", when, page)
		}
	}
	wantEvents("before the restart")

	// tillhq stops: its store answers for the inventory and the events.
	hqProc.Stop(10 * time.Second)
	var evs bytes.Buffer
	cmd := exec.Command(bin, "events", "--store", store, "--till", "s001/t01", "--kind", "lost", "--since", "1h", "--json")
	cmd.Stdout, cmd.Stderr = &evs, &evs
	if err := cmd.Run(); err != nil {
		t.Fatalf("tillhq events: %v\n%s", err, evs.String())
	}
	lines := strings.Split(strings.TrimSpace(evs.String()), "\n")
	var ev eventLine
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &ev) != nil || ev.Kind != "lost" || ev.Source != "hq" || ev.Till != "t01" {
		t.Errorf("tillhq events --kind lost:\n%s", evs.String())
	}
	if out := fleetTable("--inventory", store); row(out)[2] != "lost" || row(out)[3] != fmt.Sprint(before.Backlog) {
		t.Errorf("tillhq fleet --inventory:\n%s", out)
	}
	if out, _ := exec.Command(bin, "events", "--store", store, "--kind", "lost", "--since", "2099-01-01").CombinedOutput(); strings.Contains(string(out), "s001/t01") {
		t.Errorf("events since 2099:\n%s", out)
	}

	serve()
	var after tillRow
	waitFor(t, 30*time.Second, "the restarted dashboard to list the till", func() bool {
		rows, err := fleetRows(web)
		after = rows["s001/t01"]
		return err == nil && after.Till != ""
	})
	check("after the restart", after)
	wantEvents("after the restart")
}

// TestChainConflictRaisesAlert: a second box answering to a till id HQ already holds
// entries of is a chain conflict. serve records it at once as an event and an alert on
// the dashboard and in the metrics, and the event is kept in the store.
func TestChainConflictRaisesAlert(t *testing.T) {
	bin := buildTillhq(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "hq.db")
	addr := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	web := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	p := rig.StartProc(t, "tillhq", dir, exec.Command(bin, "serve", "--insecure", "--listen", addr, "--store", store,
		"--http", web, "--dashboard-auth", webAuthFile(t, bin)))
	for _, a := range []string{addr, web} {
		if err := rig.WaitListening(a, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	first := openLedgerIn(t, "s042", "t01")
	c, stop := runTill(t, first, fastOptions("tcp://"+addr))
	appendSales(t, first, c, 3)
	waitSynced(t, first, c)
	stop()
	// Another box claiming to be t01: its seq 1 differs from the one HQ holds.
	impostor := openLedgerIn(t, "s042", "t01")
	res, err := impostor.Append(rig.Sale(999))
	if err != nil {
		t.Fatal(err)
	}
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("impostor").SetAutoReconnect(false))
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cli.Disconnect(100)
	if tok := cli.Publish(wire.Topics{}.Tx("s042", "t01"), 1, false, res.Raw); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	waitFor(t, 30*time.Second, "the dashboard to raise the conflict", func() bool {
		var m struct {
			Tills []struct {
				Store, Till string
				Attention   []string
			}
		}
		if getJSON("http://"+web+"/api/fleet", &m) != nil {
			return false
		}
		for _, r := range m.Tills {
			if r.Till == "t01" && strings.Contains(strings.Join(r.Attention, ";"), "chain conflicts") {
				return true
			}
		}
		return false
	})
	if m := authGet(t, "http://"+web+"/metrics"); !strings.Contains(m, `tillbox_till_alert{store="s042",till="t01",alert="conflict"} 1`) ||
		strings.Contains(m, `tillhq_till_conflicts_total{store="s042",till="t01"} 0`) {
		t.Errorf("metrics do not show the conflict:\n%s", m)
	}
	p.Stop(10 * time.Second)
	out, err := exec.Command(bin, "events", "--store", store, "--kind", "conflict").CombinedOutput()
	// The kind is named once: the detail starts where the reason's own name of it ends.
	if err != nil || !strings.Contains(string(out), "s042/t01  hq") || !strings.Contains(string(out), "seq 1 is held with hash") ||
		strings.Contains(string(out), "conflict: seq 1") {
		t.Errorf("tillhq events --kind conflict: %v\n%s", err, out)
	}
}

// TestDashboardOverHTTPS: with --http-cert and --http-key the dashboard speaks only TLS,
// and a bare :PORT listens on loopback alone.
func TestDashboardOverHTTPS(t *testing.T) {
	bin := buildTillhq(t)
	dir := t.TempDir()
	ca, err := identity.InitCA(filepath.Join(dir, "ca"), "test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.IssueServer([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "web.crt"), cert, 0o644)
	os.WriteFile(filepath.Join(dir, "web.key"), key, 0o600)
	addr := fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))
	port := rig.FreePort(t)
	web := fmt.Sprintf("127.0.0.1:%d", port)
	rig.StartProc(t, "tillhq", dir, exec.Command(bin, "serve", "--insecure", "--listen", addr, "--store", filepath.Join(dir, "hq.db"),
		"--http", fmt.Sprintf(":%d", port), "--dashboard-auth", webAuthFile(t, bin),
		"--http-cert", filepath.Join(dir, "web.crt"), "--http-key", filepath.Join(dir, "web.key")))
	if err := rig.WaitListening(web, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	cli := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", "https://"+web+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+webToken)
	resp, err := cli.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "# TYPE tillbox_till_up gauge") {
		t.Errorf("https /metrics: %s\n%s", resp.Status, body)
	}
	if resp, err := http.Get("http://" + web + "/metrics"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP was served")
	}
	// Loopback only: the box's other addresses do not answer.
	if ip := outboundIP(); ip != "" {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, fmt.Sprint(port)), time.Second); err == nil {
			c.Close()
			t.Errorf("a bare :%d listens on %s too", port, ip)
		}
	}
}

// outboundIP is an address of this machine other than loopback, "" when it has none.
func outboundIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
