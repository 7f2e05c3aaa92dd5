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
	// The init consumes the pending try and reboots with the flag.
	if slot, trying, err := b.slots.Choose(); err != nil || slot != SlotB || !trying {
		t.Fatalf("choose: %s %v %v", slot, trying, err)
	}
	if s, try := firmwareBoots(t, b, true); s != SlotB || !try {
		t.Fatalf("the tryboot: %s try=%v", s, try)
	}
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
