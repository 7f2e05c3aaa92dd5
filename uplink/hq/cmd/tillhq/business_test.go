package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tillbox/image/bundle"
	"tillbox/ledger"
	"tillbox/ledger/journal"
	"tillbox/uplink"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// noonZone is a fixed-offset IANA zone (Etc/GMT-N is UTC+N) where it is about noon now
// and that is not UTC: a trading day the test's sales cannot straddle, whose midnight is
// not UTC's.
func noonZone(t *testing.T, now time.Time) *time.Location {
	t.Helper()
	off := 12 - now.UTC().Hour() // -11 .. +12
	if off == 0 {
		off = 3
	}
	name := fmt.Sprintf("Etc/GMT%+d", -off)
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// businessDoc is a sale (cash handed over and change, or card), or a refund paid back in
// cash.
func businessDoc(kind journal.Kind, at time.Time, gross, card, cashGiven int64) journal.Entry {
	e := journal.Entry{Kind: kind, At: at, Cashier: "c1", Currency: "PLN",
		Lines:  []journal.Line{{Item: "1001", Name: "Bread", Qty: 1000, Price: gross, Amount: gross, Tax: "B"}},
		Totals: &journal.Totals{Gross: gross, Taxes: []journal.TaxTotal{{Code: "B", Rate: 800, Net: gross * 100 / 108, Tax: gross - gross*100/108, Gross: gross}}}}
	if card != 0 {
		e.Tenders = append(e.Tenders, journal.Tender{Kind: "card", Amount: card, Ref: "T1"})
	}
	if cashGiven != 0 {
		e.Tenders = append(e.Tenders, journal.Tender{Kind: "cash", Amount: cashGiven})
	}
	if kind == journal.KindSale {
		e.Totals.Change = card + cashGiven - gross
	} else {
		e.Lines[0].Qty, e.Ref = -1000, "R"
	}
	return e
}

// takingsRow is one till's figures as the test compares them.
type takingsRow struct {
	Sales, Refunds, Gross int64
	Tenders               map[string]int64
}

// TestBusinessViewOverPostgresInChromium runs a real tillhq on a real PostgreSQL and
// Mosquitto, with three real tills (ledger and uplink) selling in two stores, one of them
// a sale of yesterday in the trading zone. The business view (behind authentication)
// shows each till's and store's takings exactly as the projection holds them and as the
// tills journaled them, the firmware and catalog versions, a conflict a forger caused and
// the quarantine. A staged rollout shows each till's step and each stage in tillhq fleet
// (from the running tillhq and from the store) and on the dashboard. Headless Chromium,
// signed on, sees the business view; its screenshot is an artifact.
func TestBusinessViewOverPostgresInChromium(t *testing.T) {
	dir := t.TempDir()
	mq := rig.StartMosquitto(t, nil)
	start := time.Now()
	zone := noonZone(t, start)
	day := hq.DayOf(start, zone)
	releases := filepath.Join(dir, "releases")
	hqs := startServe(t, mq, dir, "--trading-tz", zone.String(), "--releases", releases)
	bin, pg, run, web := hqs.bin, hqs.pg, hqs.run, hqs.web

	// The tills: what each journals, and what the day's takings must be (in Go, from the
	// documents).
	want := map[string]*takingsRow{}
	till := func(store, name, version string, docs []journal.Entry, desired func(c **uplink.Client) func(wire.Desired)) {
		l := openLedgerIn(t, store, name)
		o := fastOptions(mq.URL())
		o.Info = func() uplink.Info { return uplink.Info{Version: version, Board: "rpi4"} }
		var c *uplink.Client
		if desired != nil {
			o.Desired = desired(&c)
		}
		c, _ = runTill(t, l, o)
		for _, d := range docs {
			res, err := l.Append(d)
			if err != nil {
				t.Fatal(err)
			}
			if res.Entry.At.Before(day.From) || !res.Entry.At.Before(day.To) {
				continue
			}
			w := want[store+"/"+name]
			if w == nil {
				w = &takingsRow{Tenders: map[string]int64{}}
				want[store+"/"+name] = w
			}
			if d.Kind == journal.KindSale {
				w.Sales++
			} else {
				w.Refunds++
			}
			w.Gross += d.Totals.Gross
			for _, tn := range d.Tenders {
				w.Tenders[tn.Kind] += tn.Amount
			}
			w.Tenders["cash"] -= d.Totals.Change
		}
		c.Notify()
		waitSynced(t, l, c)
	}
	now := time.Time{} // the ledger's clock
	// Stage 1 of the rollout (s042/t01) reports a download under way when HQ asks it.
	reportDownload := func(c **uplink.Client) func(wire.Desired) {
		return func(d wire.Desired) {
			if d.Version != "" {
				(*c).Alert(wire.UpdateEvent(wire.UpdateReport{Rollout: d.Rollout, Version: d.Version, Step: wire.StepDownloading, Bytes: 40, Total: 100}))
			}
		}
	}
	till("s042", "t01", "1.4.2", []journal.Entry{
		businessDoc(journal.KindSale, day.From.Add(-time.Hour), 5000, 0, 5000), // yesterday in the zone
		businessDoc(journal.KindSale, now, 1649, 0, 2000),
		businessDoc(journal.KindSale, now, 2599, 1000, 1599),
		businessDoc(journal.KindRefund, now, -450, 0, -450),
		businessDoc(journal.KindSale, now, 300, 300, 0),
	}, reportDownload)
	till("s042", "t02", "1.4.2", []journal.Entry{
		businessDoc(journal.KindSale, now, 1200, 0, 1500),
		businessDoc(journal.KindSale, now, 899, 899, 0),
	}, nil)
	till("s043", "t03", "1.5.0", []journal.Entry{
		businessDoc(journal.KindSale, now, 990, 990, 0),
		businessDoc(journal.KindSale, now, 12345, 0, 20000),
	}, nil)

	// s042's catalog version 7 reaches its two tills.
	h, err := wire.HashPIN("1234", []byte("0123456789"), wire.MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	cat := wire.Catalog{Store: "s042", Version: 7, Currency: "PLN", Taxes: []wire.Tax{{Code: "B", Rate: 800}},
		Items:    []wire.Item{{Code: "1001", Name: "Bread", Price: 450, Tax: "B"}},
		Cashiers: []wire.Cashier{{ID: "c1", Name: "Ann", PINHash: h, Role: wire.RoleCashier}}}
	if err := hq.PublishCatalog(context.Background(), hq.Options{Broker: mq.URL()}, cat); err != nil {
		t.Fatal(err)
	}

	// A forger sends s043/t03's seq 1 with another content: a conflict, quarantined.
	first := journal.Entry{}
	{
		l2, err := ledger.Open(filepath.Join(t.TempDir(), "forged.ledger"), &ledger.Options{Store: "s043", Till: "t03"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := l2.Append(businessDoc(journal.KindSale, now, 1, 1, 0))
		l2.Close()
		if err != nil {
			t.Fatal(err)
		}
		first = res.Entry
	}
	forged, _ := json.Marshal(&first)
	cli := dialBroker(t, mq.URL(), "forger")
	if tok := cli.Publish(wire.Topics{}.Tx("s043", "t03"), 1, false, forged); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	cli.Disconnect(100)

	// A rollout of 2.0.0 to s042 in two stages: t01 first (it reports its download), t02 after.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	keys := filepath.Join(dir, "update.pub")
	os.WriteFile(keys, bundle.MarshalPublic(pub), 0o644)
	var b bytes.Buffer
	rootfs := bytes.Repeat([]byte("rootfs "), 3000)
	if _, err := bundle.Create(&b, bundle.Manifest{Board: "rpi4", Version: "2.0.0"}, bytes.NewReader(rootfs), int64(len(rootfs)), priv); err != nil {
		t.Fatal(err)
	}
	tbx := filepath.Join(dir, "2.0.0.tbx")
	os.WriteFile(tbx, b.Bytes(), 0o644)
	run("release", "add", "--releases", releases, "--release-keys", keys, tbx)
	run("rollout", "create", "--id", "r9", "--release", "2.0.0", "--target-store", "s042", "--stages", "50%,100%",
		"--release-url", "http://"+web)

	var bv hq.BusinessView
	waitFor(t, 60*time.Second, "the business view to show s042's catalog 7 on both tills and the conflict", func() bool {
		bv = hq.BusinessView{}
		if getJSON("http://"+web+"/api/business", &bv) != nil {
			return false
		}
		cat7 := false
		for _, c := range bv.Catalogs {
			cat7 = cat7 || c.Store == "s042" && c.Version == 7 && c.Tills == 2
		}
		return cat7 && len(bv.Integrity) == 1 && bv.QuarantineTotal >= 1
	})
	var fleet struct {
		Tills []struct {
			Store, Till string
			Rollout     *hq.TillRollout
		}
		Rollouts []hq.RolloutView
	}
	waitFor(t, 60*time.Second, "the dashboard to show t01 downloading in stage 1 and t02 pending in stage 2", func() bool {
		if getJSON("http://"+web+"/api/fleet", &fleet) != nil {
			return false
		}
		steps := map[string]string{}
		for _, r := range fleet.Tills {
			if r.Rollout != nil {
				steps[r.Till] = r.Rollout.String()
			}
		}
		return steps["t01"] == "r9 2.0.0 stage 1/2 downloading 40%" && steps["t02"] == "r9 2.0.0 stage 2/2 pending" && len(fleet.Rollouts) == 1
	})

	t.Run("figures are the projection's and the tills'", func(t *testing.T) {
		if bv.Day != day {
			t.Fatalf("the view's day %+v, want %+v (zone %s)", bv.Day, day, zone)
		}
		conn, err := pgx.Connect(context.Background(), pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		projected := map[string]*takingsRow{}
		rows, err := conn.Query(context.Background(), `SELECT store || '/' || till, kind, gross,
	coalesce((payload->'totals'->>'change')::bigint, 0), coalesce((SELECT jsonb_object_agg(t.kind, t.amount) FROM
		(SELECT kind, sum(amount) AS amount FROM hq_tenders x WHERE x.store = r.store AND x.till = r.till AND x.seq = r.seq GROUP BY kind) t), '{}')
FROM hq_receipts r WHERE at >= $1 AND at < $2 AND kind IN ('sale', 'refund')`, day.From, day.To)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k, kind string
			var gross, change int64
			var tenders map[string]int64
			if err := rows.Scan(&k, &kind, &gross, &change, &tenders); err != nil {
				t.Fatal(err)
			}
			p := projected[k]
			if p == nil {
				p = &takingsRow{Tenders: map[string]int64{}}
				projected[k] = p
			}
			if kind == "sale" {
				p.Sales++
			} else {
				p.Refunds++
			}
			p.Gross += gross
			for tk, v := range tenders {
				p.Tenders[tk] += v
			}
			p.Tenders["cash"] -= change
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		shown := map[string]*takingsRow{}
		for _, tk := range bv.Tills {
			if tk.Receipts() > 0 {
				shown[tk.Store+"/"+tk.Till] = &takingsRow{Sales: tk.Sales, Refunds: tk.Refunds, Gross: tk.Gross, Tenders: tk.Tenders}
			}
		}
		for _, m := range []map[string]*takingsRow{want, projected, shown} {
			for _, r := range m {
				for k, v := range r.Tenders {
					if v == 0 {
						delete(r.Tenders, k)
					}
				}
			}
		}
		if a, b, c := mustJSON(t, shown), mustJSON(t, projected), mustJSON(t, want); a != b || b != c {
			t.Fatalf("takings of %s in %s:\nshown     %s\nprojected %s\njournaled %s", day.Date, zone, a, b, c)
		}
		if len(want) != 3 || want["s042/t01"].Sales != 3 {
			t.Fatalf("the day's sales are not what the test made: %s", mustJSON(t, want))
		}
		var s042 int64
		for _, k := range []string{"s042/t01", "s042/t02"} {
			s042 += want[k].Gross
		}
		if len(bv.Stores) != 2 || bv.Stores[0].Store != "s042" || bv.Stores[0].Gross != s042 || bv.Stores[0].Receipts() != 6 {
			t.Errorf("store takings: %s", mustJSON(t, bv.Stores))
		}
		if got := mustJSON(t, bv.Firmware); got != `[{"version":"1.4.2","tills":2,"stores":["s042"]},{"version":"1.5.0","tills":1,"stores":["s043"]}]` {
			t.Errorf("firmware: %s", got)
		}
		if bv.Integrity[0].Store != "s043" || bv.Integrity[0].Till != "t03" || bv.Integrity[0].Kind != "conflict" {
			t.Errorf("integrity: %s", mustJSON(t, bv.Integrity))
		}
		if len(bv.Quarantine) == 0 || bv.Quarantine[0].Till != "t03" || bv.Quarantine[0].Reason != "conflict" {
			t.Errorf("quarantine: %s", mustJSON(t, bv.Quarantine))
		}
	})

	t.Run("Grafana's takings panels give the same figures", func(t *testing.T) {
		raw, err := os.ReadFile("../../../../scripts/monitoring/tillbox-fleet.grafana.json")
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Panels []struct {
				Title   string
				Targets []struct{ RawSQL string }
			}
		}
		if err := json.Unmarshal(raw, &dash); err != nil {
			t.Fatal(err)
		}
		// Grafana's variables and macros as Grafana expands them for "All" stores and the
		// last two days.
		expand := strings.NewReplacer("${store:regex}", ".*", "${trading_tz}", zone.String(),
			"$__timeFilter(r.at)", fmt.Sprintf("r.at BETWEEN '%s' AND '%s'", day.From.Add(-24*time.Hour).Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339)))
		conn, err := pgx.Connect(context.Background(), pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `SET TIME ZONE 'UTC'`); err != nil {
			t.Fatal(err)
		}
		rowsOf := func(sql string) [][]string {
			rows, err := conn.Query(context.Background(), expand.Replace(sql), pgx.QueryResultFormats{pgx.TextFormatCode})
			if err != nil {
				t.Fatalf("%v\n%s", err, expand.Replace(sql))
			}
			defer rows.Close()
			var out [][]string
			for rows.Next() {
				var row []string
				for _, v := range rows.RawValues() {
					row = append(row, string(v))
				}
				out = append(out, row)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		}
		ran := 0
		for _, p := range dash.Panels {
			for _, tg := range p.Targets {
				if tg.RawSQL == "" {
					continue
				}
				ran++
				got := mustJSON(t, rowsOf(tg.RawSQL))
				var want [][]string
				switch p.Title {
				case "Takings per store today":
					for _, s := range bv.Stores {
						want = append(want, []string{s.Store, s.Currency, fmt.Sprint(s.Sales), fmt.Sprint(s.Refunds), hq.FormatMoney(s.Gross, s.Currency)})
					}
				case "Takings per till today":
					for _, s := range bv.Tills {
						if s.Receipts() > 0 {
							want = append(want, []string{s.Store, s.Till, s.Currency, fmt.Sprint(s.Sales), fmt.Sprint(s.Refunds), hq.FormatMoney(s.Gross, s.Currency)})
						}
					}
				case "Takings per store and day":
					// Yesterday's one sale of s042/t01, then today's takings per store.
					yesterday := hq.DayOf(day.From.Add(-time.Hour), zone)
					want = append(want, []string{yesterday.From.In(time.UTC).Format("2006-01-02 15:04:05+00"), "s042 PLN", "50.00"})
					for _, s := range bv.Stores {
						want = append(want, []string{day.From.Format("2006-01-02 15:04:05+00"), s.Store + " " + s.Currency, hq.FormatMoney(s.Gross, s.Currency)})
					}
				default:
					t.Errorf("a PostgreSQL panel this test does not know: %q", p.Title)
					continue
				}
				if w := mustJSON(t, want); !numbersEqual(got, w) {
					t.Errorf("panel %q:\n got %s\nwant %s", p.Title, got, w)
				}
			}
		}
		if ran != 3 {
			t.Errorf("%d PostgreSQL panels, want 3", ran)
		}
	})

	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(webToken+"\n"), 0o600)
	t.Run("tillhq fleet shows each till's rollout step and the stages", func(t *testing.T) {
		for _, args := range [][]string{{"fleet", "--hq", "http://" + web, "--hq-token", tokenFile}, {"fleet", "--inventory", pg.URL}} {
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("tillhq %v: %v\n%s", args, err, out)
			}
			table := string(out)
			for _, want := range []string{" r9 2.0.0 stage 1/2 downloading 40% ", " r9 2.0.0 stage 2/2 pending ", "UPDATE",
				"rollout r9  release 2.0.0 (rpi4)  store s042  stage 1 of 2  running"} {
				if !strings.Contains(table, want) {
					t.Errorf("tillhq %v lacks %q:\n%s", args[:2], want, table)
				}
			}
			// STAGE PERCENT TILLS PENDING ACTIVE CONFIRMED FAILED
			if !hasFields(table, "1", "50%", "1", "0", "1", "0", "0") || !hasFields(table, "2", "100%", "1", "1", "0", "0", "0") {
				t.Errorf("tillhq %v: no stage lines:\n%s", args[:2], table)
			}
			for _, l := range strings.Split(table, "\n") {
				if strings.HasPrefix(l, "s043") && !strings.Contains(l, " - ") {
					t.Errorf("s043/t03 is in no rollout: %s", l)
				}
			}
		}
	})

	t.Run("a person sees it in Chromium", func(t *testing.T) {
		if _, err := os.Stat(chromiumPath); err != nil {
			t.Skipf("%s is missing: install Debian's chromium package (scripts/deps.sh) to run the dashboard's browser test", chromiumPath)
		}
		browse := func(path string, creds bool, extra ...string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir=" + t.TempDir(), "--window-size=1280,1400"}, extra...)
			page := "http://" + web + path
			if creds {
				page = "http://" + url.UserPassword(webUser, webPassword).String() + "@" + web + path
			}
			cmd := exec.CommandContext(ctx, chromiumPath, append(args, page)...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("chromium %v: %v\n%s", extra, err, errb.String())
			}
			return out.String()
		}
		if dom := browse("/business", false, "--dump-dom"); strings.Contains(dom, "tillbox business") || strings.Contains(dom, "s042") {
			t.Errorf("without credentials the browser got:\n%s", dom)
		}
		dom := browse("/business", true, "--dump-dom")
		money := func(v int64) string { return `<td class="num">` + hq.FormatMoney(v, "PLN") + `</td>` }
		wants := []string{"<title>tillbox business</title>", "Trading day <b>" + day.Date + "</b> (" + zone.String() + ":",
			`<td>1.4.2</td><td class="num">2</td><td>s042</td>`, `<td>1.5.0</td><td class="num">1</td><td>s043</td>`,
			`<tr><td>s042</td><td class="num">7</td><td class="num">2</td></tr>`,
			"<td>s043</td><td>t03</td><td class=\"num\">1</td>", "conflict"}
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w := want[k]
			s, tl, _ := strings.Cut(k, "/")
			wants = append(wants, fmt.Sprintf(`<tr id="till-%s-%s-PLN"><td>%s</td><td>%s</td><td>PLN</td><td class="num">%d</td><td class="num">%d</td><td class="num">%d</td>%s`,
				s, tl, s, tl, w.Sales+w.Refunds, w.Sales, w.Refunds, money(w.Gross)))
		}
		for _, w := range wants {
			if !strings.Contains(dom, w) {
				t.Errorf("the business view does not show %s", w)
			}
		}
		if t.Failed() {
			t.Logf("DOM:\n%s", dom)
		}
		main := browse("/", true, "--dump-dom")
		for _, w := range []string{`<td class="update">r9 2.0.0 stage 1/2 downloading 40%</td>`, `<td class="update">r9 2.0.0 stage 2/2 pending</td>`,
			`<b>r9</b>: release 2.0.0 (rpi4) to store s042`} {
			if !strings.Contains(main, w) {
				t.Errorf("the dashboard does not show %s:\n%s", w, main)
			}
		}
		for _, p := range []struct{ path, file string }{{"/business", "business.png"}, {"/", "dashboard-rollout.png"}} {
			shot := filepath.Join(t.ArtifactDir(), p.file)
			browse(p.path, true, "--screenshot="+shot)
			if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
				t.Fatalf("screenshot %s: %v", shot, err)
			}
			keepArtifact(t, shot)
			fmt.Printf("screenshot of %s: %s\n", p.path, shot)
			t.Logf("screenshot of %s: %s (kept with go test -artifacts, or in $TILLBOX_ARTIFACTS)", p.path, shot)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// numbersEqual compares two JSON rows of text, a decimal written with more zeros (what
// PostgreSQL's numeric division prints) equal to the same number with fewer.
func numbersEqual(a, b string) bool {
	trim := regexp.MustCompile(`(\.\d*?[1-9])0+"|\.0+"`)
	norm := func(s string) string {
		return trim.ReplaceAllStringFunc(s, func(m string) string {
			m = strings.TrimRight(strings.TrimSuffix(m, `"`), "0")
			return strings.TrimSuffix(m, ".") + `"`
		})
	}
	return norm(a) == norm(b)
}

// tillhq serve refuses a trading zone it cannot load, before it opens anything.
func TestServeRefusesABadTradingZone(t *testing.T) {
	for _, zone := range []string{"Mars/Olympus", "Local", ""} {
		code, _, errs := tillhq("serve", "--insecure", "--store", filepath.Join(t.TempDir(), "hq.db"), "--trading-tz", zone)
		if code != 2 || !strings.Contains(errs, "--trading-tz") || !strings.Contains(errs, "want an IANA time zone") {
			t.Errorf("--trading-tz %q: status %d, stderr %q", zone, code, errs)
		}
	}
}
