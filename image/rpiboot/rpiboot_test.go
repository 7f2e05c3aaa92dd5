package rpiboot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newBoot is a boot partition with both slots' files and a fresh state, A at 1.0.0.
func newBoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range []string{"A", "B"} {
		if err := InstallSlot(dir, s, strings.NewReader("kernel "+s), strings.NewReader("initrd "+s), "console=ttyS1,115200 panic=5"); err != nil {
			t.Fatal(err)
		}
	}
	if err := Init(dir, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// boots is what the firmware would boot with the flag set or not.
func boots(t *testing.T, dir string, tryboot bool) (string, bool) {
	t.Helper()
	b, err := Resolve(dir, tryboot)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := os.ReadFile(filepath.Join(dir, b.Kernel))
	slot, try := b.Slot()
	if string(k) != "kernel "+slot {
		t.Fatalf("%s names kernel %s (%q) but command line slot %s", b.File, b.Kernel, k, slot)
	}
	return slot, try
}

func read(t *testing.T, dir string) State {
	t.Helper()
	st, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestTrySwitchConfirm(t *testing.T) {
	dir := newBoot(t)
	if st := read(t, dir); st != (State{Active: "A", ActiveVersion: "1.0.0"}) {
		t.Fatalf("fresh state %+v", st)
	}
	for _, flag := range []bool{false, true} {
		if s, try := boots(t, dir, flag); s != "A" || try {
			t.Fatalf("fresh, tryboot=%v: boots %s try=%v", flag, s, try)
		}
	}
	config, _ := os.ReadFile(filepath.Join(dir, ConfigFile))

	// Offer B for a try.
	if err := Write(dir, State{Active: "A", ActiveVersion: "1.0.0", Next: "B", NextVersion: "1.1.0", Pending: true}); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, ConfigFile)); !bytes.Equal(now, config) {
		t.Fatal("offering a try changed config.txt")
	}
	if s, try := boots(t, dir, false); s != "A" || try {
		t.Fatalf("normal boot with a try offered: %s try=%v", s, try)
	}
	if s, try := boots(t, dir, true); s != "B" || !try {
		t.Fatalf("tryboot: %s try=%v", s, try)
	}
	st := read(t, dir)
	if st.Next != "B" || st.NextVersion != "1.1.0" || !st.Pending {
		t.Fatalf("state after offer %+v", st)
	}

	// The init consumes the pending mark before its tryboot reboot; B passes; confirm.
	st.Pending = false
	if err := Write(dir, st); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, State{Active: "B", ActiveVersion: "1.1.0"}); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []bool{false, true} {
		if s, try := boots(t, dir, flag); s != "B" || try {
			t.Fatalf("after confirm, tryboot=%v: boots %s try=%v", flag, s, try)
		}
	}
	if st := read(t, dir); st != (State{Active: "B", ActiveVersion: "1.1.0"}) {
		t.Fatalf("state after confirm %+v", st)
	}
}

func TestRollbackLeavesConfig(t *testing.T) {
	dir := newBoot(t)
	config, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err := Write(dir, State{Active: "A", ActiveVersion: "1.0.0", Next: "B", NextVersion: "1.1.0"}); err != nil {
		t.Fatal(err)
	}
	// The try hung and the watchdog reset the box: the flag is gone, config.txt is read.
	if s, try := boots(t, dir, false); s != "A" || try {
		t.Fatalf("reset during the try boots %s try=%v", s, try)
	}
	if err := Write(dir, State{Active: "A", ActiveVersion: "1.0.0", Failed: "1.1.0"}); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, ConfigFile)); !bytes.Equal(now, config) {
		t.Fatal("a rollback rewrote config.txt")
	}
	if st := read(t, dir); st != (State{Active: "A", ActiveVersion: "1.0.0", Failed: "1.1.0"}) {
		t.Fatalf("state after rollback %+v", st)
	}
	if s, _ := boots(t, dir, true); s != "A" {
		t.Fatalf("a stray tryboot after rollback boots %s", s)
	}
}

func TestConfirmCutBetweenFiles(t *testing.T) {
	dir := newBoot(t)
	if err := Write(dir, State{Active: "A", ActiveVersion: "1.0.0", Next: "B", NextVersion: "1.1.0"}); err != nil {
		t.Fatal(err)
	}
	// config.txt switched, tryboot.txt not yet.
	if err := WriteFile(filepath.Join(dir, ConfigFile), ConfigText("B", "1.1.0")); err != nil {
		t.Fatal(err)
	}
	if st := read(t, dir); st != (State{Active: "B", ActiveVersion: "1.1.0"}) {
		t.Fatalf("state %+v, want B confirmed and no try", st)
	}
}

func TestTornWrites(t *testing.T) {
	for _, name := range []string{ConfigFile, TrybootFile} {
		t.Run(name, func(t *testing.T) {
			dir := newBoot(t)
			if err := Write(dir, State{Active: "A", ActiveVersion: "1.0.0", Next: "B", NextVersion: "1.1.0", Failed: "0.9.0"}); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name)
			whole, _ := os.ReadFile(path)
			for n := 0; n < len(whole); n++ {
				os.WriteFile(path, whole[:n], 0o644)
				if _, err := Read(dir); !errors.Is(err, ErrTorn) {
					t.Fatalf("%s cut at %d of %d bytes: %v, want ErrTorn", name, n, len(whole), err)
				}
			}
			// A cut in the middle, then the box boots slot A normally and repairs.
			os.WriteFile(path, whole[:len(whole)/2], 0o644)
			fixed, err := Repair(dir, "A", "1.0.0", false)
			if err != nil || len(fixed) != 1 || fixed[0] != name {
				t.Fatalf("repair: %v %v", fixed, err)
			}
			st := read(t, dir)
			if st.Active != "A" || st.ActiveVersion != "1.0.0" {
				t.Fatalf("after repair %+v", st)
			}
			if name == TrybootFile && st.Next != "" {
				t.Fatalf("a torn tryboot.txt repaired to a try: %+v", st)
			}
			if name == ConfigFile && st.Next != "B" {
				t.Fatalf("repairing config.txt lost the try in tryboot.txt: %+v", st)
			}
			for _, flag := range []bool{false, true} {
				boots(t, dir, flag)
			}
			if fixed, err := Repair(dir, "A", "1.0.0", false); err != nil || fixed != nil {
				t.Fatalf("second repair: %v %v", fixed, err)
			}
		})
	}
}

func TestTornConfigOnTry(t *testing.T) {
	dir := newBoot(t)
	if err := Write(dir, State{Active: "A", ActiveVersion: "1.0.0", Next: "B", NextVersion: "1.1.0"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte("[all]\narm_64bit=1\nkern"), 0o644)
	if _, err := Repair(dir, "B", "1.1.0", true); err != nil {
		t.Fatal(err)
	}
	if st := read(t, dir); st.Active != "A" || st.Next != "B" {
		t.Fatalf("a try that repairs config.txt must name the other slot confirmed: %+v", st)
	}
}

func TestCutBeforeRename(t *testing.T) {
	dir := newBoot(t)
	before := read(t, dir)
	// The temporary file was written (partly) and the rename never happened.
	os.WriteFile(filepath.Join(dir, ConfigFile+".new"), ConfigText("B", "1.1.0")[:40], 0o644)
	if st := read(t, dir); st != before {
		t.Fatalf("a stray temporary file changed the state: %+v", st)
	}
	if err := Write(dir, State{Active: "B", ActiveVersion: "1.1.0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile+".new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
}

func TestWriteRefusesBadState(t *testing.T) {
	dir := newBoot(t)
	for _, st := range []State{{Active: "C"}, {Active: "A", Next: "A"}, {Active: "B", Next: "x"}} {
		if err := Write(dir, st); !errors.Is(err, ErrSlot) {
			t.Errorf("%+v: %v, want ErrSlot", st, err)
		}
	}
	if st := read(t, dir); st.Active != "A" {
		t.Fatalf("a refused state was written: %+v", st)
	}
}

func TestTryingFromDeviceTree(t *testing.T) {
	dt := t.TempDir()
	if _, known := Trying(dt); known {
		t.Fatal("no property, but known")
	}
	os.MkdirAll(filepath.Join(dt, "chosen", "bootloader"), 0o755)
	for _, tc := range []struct {
		b    []byte
		want bool
	}{{[]byte{0, 0, 0, 1}, true}, {[]byte{0, 0, 0, 0}, false}, {[]byte{1, 0, 0, 0}, false}} {
		os.WriteFile(filepath.Join(dt, TrybootProperty), tc.b, 0o444)
		if got, known := Trying(dt); !known || got != tc.want {
			t.Errorf("%x: trying=%v known=%v", tc.b, got, known)
		}
	}
}

// TestTakenTryBootsOnceFromConfig: a taken try is booted by config.txt itself, with or
// without the firmware's flag, until Consume gives config.txt back to the confirmed slot.
func TestTakenTryBootsOnceFromConfig(t *testing.T) {
	dir := newBoot(t)
	offer := State{Active: "A", ActiveVersion: "1.0.0", Next: "B", NextVersion: "1.1.0", Pending: true, Failed: "0.9.0"}
	if err := Write(dir, offer); err != nil {
		t.Fatal(err)
	}
	taken := offer
	taken.Pending, taken.Taken = false, true
	if err := Write(dir, taken); err != nil {
		t.Fatal(err)
	}
	if st := read(t, dir); st != taken {
		t.Fatalf("taken state read as %+v", st)
	}
	for _, flag := range []bool{false, true} {
		if s, try := boots(t, dir, flag); s != "B" || !try {
			t.Fatalf("taken try, tryboot=%v: boots %s try=%v", flag, s, try)
		}
	}
	if ok, err := Consume(dir); err != nil || !ok {
		t.Fatalf("consume: %v %v", ok, err)
	}
	consumed := taken
	consumed.Taken = false
	if st := read(t, dir); st != consumed {
		t.Fatalf("consumed state read as %+v", st)
	}
	if s, try := boots(t, dir, false); s != "A" || try {
		t.Fatalf("a reset after the consume boots %s try=%v", s, try)
	}
	if ok, err := Consume(dir); err != nil || ok {
		t.Fatalf("second consume: %v %v", ok, err)
	}
	// A config.txt naming a try without a valid confirmed slot is not trusted.
	os.WriteFile(filepath.Join(dir, ConfigFile), bytes.Replace(OneShotText(taken), []byte("confirmed=A"), []byte("confirmed=B"), 1), 0o644)
	if _, err := Read(dir); !errors.Is(err, ErrTorn) {
		t.Fatalf("a try of B confirming B: %v, want ErrTorn", err)
	}
}
