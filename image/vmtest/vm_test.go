package vmtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"tillbox/uplink/hq"
)

const (
	loaf    = "5901234123457" // the demo catalog's bread
	initPkg = "./image/init"
	tillPkg = "./firmware"
)

var till = hq.TillKey{Store: "s001", Till: "t01"}

// ready waits for the init's sentinel and prints boot-to-ready.
func (r *rig) ready(from int, started time.Time, what string) int {
	r.t.Helper()
	line, n := r.con.waitText(from, 120*time.Second, "tillbox-init: READY")
	r.t.Logf("%s: boot-to-ready %.1fs from qemu start (%s)", what, time.Since(started).Seconds(), strings.TrimPrefix(line, "tillbox-init: "))
	return n
}

// signOn signs Anna on (F1, 1, Enter, PIN 1234, Enter) and waits for the journal's entry.
func (r *rig) signOn(from int) int {
	r.t.Helper()
	r.keys(append(append([]string{"f1", "1", "ret"}, digits("1234")...), "ret")...)
	_, n := r.con.waitEvent(from, 30*time.Second, "commit", func(e event) bool { return e.s("kind") == "sign-on" })
	return n
}

// sell sells one loaf for cash and returns its receipt number once it is committed.
func (r *rig) sell(from int) (string, int) {
	r.t.Helper()
	r.scanCode(loaf)
	_, n := r.con.waitEvent(from, 30*time.Second, "customer", nil)
	r.keys(append(append([]string{"kp_add"}, digits("2000")...), "f5")...)
	ev, n := r.con.waitEvent(n, 30*time.Second, "commit", func(e event) bool { return e.s("kind") == "sale" })
	return ev.s("receipt"), n
}

// atHQ waits until HQ stored every receipt, and checks each is stored exactly once.
func (r *rig) atHQ(receipts []string, limit time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		count := map[string]int{}
		r.store.Entries(context.Background(), till, 0, func(rec hq.Record) error {
			count[rec.Receipt]++
			return nil
		})
		missing := 0
		for _, rc := range receipts {
			if count[rc] == 0 {
				missing++
			}
			if count[rc] > 1 {
				r.t.Fatalf("receipt %s stored %d times at HQ", rc, count[rc])
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d of %d receipts not at HQ after %s\n%s", missing, len(receipts), limit, r.con.tail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestVM(t *testing.T) {
	mode := os.Getenv("TILLBOX_VMTEST")
	if mode == "" {
		t.Skip("set TILLBOX_VMTEST=short or full (make vmtest)")
	}
	r := newRig(t)
	t0 := time.Now()
	v1 := r.rootfs("1.0.0", initPkg, tillPkg)
	v2 := r.rootfs("1.1.0", initPkg, tillPkg)
	t.Logf("image and bundles built in %s", time.Since(t0).Round(time.Millisecond))
	var receipts []string

	// 1. First boot: sign on, sell a scanned loaf, the fake printer decodes the receipt,
	// HQ stores the sale.
	started := r.boot("")
	n := r.ready(0, started, "first boot 1.0.0")
	n = r.signOn(n)
	rc, n := r.sell(n)
	receipts = append(receipts, rc)
	_, n = r.con.waitEvent(n, 30*time.Second, "printed", func(e event) bool { return e.s("receipt") == rc })
	if !strings.Contains(r.printer.Text(), rc) {
		t.Fatalf("receipt %s not on the fake printer's roll:\n%s", rc, r.printer.Text())
	}
	r.printer.SetDrawer(false)
	r.atHQ(receipts, 60*time.Second)
	t.Logf("sale %s printed (%d lines decoded) and stored at HQ", rc, strings.Count(r.printer.Text(), "\n"))

	// 2. An update on the stick: installed into slot B, tried, confirmed.
	r.kill()
	started = r.boot(r.stick(v2, "1.1.0", false))
	n = r.con.mark()
	_, n = r.con.waitText(n, 90*time.Second, "written to slot B")
	r.waitOff(60 * time.Second)
	started = r.boot("")
	_, n = r.con.waitText(n, 60*time.Second, "tillbox: booting slot B (try 1)")
	_, n = r.con.waitText(n, 150*time.Second, "slot B confirmed: version 1.1.0")
	n = r.ready(n, started, "update 1.1.0 tried")
	r.atHQ(receipts, 60*time.Second)
	if mode == "short" {
		return
	}

	t.Fatalf("full mode: not yet at %d", n)
	_ = v1
}
