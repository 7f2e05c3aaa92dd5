package update

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/image/rpiboot"
)

// newPiBox is newBox with the Pi's boot state: a boot partition directory holding
// config.txt and tryboot.txt; a slot's "kernel" and "initrd" are taken from its first bytes.
func newPiBox(t *testing.T) *box {
	t.Helper()
	b := newBox(t)
	boot := filepath.Join(b.dir, "boot")
	os.MkdirAll(boot, 0o755)
	b.slots.Env, b.slots.Tryboot, b.slots.Cmdline = "", boot, "console=ttyS1,115200"
	b.slots.SlotFiles = func(dev string) (io.ReadCloser, io.ReadCloser, func(), error) {
		raw, err := os.ReadFile(dev)
		if err != nil {
			return nil, nil, nil, err
		}
		head := raw[:min(len(raw), 16)]
		return io.NopCloser(bytes.NewReader(append([]byte("kernel:"), head...))),
			io.NopCloser(bytes.NewReader(append([]byte("initrd:"), head...))), func() {}, nil
	}
	if err := b.slots.Init("1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := rpiboot.InstallSlot(boot, SlotA, strings.NewReader("kernel:rootfs 1.0.0"), strings.NewReader("initrd:rootfs 1.0.0"), b.slots.Cmdline); err != nil {
		t.Fatal(err)
	}
	return b
}

// firmwareBoots is the slot the Pi's firmware boots with the tryboot flag set or not.
func firmwareBoots(t *testing.T, b *box, flag bool) (string, bool) {
	t.Helper()
	bt, err := rpiboot.Resolve(b.slots.Tryboot, flag)
	if err != nil {
		t.Fatal(err)
	}
	slot, try := bt.Slot()
	k := file(t, filepath.Join(b.slots.Tryboot, bt.Kernel))
	if want := "kernel:" + string(file(t, b.slots.Path(slot))[:len(k)-len("kernel:")]); string(k) != want {
		t.Fatalf("%s boots slot %s with kernel %q, not that slot's (%q)", bt.File, slot, k, want)
	}
	return slot, try
}

// tryBoots is the start of a try's boot on a Pi: the firmware boots the slot on try from
// config.txt, and its init gives config.txt back to the active slot before anything else.
func tryBoots(t *testing.T, b *box) {
	t.Helper()
	st, _ := b.slots.State()
	if s, try := firmwareBoots(t, b, false); s != st.Next || !try {
		t.Fatalf("the try's boot: %s try=%v, want %s", s, try, st.Next)
	}
	if taken, err := rpiboot.Consume(b.slots.Tryboot); err != nil || !taken {
		t.Fatalf("consume: %v %v", taken, err)
	}
	if s, try := firmwareBoots(t, b, false); s != st.Active || try {
		t.Fatalf("a reset after the try's init started boots %s try=%v, want %s", s, try, st.Active)
	}
}

func TestTrybootTriedAndConfirmed(t *testing.T) {
	b := newPiBox(t)
	sum := b.ledgerSum(t)
	config := file(t, filepath.Join(b.slots.Tryboot, rpiboot.ConfigFile))
	rootfs := bytes.Repeat([]byte("rootfs 1.1.0 "), 5000)
	if _, err := b.install(t, b.bundle(t, "qemu-virt", "1.1.0", "", rootfs, b.key), b.opts("1.0.0", SlotA)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file(t, filepath.Join(b.slots.Tryboot, rpiboot.ConfigFile)), config) {
		t.Fatal("install changed config.txt")
	}
	if s, try := firmwareBoots(t, b, false); s != SlotA || try {
		t.Fatalf("a normal boot after install: %s try=%v", s, try)
	}
	// The init takes the pending try and reboots (with the flag, which a mainline
	// kernel does not pass on): the firmware boots B either way.
	if slot, trying, err := b.slots.Choose(); err != nil || slot != SlotB || !trying {
		t.Fatalf("choose: %s %v %v", slot, trying, err)
	}
	for _, flag := range []bool{true, false} {
		if s, try := firmwareBoots(t, b, flag); s != SlotB || !try {
			t.Fatalf("the try, flag %v: %s try=%v", flag, s, try)
		}
	}
	tryBoots(t, b)
	if out, err := b.slots.Settle(SlotB, true); err != nil || out.RolledBack {
		t.Fatalf("settle on the try: %+v %v", out, err)
	}
	if err := b.slots.Confirm(SlotB); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []bool{false, true} {
		if s, try := firmwareBoots(t, b, flag); s != SlotB || try {
			t.Fatalf("after confirm, flag %v: %s try=%v", flag, s, try)
		}
	}
	if st, _ := b.slots.State(); st.Active != SlotB || st.ActiveVersion != "1.1.0" || st.Next != "" {
		t.Fatalf("state after confirm %+v", st)
	}
	b.checkLedger(t, sum)
}

func TestTrybootResetDuringTryRollsBack(t *testing.T) {
	b := newPiBox(t)
	if _, err := b.install(t, b.bundle(t, "qemu-virt", "1.1.0", "", []byte("rootfs that hangs"), b.key), b.opts("1.0.0", SlotA)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.slots.Choose(); err != nil {
		t.Fatal(err)
	}
	tryBoots(t, b)
	// The try hangs; the watchdog resets the box; the firmware's flag is gone.
	slot, try := firmwareBoots(t, b, false)
	if slot != SlotA || try {
		t.Fatalf("boot after the reset: %s try=%v", slot, try)
	}
	out, err := b.slots.Settle(slot, false)
	if err != nil || !out.RolledBack || out.Version != "1.1.0" {
		t.Fatalf("settle: %+v %v", out, err)
	}
	if st, _ := b.slots.State(); st.Active != SlotA || st.Failed != "1.1.0" || st.Next != "" {
		t.Fatalf("state %+v", st)
	}
	if out, _ := b.slots.Settle(slot, false); out.RolledBack {
		t.Fatal("rollback reported twice")
	}
}

func TestTrybootFailedHealthRollsBack(t *testing.T) {
	b := newPiBox(t)
	if _, err := b.install(t, b.bundle(t, "qemu-virt", "1.1.0", "", []byte("rootfs 1.1.0, never ready"), b.key), b.opts("1.0.0", SlotA)); err != nil {
		t.Fatal(err)
	}
	b.slots.Choose()
	if err := b.slots.Rollback(SlotB); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []bool{false, true} {
		if s, _ := firmwareBoots(t, b, flag); s != SlotA {
			t.Fatalf("after rollback, flag %v: boots %s", flag, s)
		}
	}
}

func TestTrybootPendingAfterPowerCut(t *testing.T) {
	b := newPiBox(t)
	if _, err := b.install(t, b.bundle(t, "qemu-virt", "1.1.0", "", []byte("rootfs 1.1.0"), b.key), b.opts("1.0.0", SlotA)); err != nil {
		t.Fatal(err)
	}
	// Power went before the tryboot reboot: a normal boot of A finds the try pending and
	// neither records it as failed nor loses it.
	if out, err := b.slots.Settle(SlotA, false); err != nil || out.RolledBack {
		t.Fatalf("settle: %+v %v", out, err)
	}
	if st, _ := b.slots.State(); !st.Try || st.Next != SlotB {
		t.Fatalf("pending try lost: %+v", st)
	}
}

// TestTrybootWithoutTheFirmwareFlag is an update on Debian's kernel, which never sets the
// firmware's tryboot flag: config.txt boots the try once, a reset after the try's init
// started boots the old slot, and only the confirmation names the new one.
func TestTrybootWithoutTheFirmwareFlag(t *testing.T) {
	b := newPiBox(t)
	sum := b.ledgerSum(t)
	rootfs := bytes.Repeat([]byte("rootfs 1.1.0 "), 500)
	if _, err := b.install(t, b.bundle(t, "qemu-virt", "1.1.0", "", rootfs, b.key), b.opts("1.0.0", SlotA)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.slots.Choose(); err != nil {
		t.Fatal(err)
	}
	// The reboot carries no flag: config.txt is read, and it names the try.
	slot, try := firmwareBoots(t, b, false)
	if slot != SlotB || !try {
		t.Fatalf("reboot into the try: %s try=%v", slot, try)
	}
	// The init's Settle consumes the try even where its early Consume did not run.
	if out, err := b.slots.Settle(slot, try); err != nil || out.RolledBack {
		t.Fatalf("settle on the try: %+v %v", out, err)
	}
	if s, try := firmwareBoots(t, b, false); s != SlotA || try {
		t.Fatalf("a reset during the try boots %s try=%v", s, try)
	}
	if err := b.slots.Confirm(SlotB); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []bool{false, true} {
		if s, try := firmwareBoots(t, b, flag); s != SlotB || try {
			t.Fatalf("after confirm, flag %v: %s try=%v", flag, s, try)
		}
	}
	b.checkLedger(t, sum)
}

// TestTrybootCutBeforeTheTryConsumed: power goes during the try's boot before its init
// consumed it (the kernel's first seconds): the next boot is the try again, once more;
// once its init runs, a reset rolls back and the old slot records the failure.
func TestTrybootCutBeforeTheTryConsumed(t *testing.T) {
	b := newPiBox(t)
	if _, err := b.install(t, b.bundle(t, "qemu-virt", "1.1.0", "", []byte("rootfs 1.1.0"), b.key), b.opts("1.0.0", SlotA)); err != nil {
		t.Fatal(err)
	}
	b.slots.Choose()
	for i := 0; i < 2; i++ {
		if s, try := firmwareBoots(t, b, false); s != SlotB || !try {
			t.Fatalf("boot %d after the cut: %s try=%v", i, s, try)
		}
	}
	tryBoots(t, b)
	slot, try := firmwareBoots(t, b, false)
	out, err := b.slots.Settle(slot, try)
	if slot != SlotA || err != nil || !out.RolledBack || out.Version != "1.1.0" {
		t.Fatalf("after the reset: boots %s, settle %+v %v", slot, out, err)
	}
}

// TestTrybootTornTakeAndConsume cuts the two rewrites of config.txt a try makes (taking it
// before the reboot, giving it back in the try's first moments) at every byte, as a card
// that does not write the rename's sector whole might leave it: after the init's repair
// the box boots the active slot, and the try is either still pending or recorded as failed.
func TestTrybootTornTakeAndConsume(t *testing.T) {
	for _, moment := range []string{"take", "consume"} {
		t.Run(moment, func(t *testing.T) {
			b := newPiBox(t)
			if _, err := b.install(t, b.bundle(t, "qemu-virt", "1.1.0", "", []byte("rootfs 1.1.0"), b.key), b.opts("1.0.0", SlotA)); err != nil {
				t.Fatal(err)
			}
			config := filepath.Join(b.slots.Tryboot, rpiboot.ConfigFile)
			tryboot := filepath.Join(b.slots.Tryboot, rpiboot.TrybootFile)
			if moment == "consume" {
				b.slots.Choose()
			}
			oldTryboot := file(t, tryboot)
			if moment == "take" {
				b.slots.Choose()
			} else if _, err := rpiboot.Consume(b.slots.Tryboot); err != nil {
				t.Fatal(err)
			}
			newConfig := file(t, config)
			for n := 0; n < len(newConfig); n += 7 {
				os.WriteFile(config, newConfig[:n], 0o644)
				os.WriteFile(tryboot, oldTryboot, 0o644)
				booted, trying := SlotA, false
				if moment == "consume" {
					booted, trying = SlotB, true
				}
				if _, err := rpiboot.Repair(b.slots.Tryboot, booted, map[bool]string{false: "1.0.0", true: "1.1.0"}[trying], trying); err != nil {
					t.Fatalf("%s cut at %d: repair: %v", moment, n, err)
				}
				st, err := b.slots.State()
				if err != nil || st.Active != SlotA || st.Next != SlotB || st.Taken {
					t.Fatalf("%s cut at %d: %+v %v", moment, n, st, err)
				}
				if s, try := firmwareBoots(t, b, false); s != SlotA || try {
					t.Fatalf("%s cut at %d: boots %s try=%v", moment, n, s, try)
				}
				if moment == "take" && !st.Try {
					t.Fatalf("take cut at %d: the pending try was lost: %+v", n, st)
				}
				if moment == "consume" {
					if out, err := b.slots.Settle(SlotA, false); err != nil || !out.RolledBack {
						t.Fatalf("consume cut at %d: settle %+v %v", n, out, err)
					}
				}
			}
		})
	}
}
