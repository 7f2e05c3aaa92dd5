package update

import (
	"bytes"
	"errors"
	"testing"

	"tillbox/image/grubenv"
)

// holdAt makes the fault points return instead of waiting for the power cut, and records
// where they stopped.
func holdAt(t *testing.T, point string) *[]string {
	t.Helper()
	t.Setenv(FaultEnv, point)
	var held []string
	saved := Hold
	Hold = func(p string) { held = append(held, p) }
	t.Cleanup(func() { Hold = saved })
	return &held
}

// TestFaultHooksLeaveWhatAPowerCutWould checks each fault point of the VM test: it stops
// at its moment, and what it left on the disk is what the boot after a power cut reads:
// the old state (not yet switched: the install runs again) or the new one, never a mix.
func TestFaultHooksLeaveWhatAPowerCutWould(t *testing.T) {
	rootfs := bytes.Repeat([]byte("rootfs 1.1.0 "), 5000)
	for _, c := range []struct {
		point string
		// switched: the boot after the cut finds the try pending; confirmed: slot B active.
		switched, confirm, confirmed bool
	}{
		{point: FaultWrite},
		{point: FaultSwitchSpare},
		{point: FaultSwitchBlock, switched: true},
		{point: FaultConfirmSpare, switched: true, confirm: true},
		{point: FaultConfirmBlock, switched: true, confirm: true, confirmed: true},
	} {
		t.Run(c.point, func(t *testing.T) {
			b := newBox(t)
			sum := b.ledgerSum(t)
			oldB := file(t, b.slots.B)
			bun := b.bundle(t, "qemu-virt", "1.1.0", "", rootfs, b.key)
			var held *[]string
			if !c.confirm {
				held = holdAt(t, c.point)
			}
			_, err := b.install(t, bun, b.opts("1.0.0", SlotA))
			if c.confirm {
				if err != nil {
					t.Fatal(err)
				}
				if slot, trying, err := b.slots.Choose(); err != nil || slot != SlotB || !trying {
					t.Fatalf("try: %s %v %v", slot, trying, err)
				}
				held = holdAt(t, c.point)
				err = b.slots.Confirm(SlotB)
			}
			if !errors.Is(err, errFault) || len(*held) != 1 || (*held)[0] != c.point {
				t.Fatalf("held at %v, returned %v", *held, err)
			}
			t.Setenv(FaultEnv, "")
			if c.point == FaultWrite {
				got := file(t, b.slots.B)
				if bytes.Equal(got, rootfs) || bytes.Equal(got, oldB) || !bytes.HasPrefix(got, rootfs[:len(rootfs)/2]) {
					t.Fatalf("slot B after a cut mid-write: %d bytes, not half of the new payload", len(got))
				}
			}
			if c.point == FaultSwitchBlock || c.point == FaultConfirmBlock {
				if _, err := grubenv.Read(b.slots.Env); err != nil {
					t.Fatalf("torn block not readable as a GRUB block (GRUB reads it): %v", err)
				}
				if _, torn, err := grubenv.ReadSafe(b.slots.Env, kTry); err != nil || !torn {
					t.Fatalf("block not torn (torn=%v): %v", torn, err)
				}
			}
			if _, err := b.slots.Repair(); err != nil {
				t.Fatal(err)
			}
			st, err := b.slots.State()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.confirmed:
				if st.Active != SlotB || st.ActiveVersion != "1.1.0" || st.Next != "" {
					t.Fatalf("after the cut: %+v, want slot B confirmed", st)
				}
			case c.confirm:
				// The tried slot is not confirmed: slot A boots and records 1.1.0 as failed.
				slot, trying, _ := b.slots.Choose()
				if out, err := b.slots.Settle(slot, trying); slot != SlotA || err != nil || !out.RolledBack || out.Version != "1.1.0" {
					t.Fatalf("after the cut: boots %s, settle %+v %v", slot, out, err)
				}
			case c.switched:
				if st.Active != SlotA || st.Next != SlotB || !st.Try || st.NextVersion != "1.1.0" {
					t.Fatalf("after the cut: %+v, want the try pending", st)
				}
			default:
				if st.Active != SlotA || st.Next != "" || st.Try {
					t.Fatalf("after the cut: %+v, want slot A and no try", st)
				}
				// The install runs again, whole, and switches.
				if _, err := b.install(t, bun, b.opts("1.0.0", SlotA)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(file(t, b.slots.B), rootfs) {
					t.Fatal("slot B not whole after the install ran again")
				}
			}
			b.checkLedger(t, sum)
		})
	}
}
