package grubenv

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// tear leaves in path the first n bytes of the block for e (sealed as WriteSafe seals it)
// over what path held: a write cut off by a power cut after n bytes.
func tear(t *testing.T, path string, e Env, n int, unsealed ...string) {
	t.Helper()
	s := maps.Clone(e)
	s[SealKey] = seal(e, unsealed)
	b, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copy(old, b[:n])
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWriteSafeTornAtEveryByte cuts WriteSafe's two writes after every byte: ReadSafe
// always returns the old variables or the new ones, never a mix, and after RepairSafe the
// block itself (what GRUB reads) holds them.
func TestWriteSafeTornAtEveryByte(t *testing.T) {
	old := Env{"tillbox_active": "A", "tillbox_active_version": "1.0.0", "tillbox_next": "", "tillbox_try": "0"}
	next := Env{"tillbox_active": "A", "tillbox_active_version": "1.0.0", "tillbox_next": "B", "tillbox_next_version": "1.1.0", "tillbox_try": "1"}
	dir := t.TempDir()
	p := filepath.Join(dir, "grubenv")
	same := func(a, b Env) bool { return maps.Equal(a, b) }
	sawOld, sawNew, sawTorn := 0, 0, 0
	for phase := 0; phase < 2; phase++ {
		// Every byte of the variables; past them both blocks are padding alike.
		for n := 0; n <= Size; n += map[bool]int{true: 1, false: 61}[n < 320] {
			os.Remove(p)
			os.Remove(p + SpareSuffix)
			if err := CreateSafe(p, old, "tillbox_try"); err != nil {
				t.Fatal(err)
			}
			if phase == 0 {
				tear(t, p+SpareSuffix, next, n, "tillbox_try")
			} else {
				tear(t, p+SpareSuffix, next, Size, "tillbox_try")
				tear(t, p, next, n, "tillbox_try")
			}
			got, torn, err := ReadSafe(p, "tillbox_try")
			if err != nil {
				t.Fatalf("phase %d, cut after %d bytes: %v", phase, n, err)
			}
			switch {
			case same(got, old):
				sawOld++
			case same(got, next):
				sawNew++
			default:
				t.Fatalf("phase %d, cut after %d bytes: read %v, neither the old nor the new variables", phase, n, got)
			}
			if phase == 0 && !same(got, old) {
				t.Fatalf("a torn spare (after %d bytes) changed what is read: %v", n, got)
			}
			if torn {
				sawTorn++
				fixed, err := RepairSafe(p, "tillbox_try")
				if err != nil || !fixed {
					t.Fatalf("repair after %d bytes: %v %v", n, fixed, err)
				}
			}
			plain, err := Read(p)
			if err != nil {
				t.Fatalf("phase %d, cut after %d bytes: the block GRUB reads, after repair: %v", phase, n, err)
			}
			delete(plain, SealKey)
			if !same(plain, got) {
				t.Fatalf("phase %d, cut after %d bytes: block %v, read %v", phase, n, plain, got)
			}
		}
	}
	if sawOld == 0 || sawNew == 0 || sawTorn == 0 {
		t.Fatalf("old %d, new %d, torn %d: every outcome should occur", sawOld, sawNew, sawTorn)
	}
	t.Logf("%d cuts: old %d, new %d, repaired %d", sawOld+sawNew, sawOld, sawNew, sawTorn)
}

// TestReadSafeTryRewrittenByGRUB: GRUB's save_env changes tillbox_try in the block only;
// the block stays valid and wins over the spare.
func TestReadSafeTryRewrittenByGRUB(t *testing.T) {
	p := filepath.Join(t.TempDir(), "grubenv")
	e := Env{"tillbox_active": "A", "tillbox_next": "B", "tillbox_try": "1"}
	if err := CreateSafe(p, e, "tillbox_try"); err != nil {
		t.Fatal(err)
	}
	plain, _ := Read(p)
	plain["tillbox_try"] = "0"
	if err := Write(p, plain); err != nil {
		t.Fatal(err)
	}
	got, torn, err := ReadSafe(p, "tillbox_try")
	if err != nil || torn || got["tillbox_try"] != "0" {
		t.Fatalf("read %v torn %v: %v", got, torn, err)
	}
	// Both copies unreadable: an error, not a guess.
	os.WriteFile(p, make([]byte, Size), 0o644)
	os.WriteFile(p+SpareSuffix, make([]byte, Size), 0o644)
	if _, _, err := ReadSafe(p, "tillbox_try"); err == nil {
		t.Fatal("two zeroed blocks read without an error")
	}
}
