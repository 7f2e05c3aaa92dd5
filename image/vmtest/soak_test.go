package vmtest

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"tillbox/image/update"
	"tillbox/uplink/hq"
)

// TestVMSoak (make soak; TILLBOX_VMTEST=soak) cuts the power of the box under qemu at
// random moments, TILLBOX_VMSOAK_CYCLES times (100 by default), sales and updates mixed.
// A cycle is either sales with the power cut at a random key, scan or wait of them, or an
// update from the stick with the power cut at a random time from the boot on (the install,
// the switch, the reboot, the try, the confirmation), some with a torn write of the boot
// state armed (the fault hooks of image/update). After each cut the box boots, must come
// up on the slot it ran or on the update's (never another version), with the update
// confirmed, reported as failed or not applied yet (then it is installed again), and
// sells; every sale the till reported committed is at head office exactly once, and no
// receipt is stored twice. TILLBOX_VMSOAK_SEED repeats a run.
func TestVMSoak(t *testing.T) {
	if os.Getenv("TILLBOX_VMTEST") != "soak" {
		t.Skip("set TILLBOX_VMTEST=soak (make soak)")
	}
	cycles := 100
	if s := os.Getenv("TILLBOX_VMSOAK_CYCLES"); s != "" {
		var err error
		if cycles, err = strconv.Atoi(s); err != nil || cycles < 1 {
			t.Fatalf("TILLBOX_VMSOAK_CYCLES=%q: want a positive number", s)
		}
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("TILLBOX_VMSOAK_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("TILLBOX_VMSOAK_SEED=%q: %v", s, err)
		}
	}
	t.Logf("%d cycles, seed %d (TILLBOX_VMSOAK_SEED)", cycles, seed)
	rng := rand.New(rand.NewSource(seed))
	r := newBox(t)
	r.rootfs("1.0.0", initPkg, tillPkg)
	s := &soak{box: r, rng: rng, cur: running{"A", "1.0.0"}}
	started := r.boot("")
	s.n = r.readyOn(0, started, "first boot", "A", "1.0.0")
	s.sellClean()
	kinds := map[string]int{}
	t0 := time.Now()
	for i := 1; i <= cycles; i++ {
		from := r.con.mark()
		var what string
		if s.pending != "" || rng.Float64() < 0.35 {
			what = s.updateCut()
		} else {
			what = s.salesCut()
		}
		kinds[strings.SplitN(what, ":", 2)[0]]++
		outcome := s.recoverBox(from)
		s.sellClean()
		r.atHQ(s.receipts, 90*time.Second)
		s.noDuplicates()
		t.Logf("cycle %d/%d (%s): %s; %s; on %s %s; %d sales at HQ exactly once", i, cycles, time.Since(t0).Round(time.Second), what, outcome, s.cur.slot, s.cur.version, len(s.receipts))
	}
	t.Logf("%d power cuts (%v), %d sales each at HQ exactly once, %d updates confirmed, %d reported as failed, in %s",
		cycles, kinds, len(s.receipts), s.confirmed, s.failed, time.Since(t0).Round(time.Second))
}

type soak struct {
	*box
	rng      *rand.Rand
	cur      running
	n        int
	receipts []string
	// pending is the version being installed, from stick; minor numbers the versions.
	pending, stick    string
	minor             int
	confirmed, failed int
}

// faults a soak update may arm (half of them none): it then stops there, and is cut.
var soakFaults = []string{"", "", "", "", "", update.FaultWrite, update.FaultSwitchSpare, update.FaultSwitchBlock, update.FaultConfirmSpare, update.FaultConfirmBlock}

// updateCut installs the pending update (a new version when none is) from the stick and
// cuts the power at a random moment of it.
func (s *soak) updateCut() string {
	r := s.box
	if s.pending == "" {
		s.minor++
		s.pending = fmt.Sprintf("1.%d.0", s.minor)
		s.stick = r.stick(r.rootfs(s.pending, initPkg, tillPkg), s.pending, false)
	}
	r.kill() // the box was idle: a cut too
	fault := soakFaults[s.rng.Intn(len(soakFaults))]
	confirmFault := fault == update.FaultConfirmSpare || fault == update.FaultConfirmBlock
	if fault != "" && !confirmFault {
		r.fault(fault)
	}
	after := time.Duration(s.rng.Int63n(int64(150 * time.Second)))
	deadline := time.Now().Add(after)
	from := r.con.mark()
	r.boot(s.stick)
	for {
		if at, _, ok := r.con.find(from, update.FaultMark); ok {
			r.kill()
			return fmt.Sprintf("update:%s %s, held at %s", s.pending, fault, strings.TrimPrefix(at, "tillbox-init:   "))
		}
		select {
		case <-r.done:
			// The box rebooted by itself (into the try): power it on again, without the
			// stick; a confirmation fault goes to the try's boot.
			r.qemu, r.qmp = nil, nil
			if confirmFault {
				r.fault(fault)
				confirmFault = false
			}
			r.boot("")
		case <-time.After(min(200*time.Millisecond, time.Until(deadline))):
		}
		if time.Now().After(deadline) {
			r.kill()
			return fmt.Sprintf("update:%s %s, cut %.1fs after power-on", s.pending, fault, after.Seconds())
		}
	}
}

// salesCut sells up to three loaves and cuts the power at a random step of them.
func (s *soak) salesCut() string {
	r := s.box
	steps := 0
	cut := s.rng.Intn(3 * 9)
	pause := time.Duration(s.rng.Int63n(int64(400 * time.Millisecond)))
	at := func() bool {
		steps++
		if steps > cut {
			time.Sleep(pause)
			r.kill()
			return true
		}
		return false
	}
	for sale := 0; ; sale++ {
		if at() {
			return fmt.Sprintf("sales: cut before sale %d", sale+1)
		}
		r.scanCode(loaf)
		if at() {
			return fmt.Sprintf("sales: cut after the scan of sale %d", sale+1)
		}
		_, s.n = r.con.waitEvent(s.n, 30*time.Second, "customer", nil)
		for _, k := range append(append([]string{"kp_add"}, digits("2000")...), "f5") {
			if at() {
				return fmt.Sprintf("sales: cut while paying sale %d", sale+1)
			}
			r.keys(k)
		}
		ev, n := r.con.waitEvent(s.n, 30*time.Second, "commit", func(e event) bool { return e.s("kind") == "sale" })
		s.n = n
		s.receipts = append(s.receipts, ev.s("receipt"))
		if at() {
			return fmt.Sprintf("sales: cut right after the commit of sale %d", sale+1)
		}
		r.printer.SetDrawer(false)
	}
}

// recoverBox powers the box on after a cut and follows it through the reboots it makes
// itself until it runs a confirmed slot, and checks what became of the pending update.
func (s *soak) recoverBox(cycleFrom int) string {
	r := s.box
	r.t.Helper()
	r.printer.SetDrawer(false)
	for boots := 0; ; boots++ {
		if boots == 6 {
			r.t.Fatalf("the box did not settle in %d boots\n%s", boots, r.con.tail(40))
		}
		started := r.boot("")
		s.n = r.booted // what the boots before (the cut one too) printed is behind us
		line, n, up := r.readyOrOff(s.n, 180*time.Second)
		s.n = n
		if !up {
			continue // it rebooted itself (into a try, or back from one)
		}
		if strings.HasSuffix(line, "(try)") {
			found, n := r.untilAny(s.n, 150*time.Second, "confirmed: version", "failed its health check", update.FaultMark)
			s.n = n
			switch found {
			case "failed its health check":
				r.waitOff(90 * time.Second)
				continue
			case update.FaultMark:
				// A confirmation fault a cut left armed: the power goes there too.
				r.kill()
				continue
			}
		}
		slot, version := fieldOf(line, "slot="), fieldOf(line, "version=")
		if version != s.cur.version && version != s.pending {
			r.t.Fatalf("the box came up on %s %s, neither the version it ran (%s) nor the update (%q): %s", slot, version, s.cur.version, s.pending, line)
		}
		r.t.Logf("up after %d boots: %s", boots+1, upLine(started, line))
		outcome := "sales only"
		switch {
		case s.pending != "" && version == s.pending:
			r.hqHas(fmt.Sprintf("update %s confirmed", s.pending), 90*time.Second)
			outcome = "update " + s.pending + " confirmed"
			s.cur, s.pending = running{slot, version}, ""
			s.confirmed++
		case s.pending != "" && r.con.has(cycleFrom, fmt.Sprintf("update %s failed its try", s.pending), fmt.Sprintf("slot %s failed its health check", update.Other(s.cur.slot))):
			r.hqHas(fmt.Sprintf("update failed: %s rolled back, running %s", s.pending, s.cur.version), 90*time.Second)
			outcome = "update " + s.pending + " reported as failed"
			s.pending = ""
			s.failed++
		case s.pending != "":
			outcome = "update " + s.pending + " not applied (installed again next)"
		}
		if version == s.cur.version && slot != s.cur.slot {
			r.t.Fatalf("the box runs %s on slot %s, it ran it on %s", version, slot, s.cur.slot)
		}
		return outcome
	}
}

// sellClean completes a sale the cut left open (restored) or signs on and sells a loaf.
func (s *soak) sellClean() {
	r := s.box
	if r.con.has(r.booted, `"t":"restored"`) && !r.con.has(r.booted, `"kind":"sale"`) {
		r.keys(append(append([]string{"kp_add"}, digits("2000")...), "f5")...)
	} else {
		s.n = r.signOn(s.n)
		r.scanCode(loaf)
		_, s.n = r.con.waitEvent(s.n, 30*time.Second, "customer", nil)
		r.keys(append(append([]string{"kp_add"}, digits("2000")...), "f5")...)
	}
	ev, n := r.con.waitEvent(s.n, 30*time.Second, "commit", func(e event) bool { return e.s("kind") == "sale" })
	s.n = n
	s.receipts = append(s.receipts, ev.s("receipt"))
	r.printer.SetDrawer(false)
}

// noDuplicates checks that head office stores no receipt twice, the soak's or any other.
func (s *soak) noDuplicates() {
	count := map[string]int{}
	s.store.Entries(context.Background(), till, 0, func(rec hq.Record) error {
		if rec.Receipt != "" {
			count[rec.Receipt]++
		}
		return nil
	})
	for rc, c := range count {
		if c > 1 {
			s.t.Fatalf("receipt %s stored %d times at HQ", rc, c)
		}
	}
}

func fieldOf(line, key string) string {
	_, v, _ := strings.Cut(line, key)
	v, _, _ = strings.Cut(v, " ")
	return v
}

// readyOrOff waits for the init's READY, or for the guest to end qemu (a reboot).
func (r *box) readyOrOff(from int, limit time.Duration) (string, int, bool) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if l, n, ok := r.con.find(from, "tillbox-init: READY"); ok {
			return l, n, true
		}
		select {
		case <-r.done:
			r.qemu, r.qmp = nil, nil
			return "", r.con.mark(), false
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no READY and no reboot within %s\n%s", limit, r.con.tail(40))
		}
	}
}

// untilAny returns the first of texts found on a line after from, and the position
// after that line.
func (r *box) untilAny(from int, limit time.Duration, texts ...string) (string, int) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		best, bestN := "", -1
		for _, s := range texts {
			if _, n, ok := r.con.find(from, s); ok && (bestN < 0 || n < bestN) {
				best, bestN = s, n
			}
		}
		if bestN >= 0 {
			return best, bestN
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("console: none of %q within %s\n%s", texts, limit, r.con.tail(40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func upLine(started time.Time, line string) string {
	return fmt.Sprintf("%.1fs from power-on (%s)", time.Since(started).Seconds(), strings.TrimPrefix(line, "tillbox-init: "))
}

// find returns the first line after from containing s, without waiting.
func (c *console) find(from int, s string) (string, int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := from; i < len(c.lines); i++ {
		if strings.Contains(c.lines[i], s) {
			return c.lines[i], i + 1, true
		}
	}
	return "", from, false
}

// has reports whether a line after from contains any of texts.
func (c *console) has(from int, texts ...string) bool {
	for _, s := range texts {
		if _, _, ok := c.find(from, s); ok {
			return true
		}
	}
	return false
}
