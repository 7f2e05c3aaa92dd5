package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/rig"
	"tillbox/uplink/wire"
)

// TestForgedEntryEvictedTillSyncs is the unsigned fleet's stalled till, end to end: a
// forged entry at through+1 is stored and acknowledged, the till refuses that ack and its
// own entries are quarantined on every probe, with an alert on the dashboard at once.
// tillhq quarantine evict and replay (recorded with who did it) store the till's own
// entries: its watermark reaches its last seq and the receipt HQ shows is the till's.
func TestForgedEntryEvictedTillSyncs(t *testing.T) {
	mq := rig.StartMosquitto(t, nil)
	hqs := startServe(t, mq, t.TempDir())
	run, web := hqs.run, hqs.web
	through := func() uint64 {
		var tj tillJSON
		for _, line := range strings.Split(strings.TrimSpace(run("tills", "--json")), "\n") {
			if json.Unmarshal([]byte(line), &tj) == nil && tj.Till == "t01" {
				return tj.Through
			}
		}
		return 0
	}
	l := openLedgerIn(t, "s042", "t01")
	c, stop := runTill(t, l, fastOptions(mq.URL()))
	appendSales(t, l, c, 3)
	waitSynced(t, l, c)
	defer stop()

	// The forgery links to the till's seq 3 and takes its next receipt number.
	last, err := l.Get(3)
	if err != nil {
		t.Fatal(err)
	}
	e := rig.Sale(999)
	e.V, e.Store, e.Till, e.Seq, e.Receipt = journal.FormatVersion, "s042", "t01", 4, journal.ReceiptNumber("S042-T01", 4)
	e.At, e.Prev = last.At, last.Hash
	if e.Hash, err = e.ComputeHash(); err != nil {
		t.Fatal(err)
	}
	forged, _ := json.Marshal(&e)
	cli := dialBroker(t, mq.URL(), "forger")
	if tok := cli.Publish(wire.Topics{}.Tx("s042", "t01"), 1, false, forged); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	cli.Disconnect(100)
	waitFor(t, 30*time.Second, "HQ to store the forgery", func() bool { return through() == 4 })
	// The till takes HQ's ack of seq 4 for one beyond its ledger's end and forgets it, so
	// the entries it writes next go out from seq 4. (Were they written before the ack
	// arrived, the till would take the forgery's ack as its own and never send its seq 4.)
	nextEvent(t, c, wire.EventIntegrityError)

	// The till refuses the ack beyond its ledger's end; its next sales are quarantined, and
	// again on each probe the till sends while HQ's watermark stays at the forgery.
	appendSales(t, l, c, 3)
	waitFor(t, 60*time.Second, "the till's entries to be quarantined again on a probe", func() bool {
		q := run("quarantine", "list", "s042/t01")
		return strings.Contains(q, "seq 4: conflict") && strings.Count(q, "seq 5: broken chain") >= 2
	})
	waitFor(t, 10*time.Second, "the dashboard to raise the conflict", func() bool {
		var m struct {
			Tills []struct {
				Till      string
				Attention []string
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
	if got := through(); got != 4 {
		t.Fatalf("watermark %d before the eviction", got)
	}
	if out := run("receipt", "S042-T01-000004"); !strings.Contains(out, `"kind":"sale"`) || !strings.Contains(out, e.Hash) {
		t.Fatalf("before the eviction receipt 4 is not the forgery:\n%s", out)
	}

	out := run("quarantine", "evict", "s042/t01", "4", "--by", "alice")
	if !strings.Contains(out, "evict s042/t01: seq 4 on evicted: 1 entries quarantined, watermark 3") {
		t.Fatalf("evict:\n%s", out)
	}
	// An unsigned ack carries no hash: the till may have taken HQ's ack of the forged seq 4
	// as its own once it wrote seq 4, and then sends only what follows. Its seq 4 is in the
	// quarantine: replaying the till's quarantine stores it.
	out = run("quarantine", "replay", "s042/t01", "--by", "alice")
	if !strings.Contains(out, "replay s042/t01: quarantined") || !strings.Contains(out, "seq 4 stored") {
		t.Fatalf("replay:\n%s", out)
	}
	waitSynced(t, l, c) // the till's watermark reaches its last seq
	if got := through(); got != 6 {
		t.Fatalf("HQ's watermark %d, want 6", got)
	}
	own, err := l.Get(4)
	if err != nil {
		t.Fatal(err)
	}
	if out := run("receipt", "S042-T01-000004"); !strings.Contains(out, own.Hash) || strings.Contains(out, e.Hash) {
		t.Fatalf("receipt 4 after the eviction:\n%s", out)
	}
	if out := run("check"); !strings.Contains(out, "s042/t01: 6 entries, chain verified through 6") {
		t.Fatalf("check:\n%s", out)
	}
	if out := run("events", "--kind", "quarantine-replay"); !strings.Contains(out, "by alice: quarantined") {
		t.Fatalf("events:\n%s", out)
	}
	if out := run("events", "--kind", "quarantine-evict"); !strings.Contains(out, "by alice: seq 4 on evicted") {
		t.Fatalf("events:\n%s", out)
	}
	if out := run("quarantine", "list", "s042/t01"); !strings.Contains(out, "operator s042/t01 seq 4: evicted by the operator") {
		t.Fatalf("the forgery is not in the quarantine:\n%s", out)
	}
}
