package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"tillbox/ledger/journal"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// quarantineOf reads tillhq quarantine list --json of one till: the messages held by kind,
// and the bound's lines (those with Dropped) by kind.
func quarantineOf(t *testing.T, out string) (held map[string]int, dropped map[string]uint64) {
	t.Helper()
	held, dropped = map[string]int{}, map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var v struct {
			hq.Quarantine
			Kind    string
			Dropped uint64
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("quarantine list --json: %q: %v", line, err)
		}
		if v.Kind != "" {
			dropped[v.Kind] = v.Dropped
			continue
		}
		held[hq.QuarantineKind(v.Quarantine)]++
	}
	return held, dropped
}

// serveRig is a tillhq serve on the rig's Mosquitto and a PostgreSQL of its own, its
// dashboard on a loopback port behind webAuthFile's credentials.
type serveRig struct {
	t   *testing.T
	bin string
	pg  *rig.Postgres
	web string // the dashboard's host:port
}

// startServe builds tillhq, migrates a new PostgreSQL, starts tillhq serve with its log
// in dir on broker mq with the extra flags, and waits until its dashboard listens.
func startServe(t *testing.T, mq *rig.Mosquitto, dir string, extra ...string) *serveRig {
	t.Helper()
	s := &serveRig{t: t, bin: buildTillhq(t), pg: rig.StartPostgres(t), web: fmt.Sprintf("127.0.0.1:%d", rig.FreePort(t))}
	s.run("migrate")
	rig.StartProc(t, "tillhq", dir, exec.Command(s.bin, append([]string{"serve", "--insecure", "--broker", mq.URL(), "--store", s.pg.URL,
		"--http", s.web, "--dashboard-auth", webAuthFile(t, s.bin)}, extra...)...))
	if err := rig.WaitListening(s.web, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs a tillhq command on the server's store (--store after the command, and after
// the subcommand of release and rollout) and returns its output; an error fails the test.
func (s *serveRig) run(args ...string) string {
	s.t.Helper()
	n := 1
	if args[0] == "release" || args[0] == "rollout" {
		n = 2
	}
	out, err := exec.Command(s.bin, append(append(args[:n:n], "--store", s.pg.URL), args[n:]...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tillhq %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// dialBroker connects a plain MQTT client with id to broker (a forger, a flood).
func dialBroker(t *testing.T, broker, id string) mqtt.Client {
	t.Helper()
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetAutoReconnect(false))
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { cli.Disconnect(100) })
	return cli
}

// TestQuarantineFloodStaysBounded: a second box answering to s042/t01 floods HQ with
// forged entries that conflict with what HQ holds, and with messages that do not decode.
// HQ keeps exactly its bound of each kind, counts every other one as dropped (in tillhq
// quarantine and in /metrics), raises a quarantine-full event and alert at once, and
// goes on storing the real tills' entries, t01's own included: they conflict with
// nothing, and its chain verifies to its last seq. TILLBOX_SOAK=1 floods 20,000 entries
// and 10,000 malformed messages against the default bound.
func TestQuarantineFloodStaysBounded(t *testing.T) {
	forgeries, bound := 200, 40
	if os.Getenv("TILLBOX_SOAK") != "" {
		forgeries, bound = 20_000, hq.DefaultQuarantineRecords
	}
	junk := forgeries / 2
	dir := t.TempDir()
	// The broker queues all of the flood for HQ (its default would drop beyond 1,000).
	mq := rig.StartMosquitto(t, &rig.MosquittoOptions{Extra: []string{"max_queued_messages 0"}})
	hqs := startServe(t, mq, dir, "--quarantine-records", fmt.Sprint(bound), "--quarantine-bytes", "0")
	run, web := hqs.run, hqs.web
	l1, l2 := openLedgerIn(t, "s042", "t01"), openLedgerIn(t, "s042", "t02")
	c1, stop1 := runTill(t, l1, fastOptions(mq.URL()))
	defer stop1()
	c2, stop2 := runTill(t, l2, fastOptions(mq.URL()))
	defer stop2()
	appendSales(t, l1, c1, 3)
	appendSales(t, l2, c2, 3)
	waitSynced(t, l1, c1)
	waitSynced(t, l2, c2)

	// The flood, all QoS 1 from one client: entries of t01 at seqs 1-3, each with its own
	// content, and payloads that are not JSON.
	cli := dialBroker(t, mq.URL(), "s042-t01-clone")
	topic := wire.Topics{}.Tx("s042", "t01")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var toks []mqtt.Token
	for i := range forgeries + junk {
		p := forgedAt(t, uint64(i%3+1), at.Add(time.Duration(i)*time.Second))
		if i%3 == 2 { // a third of the flood: junk = forgeries/2
			p = []byte(fmt.Sprintf("{not json %d", i))
		}
		toks = append(toks, cli.Publish(topic, 1, false, p))
		// Meanwhile the real tills go on selling.
		if i == (forgeries+junk)/2 {
			appendSales(t, l1, c1, 3)
			appendSales(t, l2, c2, 3)
		}
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	var held map[string]int
	var dropped map[string]uint64
	waitFor(t, 120*time.Second, "HQ to take in the whole flood", func() bool {
		held, dropped = quarantineOf(t, run("quarantine", "list", "s042/t01", "--json"))
		return held[hq.QuarantineConflict]+int(dropped[hq.QuarantineConflict]) == forgeries &&
			held[hq.QuarantineMalformed]+int(dropped[hq.QuarantineMalformed]) == junk
	})
	if held[hq.QuarantineConflict] != bound || held[hq.QuarantineMalformed] != bound || len(held) != 2 {
		t.Fatalf("HQ holds of t01 %v, want %d of each kind", held, bound)
	}
	if out := run("quarantine", "list", "s042/t01"); !strings.Contains(out, fmt.Sprintf("dropped s042/t01 conflict: %d over the bound", forgeries-bound)) ||
		!strings.Contains(out, fmt.Sprintf("dropped s042/t01 malformed: %d over the bound", junk-bound)) {
		t.Fatalf("tillhq quarantine list does not show the drops:\n%s", lastLines(out, 5))
	}
	if out := run("quarantine", "list", "s042/t02"); strings.TrimSpace(out) != "" {
		t.Fatalf("t02 has a quarantine:\n%s", out)
	}
	// HQ alerted at once: one event per kind, the till's alert, the metric.
	// (serve records them right after the commit the quarantine list already reads.)
	var ev string
	waitFor(t, 10*time.Second, "a quarantine-full event of each kind", func() bool {
		ev = run("events", "--kind", "quarantine-full")
		return strings.Count(ev, "s042/t01") >= 2
	})
	if strings.Count(ev, "s042/t01") != 2 || !strings.Contains(ev, "conflict: over the quarantine's bound") || !strings.Contains(ev, "malformed: over the quarantine's bound") {
		t.Fatalf("tillhq events --kind quarantine-full:\n%s", ev)
	}
	waitFor(t, 10*time.Second, "the dashboard to say the quarantine is full", func() bool {
		var m struct {
			Tills []struct {
				Till      string
				Attention []string
			}
		}
		if getJSON("http://"+web+"/api/fleet", &m) != nil {
			return false
		}
		why := map[string]string{}
		for _, r := range m.Tills {
			why[r.Till] = strings.Join(r.Attention, ";")
		}
		return strings.Contains(why["t01"], "quarantine full") && !strings.Contains(why["t02"], "quarantine")
	})
	m := authGet(t, "http://"+web+"/metrics")
	for _, want := range []string{
		fmt.Sprintf(`tillhq_quarantine_dropped_total{store="s042",till="t01",reason="conflict"} %d`, forgeries-bound),
		fmt.Sprintf(`tillhq_quarantine_dropped_total{store="s042",till="t01",reason="malformed"} %d`, junk-bound),
		`tillbox_till_alert{store="s042",till="t01",alert="quarantine-full"} 1`,
		`tillbox_till_alert{store="s042",till="t02",alert="quarantine-full"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The real tills' entries, sold before, during and after the flood, are all stored,
	// and what HQ shows of t01 is its own.
	appendSales(t, l1, c1, 2)
	waitSynced(t, l1, c1)
	waitSynced(t, l2, c2)
	if out := run("check"); !strings.Contains(out, "s042/t01: 8 entries, chain verified through 8") ||
		!strings.Contains(out, "s042/t02: 6 entries, chain verified through 6") {
		t.Fatalf("check:\n%s", out)
	}
	own, err := l1.Get(2)
	if err != nil {
		t.Fatal(err)
	}
	if out := run("receipt", "S042-T01-000002"); !strings.Contains(out, own.Hash) {
		t.Fatalf("receipt 2 is not the till's own:\n%s", out)
	}
}

// forgedAt is an entry of s042/t01 at seq that HQ holds another of.
func forgedAt(t *testing.T, seq uint64, at time.Time) []byte {
	t.Helper()
	e := rig.Sale(int(seq))
	e.V, e.Store, e.Till, e.Seq, e.Receipt, e.At = journal.FormatVersion, "s042", "t01", seq, journal.ReceiptNumber("S042-T01", seq), at
	e.Prev = journal.GenesisPrev
	if seq > 1 {
		e.Prev = strings.Repeat("ab", 32)
	}
	var err error
	if e.Hash, err = e.ComputeHash(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
