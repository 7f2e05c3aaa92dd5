package update

import (
	"bytes"
	"os"
	"testing"

	"tillbox/image/grubenv"
)

// cutWrite runs op, which rewrites the boot state once, and then puts back in turn every
// state a power cut during that rewrite can leave on the boot partition: the spare cut
// off after n bytes (the block as it was), or the spare written and the block cut off
// after n bytes. For each, check gets the state read after the init's repair.
func cutWrite(t *testing.T, s *Slots, op func() error, check func(n int, spare bool, st State)) {
	t.Helper()
	blk, spare := s.Env, s.Env+grubenv.SpareSuffix
	oldBlk, oldSpare := file(t, blk), file(t, spare)
	if err := op(); err != nil {
		t.Fatal(err)
	}
	newBlk := file(t, blk)
	if !bytes.Equal(newBlk, file(t, spare)) {
		t.Fatal("block and spare differ after a whole write")
	}
	for _, inSpare := range []bool{true, false} {
		for n := 0; n <= grubenv.Size; n += 13 {
			b, sp := bytes.Clone(oldBlk), bytes.Clone(oldSpare)
			if inSpare {
				copy(sp, newBlk[:n])
			} else {
				sp = bytes.Clone(newBlk)
				copy(b, newBlk[:n])
			}
			os.WriteFile(blk, b, 0o644)
			os.WriteFile(spare, sp, 0o644)
			if _, err := s.Repair(); err != nil {
				t.Fatalf("cut after %d bytes (spare %v): repair: %v", n, inSpare, err)
			}
			st, err := s.State()
			if err != nil {
				t.Fatalf("cut after %d bytes (spare %v): %v", n, inSpare, err)
			}
			check(n, inSpare, st)
		}
	}
	os.WriteFile(blk, newBlk, 0o644)
	os.WriteFile(spare, newBlk, 0o644)
}

// TestPowerCutDuringBootStateWrites cuts the switch into the try and the confirmation at
// every 13th byte of the block and of its spare: the box boots the active slot or the
// whole new one, and the update ends tried, confirmed or recorded as failed, never lost
// half-way; the ledger is untouched.
func TestPowerCutDuringBootStateWrites(t *testing.T) {
	b := newBox(t)
	sum := b.ledgerSum(t)
	rootfs := bytes.Repeat([]byte("rootfs 1.1.0 "), 5000)
	bun := b.bundle(t, "qemu-virt", "1.1.0", "1.0.0", rootfs, b.key)
	before, _ := b.slots.State()
	outcomes := map[string]int{}
	cutWrite(t, b.slots, func() error { _, err := b.install(t, bun, b.opts("1.0.0", SlotA)); return err }, func(n int, spare bool, st State) {
		switch {
		case st == before:
			outcomes["switch: not yet"]++ // the install runs again (the stick, the fleet)
		case st.Active == SlotA && st.Next == SlotB && st.Try && st.NextVersion == "1.1.0":
			outcomes["switch: try pending"]++
			if slot, trying, err := (&Slots{A: b.slots.A, B: b.slots.B, Env: b.slots.Env}).Choose(); err != nil || slot != SlotB || !trying {
				t.Fatalf("switch cut after %d: boots %s trying=%v: %v", n, slot, trying, err)
			}
		default:
			t.Fatalf("switch cut after %d bytes (spare %v): state %+v", n, spare, st)
		}
		if !bytes.Equal(file(t, b.slots.B), rootfs) {
			t.Fatal("slot B not whole")
		}
	})
	// The try boots: GRUB consumes it (one byte in the block), the health check passes.
	if slot, trying, err := b.slots.Choose(); err != nil || slot != SlotB || !trying {
		t.Fatalf("try: %s %v %v", slot, trying, err)
	}
	tried, _ := b.slots.State()
	cutWrite(t, b.slots, func() error { return b.slots.Confirm(SlotB) }, func(n int, spare bool, st State) {
		switch {
		case st == tried:
			// Power went before the confirmation: the next boot is slot A, which
			// records 1.1.0 as failed.
			c := &Slots{A: b.slots.A, B: b.slots.B, Env: b.slots.Env}
			slot, trying, _ := c.Choose()
			out, err := c.Settle(slot, trying)
			if slot != SlotA || trying || err != nil || !out.RolledBack || out.Version != "1.1.0" {
				t.Fatalf("confirm cut after %d: boots %s trying=%v, settle %+v %v", n, slot, trying, out, err)
			}
			outcomes["confirm: reported failed"]++
		case st.Active == SlotB && st.ActiveVersion == "1.1.0" && st.Next == "":
			outcomes["confirm: confirmed"]++
		default:
			t.Fatalf("confirm cut after %d bytes (spare %v): state %+v", n, spare, st)
		}
	})
	for _, o := range []string{"switch: not yet", "switch: try pending", "confirm: reported failed", "confirm: confirmed"} {
		if outcomes[o] == 0 {
			t.Errorf("no cut ended %q", o)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	b.checkLedger(t, sum)
}
