package vmtest

import (
	"context"
	"fmt"
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
func (r *box) ready(from int, started time.Time, what string) int {
	r.t.Helper()
	_, n := r.readyLine(from, started, what)
	return n
}

// readyOn is ready, and checks that the box runs slot at version.
func (r *box) readyOn(from int, started time.Time, what, slot, version string) int {
	r.t.Helper()
	line, n := r.readyLine(from, started, what)
	if want := fmt.Sprintf("READY slot=%s version=%s ", slot, version); !strings.Contains(line, want) {
		r.t.Fatalf("%s: the box came up as %q, want slot %s at %s", what, line, slot, version)
	}
	return n
}

func (r *box) readyLine(from int, started time.Time, what string) (string, int) {
	r.t.Helper()
	line, n := r.con.waitText(from, readyLimit, "tillbox-init: READY")
	total := time.Since(started)
	if fw, ld, k, in, ok := r.con.phases(r.booted, n, started); ok {
		r.t.Logf("%s: boot-to-ready %.2fs from qemu start: firmware and GRUB %.2fs, loading kernel and initrd %.2fs, kernel %.2fs, init to ready %.2fs (%s)",
			what, total.Seconds(), fw.Seconds(), ld.Seconds(), k.Seconds(), in.Seconds(), strings.TrimPrefix(line, "tillbox-init: "))
	} else {
		r.t.Logf("%s: boot-to-ready %.2fs from qemu start (%s)", what, total.Seconds(), strings.TrimPrefix(line, "tillbox-init: "))
	}
	return line, n
}

// signOn signs Anna on (F1, 1, Enter, PIN 1234, Enter) and waits for the journal's entry.
func (r *box) signOn(from int) int {
	r.t.Helper()
	r.keys(append(append([]string{"f1", "1", "ret"}, digits("1234")...), "ret")...)
	_, n := r.con.waitEvent(from, 30*time.Second, "commit", func(e event) bool { return e.s("kind") == "sign-on" })
	return n
}

// sell sells one loaf for cash and returns its receipt number once it is committed.
func (r *box) sell(from int) (string, int) {
	r.t.Helper()
	r.scanCode(loaf)
	_, n := r.con.waitEvent(from, 30*time.Second, "customer", nil)
	r.keys(append(append([]string{"kp_add"}, digits("2000")...), "f5")...)
	ev, n := r.con.waitEvent(n, 30*time.Second, "commit", func(e event) bool { return e.s("kind") == "sale" })
	return ev.s("receipt"), n
}

// atHQ waits until HQ stored every receipt, and checks each is stored exactly once.
func (r *box) atHQ(receipts []string, limit time.Duration) {
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

// hqHas waits until HQ stored an entry whose payload contains text (an update report).
func (r *box) hqHas(text string, limit time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		found := false
		r.store.Entries(context.Background(), till, 0, func(rec hq.Record) error {
			found = found || strings.Contains(string(rec.Raw), text)
			return nil
		})
		if found {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no entry with %q at HQ after %s\n%s", text, limit, r.con.tail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestVM(t *testing.T) {
	mode := os.Getenv("TILLBOX_VMTEST")
	if mode == "" {
		t.Skip("set TILLBOX_VMTEST=short or full (make vmtest)")
	}
	r := newBox(t)
	t0 := time.Now()
	v1 := r.rootfs("1.0.0", initPkg, tillPkg)
	v2 := r.rootfs("1.1.0", initPkg, tillPkg)
	t.Logf("image and bundles built in %s", time.Since(t0).Round(time.Millisecond))
	var (
		receipts []string
		started  time.Time
		n        int
		rc       string
	)
	// Each scenario runs on the box the one before left; a failed one stops the rest.
	// The box reports to the scenario's t while it runs (its cleanups end with it, and the
	// next scenario boots the box again).
	step := func(name string, f func(t *testing.T)) bool {
		return t.Run(name, func(st *testing.T) {
			// The console is made at the first boot, with the t of that step.
			parent := r.t
			r.t = st
			if r.con != nil {
				r.con.t = st
			}
			defer func() { r.t = parent }()
			f(st)
		})
	}

	// 1. First boot: sign on, sell a scanned loaf, the fake printer decodes the receipt,
	// HQ stores the sale.
	// Network and time: a lease from qemu's DHCP server, the clock from the host's NTP
	// server (the site's network.json names it).
	if !step("first boot", func(t *testing.T) {
		started = r.boot("")
		_, n = r.con.waitText(0, 60*time.Second, "network eth0: link up, dhcp 10.0.2.15/24 gateway 10.0.2.2 dns 10.0.2.3")
		n = r.ready(0, started, "first boot 1.0.0")
		ntpLine, _ := r.con.waitText(0, 60*time.Second, fmt.Sprintf("time: ntp 10.0.2.2:%d", r.ntp.Port()))
		if r.ntp.Count() == 0 {
			t.Fatalf("the box reported %q, and the NTP server answered nothing", ntpLine)
		}
		t.Logf("network from DHCP; %s", strings.TrimPrefix(ntpLine, "tillbox-init: "))
		n = r.signOn(n)
		rc, n = r.sell(n)
		receipts = append(receipts, rc)
		_, n = r.con.waitEvent(n, 30*time.Second, "printed", func(e event) bool { return e.s("receipt") == rc })
		if !strings.Contains(r.printer.Text(), rc) {
			t.Fatalf("receipt %s not on the fake printer's roll:\n%s", rc, r.printer.Text())
		}
		r.printer.SetDrawer(false)
		r.atHQ(receipts, 60*time.Second)
		t.Logf("sale %s printed (%d lines decoded) and stored at HQ", rc, strings.Count(r.printer.Text(), "\n"))
	}) {
		return
	}

	// 2. An update on the stick: installed into slot B, tried, confirmed.
	if !step("update confirmed", func(t *testing.T) {
		r.kill()
		started = r.boot(r.stick(v2, "1.1.0", false))
		n = r.con.mark()
		_, n = r.con.waitText(n, 90*time.Second, "written to slot B")
		r.waitOff(60 * time.Second)
		started = r.boot("")
		_, n = r.con.waitText(n, 60*time.Second, "tillbox: booting slot B (try 1)")
		// The till is ready before the try's health check confirms it (Alive later).
		n = r.ready(n, started, "update 1.1.0 tried")
		_, n = r.con.waitText(n, 150*time.Second, "slot B confirmed: version 1.1.0")
		r.atHQ(receipts, 60*time.Second)
		// The running till journals the confirmation at once (the init signals it), so HQ
		// learns of it without waiting for another boot.
		r.hqHas("update 1.1.0 confirmed", 60*time.Second)
	}) {
		return
	}
	if mode == "short" {
		return
	}
	// Steps may be left out with -run (TestVM/first_boot|update_confirmed|power_cut...):
	// the power cuts during updates start from slot B at 1.1.0, as every step leaves it.
	cur := running{"B", "1.1.0"}

	// 3. A bad update (its tillbox fails at once): tried in slot A, fails the health check,
	// rolled back; slot B runs on with the ledger intact.
	if !step("bad update rolled back", func(t *testing.T) {
		bad := r.rootfs("1.2.0", initPkg, "./image/vmtest/internal/bad")
		r.kill()
		r.boot(r.stick(bad, "1.2.0", false))
		_, n = r.con.waitText(n, 90*time.Second, "written to slot A")
		r.waitOff(60 * time.Second)
		r.boot("")
		_, n = r.con.waitText(n, 60*time.Second, "tillbox: booting slot A (try 1)")
		_, n = r.con.waitText(n, 150*time.Second, "slot A failed its health check")
		r.waitOff(60 * time.Second)
		started = r.boot("")
		_, n = r.con.waitText(n, 60*time.Second, "tillbox: booting slot B (try 0)")
		n = r.ready(n, started, "after the bad update, back on 1.1.0")
	}) {
		return
	}

	// 4. A hung update (its init arms the watchdog and hangs): the watchdog resets the box
	// and the boot after it is slot B again, which reports the failed version.
	if !step("hung update reset by the watchdog", func(t *testing.T) {
		hang := r.rootfs("1.3.0", "./image/vmtest/internal/hang", tillPkg)
		r.kill()
		r.boot(r.stick(hang, "1.3.0", false))
		_, n = r.con.waitText(n, 90*time.Second, "written to slot A")
		r.waitOff(60 * time.Second)
		r.boot("")
		_, n = r.con.waitText(n, 60*time.Second, "tillbox: booting slot A (try 1)")
		_, n = r.con.waitText(n, 60*time.Second, "hang: watchdog armed, hanging")
		hung := time.Now()
		r.waitOff(120 * time.Second)
		t.Logf("hung update: the watchdog reset the box %.1fs after the hang", time.Since(hung).Seconds())
		started = r.boot("")
		_, n = r.con.waitText(n, 60*time.Second, "tillbox: booting slot B (try 0)")
		_, n = r.con.waitText(n, 60*time.Second, "update 1.3.0 failed its try; back on slot B")
		n = r.ready(n, started, "after the hung update, back on 1.1.0")
		r.atHQ(receipts, 60*time.Second)
		r.hqHas("update failed: 1.2.0 rolled back, running 1.1.0", 60*time.Second)
		r.hqHas("update failed: 1.3.0 rolled back, running 1.1.0", 60*time.Second)
		t.Log("both failed updates reported to HQ from slot B's ledger")
	}) {
		return
	}

	// 5. A tampered bundle and a downgrade are refused; the inactive slot is not touched.
	if !step("tampered and downgrade refused", func(t *testing.T) {
		r.kill()
		sumA := r.slotSum("A")
		for _, s := range []struct{ stick, want string }{
			{r.stick(v2, "1.4.0", true), "payload does not match the signed manifest"},
			{r.stick(v1, "1.0.0", false), "not newer than the running firmware"},
		} {
			started = r.boot(s.stick)
			_, n = r.con.waitText(n, 90*time.Second, s.want)
			n = r.ready(n, started, "refused bundle")
			r.kill()
			if r.slotSum("A") != sumA {
				t.Fatalf("a refused bundle (%s) changed the inactive slot", s.want)
			}
		}
		t.Log("tampered bundle and downgrade refused; inactive slot unchanged")
	}) {
		return
	}

	// 6. Power cuts in the middle of sales: every sale the till reported committed is
	// still there after the reboot and reaches HQ once; the open sale comes back.
	if !step("power cuts mid-sale", func(t *testing.T) {
		started = r.boot("")
		n = r.ready(n, started, "before the power cuts")
		n = r.signOn(n)
		for i := 0; i < 2; i++ {
			rc, n = r.sell(n)
			receipts = append(receipts, rc)
			r.printer.SetDrawer(false)
		}
		rc, n = r.sell(n)
		r.kill() // right after the commit: not printed, not at HQ yet
		receipts = append(receipts, rc)
		started = r.boot("")
		n = r.ready(n, started, "after a power cut right after a commit")
		r.atHQ(receipts, 60*time.Second)
		n = r.signOn(n)
		r.scanCode(loaf)
		_, n = r.con.waitEvent(n, 30*time.Second, "customer", nil)
		r.kill() // a sale open on the screen
		started = r.boot("")
		_, n = r.con.waitEvent(n, 120*time.Second, "restored", nil)
		n = r.ready(n, started, "after a power cut during a sale")
		r.keys(append(append([]string{"kp_add"}, digits("2000")...), "f5")...)
		var ev event
		ev, n = r.con.waitEvent(n, 30*time.Second, "commit", func(e event) bool { return e.s("kind") == "sale" })
		receipts = append(receipts, ev.s("receipt"))
		r.atHQ(receipts, 60*time.Second)
		t.Logf("%d sales, each at HQ exactly once, across %d power cuts", len(receipts), 2)
	}) {
		return
	}

	// 7. Power cuts during updates: while the slot is written, while the boot state is
	// switched (a torn spare, a torn block), during the try boot and during the
	// confirmation (a torn spare, a torn block).
	if !updateCuts(r, step, &cur, &receipts, &n) {
		return
	}
	t.Logf("%d sales, each at HQ exactly once, after the power cuts during updates", len(receipts))
}
