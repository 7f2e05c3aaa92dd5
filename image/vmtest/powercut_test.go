package vmtest

import (
	"fmt"
	"testing"
	"time"

	"tillbox/image/update"
)

// running is the slot and version the box runs when it is not on a try.
type running struct{ slot, version string }

// fault arms a fault hook for the next boot (qemu stopped): the init takes it from the data
// partition's fault.env and removes it.
func (r *box) fault(point string) {
	r.t.Helper()
	r.dataFile("tillbox/fault.env", update.FaultEnv+"="+point+"\n")
}

// held waits until the box stopped at the fault point, then cuts the power.
func (r *box) held(from int, limit time.Duration, point string) int {
	r.t.Helper()
	_, n := r.con.waitText(from, limit, update.FaultMark+point+": holding")
	r.kill()
	return n
}

// saleAfterBoot signs on and sells a loaf on a box that has just come up.
func (r *box) saleAfterBoot(from int, receipts *[]string) int {
	r.t.Helper()
	n := r.signOn(from)
	rc, n := r.sell(n)
	*receipts = append(*receipts, rc)
	r.printer.SetDrawer(false)
	return n
}

// updateCuts are the power cuts during an update (make vmtest): while the inactive slot is
// written, while the boot state is switched (its spare torn, then the block itself), during
// the try boot and during the confirmation (spare torn, then the block). Each starts from
// the box as the one before left it (on cur) and ends with the box up on a good slot, a
// sale made there, every sale at head office exactly once, and the update either confirmed
// or reported as failed to head office.
func updateCuts(r *box, step func(string, func(*testing.T)) bool, cur *running, receipts *[]string, n *int) bool {
	next := func(v string) string { return r.rootfs(v, initPkg, tillPkg) }
	// After a cut that left the update unapplied: the box is up on cur again.
	backOn := func(t *testing.T, what string) {
		started := r.boot("")
		_, *n = r.con.waitText(*n, 60*time.Second, fmt.Sprintf("tillbox: booting slot %s (try 0)", cur.slot))
		*n = r.readyOn(*n, started, what, cur.slot, cur.version)
		*n = r.saleAfterBoot(*n, receipts)
		r.atHQ(*receipts, 60*time.Second)
	}
	var v15 string
	if !step("power cut while the slot is written", func(t *testing.T) {
		v15 = next("1.5.0")
		r.kill()
		r.fault(update.FaultWrite)
		r.boot(r.stick(v15, "1.5.0", false))
		*n = r.held(*n, 90*time.Second, update.FaultWrite)
		backOn(t, "after a cut mid-write")
		t.Logf("cut with half of slot %s written: back on %s %s, no try pending", update.Other(cur.slot), cur.slot, cur.version)
	}) {
		return false
	}
	if !step("power cut during the switch, its spare torn", func(t *testing.T) {
		r.kill()
		r.fault(update.FaultSwitchSpare)
		r.boot(r.stick(v15, "1.5.0", false))
		*n = r.held(*n, 90*time.Second, update.FaultSwitchSpare)
		backOn(t, "after a cut tearing the spare block")
	}) {
		return false
	}
	if !step("power cut during the switch, the boot block torn", func(t *testing.T) {
		r.kill()
		r.fault(update.FaultSwitchBlock)
		r.boot(r.stick(v15, "1.5.0", false))
		*n = r.held(*n, 150*time.Second, update.FaultSwitchBlock)
		try := update.Other(cur.slot)
		r.boot("")
		// GRUB reads the torn block as it is (its try or not, as far as the tear went);
		// the init repairs it from the spare, which holds the try, and takes it.
		from := *n
		_, *n = r.con.waitText(*n, 60*time.Second, "boot state: /boot/grubenv was torn; rewritten from its spare")
		tookTry := fmt.Sprintf("tillbox: booting slot %s (try 1)", try)
		if took, m := r.con.waitAny(from, 60*time.Second, tookTry, "waits for its try; rebooting into it"); took == tookTry {
			t.Log("GRUB took the try from the torn block")
		} else {
			t.Log("GRUB booted the active slot from the torn block; the init took the try")
			*n = max(*n, m)
			r.waitOff(60 * time.Second)
			r.boot("")
			_, *n = r.con.waitText(*n, 60*time.Second, tookTry)
		}
		_, *n = r.con.waitText(*n, 150*time.Second, fmt.Sprintf("slot %s confirmed: version 1.5.0", try))
		*cur = running{try, "1.5.0"}
		*n = r.saleAfterBoot(*n, receipts)
		r.atHQ(*receipts, 60*time.Second)
		r.hqHas("update 1.5.0 confirmed", 60*time.Second)
	}) {
		return false
	}
	// A try that is cut, or whose confirmation is cut, is written and rebooted into first.
	intoTry := func(t *testing.T, version, point string) (string, time.Time) {
		rootfs := next(version)
		r.kill()
		r.boot(r.stick(rootfs, version, false))
		try := update.Other(cur.slot)
		_, *n = r.con.waitText(*n, 90*time.Second, "written to slot "+try)
		r.waitOff(60 * time.Second)
		if point != "" {
			r.fault(point)
		}
		started := r.boot("")
		_, *n = r.con.waitText(*n, 60*time.Second, fmt.Sprintf("tillbox: booting slot %s (try 1)", try))
		return try, started
	}
	rolledBack := func(t *testing.T, version string) {
		started := r.boot("")
		_, *n = r.con.waitText(*n, 60*time.Second, fmt.Sprintf("tillbox: booting slot %s (try 0)", cur.slot))
		_, *n = r.con.waitText(*n, 60*time.Second, fmt.Sprintf("update %s failed its try; back on slot %s", version, cur.slot))
		*n = r.readyOn(*n, started, "after the cut try of "+version, cur.slot, cur.version)
		*n = r.saleAfterBoot(*n, receipts)
		r.atHQ(*receipts, 60*time.Second)
		r.hqHas(fmt.Sprintf("update failed: %s rolled back, running %s", version, cur.version), 60*time.Second)
	}
	if !step("power cut during the try boot", func(t *testing.T) {
		intoTry(t, "1.6.0", "")
		_, *n = r.con.waitText(*n, 60*time.Second, "tillbox-init: tillbox 1.6.0 on qemu-virt")
		r.kill()
		rolledBack(t, "1.6.0")
	}) {
		return false
	}
	if !step("power cut during the confirmation, its spare torn", func(t *testing.T) {
		intoTry(t, "1.7.0", update.FaultConfirmSpare)
		*n = r.held(*n, 150*time.Second, update.FaultConfirmSpare)
		rolledBack(t, "1.7.0")
	}) {
		return false
	}
	if !step("power cut during the confirmation, the boot block torn", func(t *testing.T) {
		try, _ := intoTry(t, "1.8.0", update.FaultConfirmBlock)
		*n = r.held(*n, 150*time.Second, update.FaultConfirmBlock)
		started := r.boot("")
		_, *n = r.con.waitText(*n, 60*time.Second, fmt.Sprintf("tillbox: booting slot %s (try 0)", try))
		_, *n = r.con.waitText(*n, 60*time.Second, "boot state: /boot/grubenv was torn; rewritten from its spare")
		*n = r.readyOn(*n, started, "after a cut tearing the confirmation", try, "1.8.0")
		*cur = running{try, "1.8.0"}
		*n = r.saleAfterBoot(*n, receipts)
		r.atHQ(*receipts, 60*time.Second)
		r.hqHas("update 1.8.0 confirmed", 60*time.Second)
	}) {
		return false
	}
	return true
}
