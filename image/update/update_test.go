package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/image/bundle"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// box is a box with its slots as plain files and a ledger beside them.
type box struct {
	slots  *Slots
	ledger string
	trust  []ed25519.PublicKey
	key    ed25519.PrivateKey
	dir    string
	n      int
}

func newBox(t *testing.T) *box {
	t.Helper()
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := &box{slots: &Slots{A: filepath.Join(dir, "slot-a"), B: filepath.Join(dir, "slot-b"), Env: filepath.Join(dir, "grubenv")},
		ledger: filepath.Join(dir, "till.ledger"), trust: []ed25519.PublicKey{pub}, key: priv, dir: dir}
	os.WriteFile(b.slots.A, []byte("rootfs 1.0.0"), 0o600)
	os.WriteFile(b.slots.B, []byte("old rootfs of an earlier release"), 0o600)
	if err := b.slots.Init("1.0.0"); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(b.ledger, &ledger.Options{Store: "s001", Till: "t01"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := l.Append(journal.Entry{Kind: journal.KindPowerUp, Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	return b
}

// openSale reads the ledger as the firmware does: the till bucket's open-sale record.
func (b *box) openSale() (bool, error) {
	l, err := ledger.Open(b.ledger, &ledger.Options{ReadOnly: true})
	if err != nil {
		return false, err
	}
	defer l.Close()
	_, err = l.Record("till", "open-sale")
	if errors.Is(err, ledger.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (b *box) setOpenSale(t *testing.T, open bool) {
	t.Helper()
	l, err := ledger.Open(b.ledger, &ledger.Options{Store: "s001", Till: "t01"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	side := ledger.Delete("till", "open-sale")
	if open {
		side = ledger.Put("till", "open-sale", []byte(`{"lines":[]}`))
	}
	if err := l.Update(side); err != nil {
		t.Fatal(err)
	}
}

func (b *box) bundle(t *testing.T, board, version, min string, rootfs []byte, key ed25519.PrivateKey) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := bundle.Create(&buf, bundle.Manifest{Board: board, Version: version, MinVersion: min}, bytes.NewReader(rootfs), int64(len(rootfs)), key); err != nil {
		t.Fatal(err)
	}
	b.n++
	p := filepath.Join(b.dir, fmt.Sprintf("%s-%s-%d.tbx", board, version, b.n))
	os.WriteFile(p, buf.Bytes(), 0o600)
	return p
}

func (b *box) opts(running, booted string) Options {
	return Options{Trusted: b.trust, Board: "qemu-virt", Running: running, Booted: booted, OpenSale: b.openSale}
}

func (b *box) install(t *testing.T, path string, o Options) (Result, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return b.slots.Install(f, o)
}

func (b *box) ledgerSum(t *testing.T) [32]byte {
	t.Helper()
	raw, err := os.ReadFile(b.ledger)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(raw)
}

func (b *box) checkLedger(t *testing.T, want [32]byte) {
	t.Helper()
	if b.ledgerSum(t) != want {
		t.Fatal("the ledger file changed")
	}
	l, err := ledger.Open(b.ledger, &ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Verify(); err != nil {
		t.Fatal(err)
	}
}

func file(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoodBundleTriedAndConfirmed(t *testing.T) {
	b := newBox(t)
	sum := b.ledgerSum(t)
	rootfs := bytes.Repeat([]byte("rootfs 1.1.0 "), 50000)
	res, err := b.install(t, b.bundle(t, "qemu-virt", "1.1.0", "1.0.0", rootfs, b.key), b.opts("1.0.0", SlotA))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("installed %d bytes into slot %s in %s", res.Bytes, res.Slot, res.Duration)
	if res.Slot != SlotB || !bytes.Equal(file(t, b.slots.B), rootfs) {
		t.Fatalf("slot %s holds %d bytes", res.Slot, len(file(t, b.slots.B)))
	}
	st, _ := b.slots.State()
	if st.Active != SlotA || st.Next != SlotB || !st.Try || st.NextVersion != "1.1.0" {
		t.Fatalf("state after install %+v", st)
	}
	slot, trying, err := b.slots.Choose()
	if err != nil || slot != SlotB || !trying {
		t.Fatalf("first boot: %s trying=%v %v", slot, trying, err)
	}
	if out, err := b.slots.Settle(slot, trying); err != nil || out.RolledBack {
		t.Fatalf("settle on try: %+v %v", out, err)
	}
	if err := b.slots.Confirm(SlotB); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if slot, trying, _ := b.slots.Choose(); slot != SlotB || trying {
			t.Fatalf("boot after confirm: %s trying=%v", slot, trying)
		}
	}
	st, _ = b.slots.State()
	if st.Active != SlotB || st.ActiveVersion != "1.1.0" || st.Next != "" {
		t.Fatalf("state after confirm %+v", st)
	}
	b.checkLedger(t, sum)
}

func TestRefusedBundlesTouchNothing(t *testing.T) {
	b := newBox(t)
	sum := b.ledgerSum(t)
	rootfs := bytes.Repeat([]byte("rootfs 1.1.0 "), 1000)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	good := b.bundle(t, "qemu-virt", "1.1.0", "", rootfs, b.key)
	tampered := filepath.Join(b.dir, "tampered.tbx")
	raw := file(t, good)
	raw[len(raw)-7] ^= 0x20
	os.WriteFile(tampered, raw, 0o600)
	tamperedManifest := filepath.Join(b.dir, "tampered-manifest.tbx")
	raw = file(t, good)
	if i := bytes.Index(raw, []byte(`"1.1.0"`)); i > 0 {
		raw[i+3] = '9' // "1.9.0": a downgrade guard cannot be talked round by editing the version
	}
	os.WriteFile(tamperedManifest, raw, 0o600)

	for _, tc := range []struct {
		name string
		path string
		opts Options
		want error
	}{
		{"tampered payload", tampered, b.opts("1.0.0", SlotA), bundle.ErrPayload},
		{"tampered manifest", tamperedManifest, b.opts("1.0.0", SlotA), bundle.ErrSignature},
		{"signed by another key", b.bundle(t, "qemu-virt", "1.1.0", "", rootfs, stranger), b.opts("1.0.0", SlotA), bundle.ErrSignature},
		{"other board", b.bundle(t, "rpi4", "1.1.0", "", rootfs, b.key), b.opts("1.0.0", SlotA), ErrBoard},
		{"downgrade", b.bundle(t, "qemu-virt", "0.9.0", "", rootfs, b.key), b.opts("1.0.0", SlotA), ErrDowngrade},
		{"same version", good, b.opts("1.1.0", SlotA), ErrDowngrade},
		{"running too old", b.bundle(t, "qemu-virt", "2.0.0", "1.5.0", rootfs, b.key), b.opts("1.0.0", SlotA), ErrTooOld},
		{"booted slot not confirmed", good, b.opts("1.0.0", SlotB), ErrPending},
		{"sale status unknown", good, Options{Trusted: b.trust, Board: "qemu-virt", Running: "1.0.0", Booted: SlotA}, ErrState},
		{"not a bundle", b.slots.A, b.opts("1.0.0", SlotA), bundle.ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			envBefore, slotBefore := file(t, b.slots.Env), file(t, b.slots.B)
			_, err := b.install(t, tc.path, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			t.Logf("refused: %v", err)
			if !bytes.Equal(file(t, b.slots.Env), envBefore) || !bytes.Equal(file(t, b.slots.B), slotBefore) {
				t.Fatal("a refused bundle changed the boot state or the inactive slot")
			}
		})
	}
	b.checkLedger(t, sum)
}

func TestNoSwitchDuringOpenSale(t *testing.T) {
	b := newBox(t)
	b.setOpenSale(t, true)
	sum := b.ledgerSum(t)
	p := b.bundle(t, "qemu-virt", "1.1.0", "", []byte("rootfs 1.1.0"), b.key)
	before := file(t, b.slots.B)
	if _, err := b.install(t, p, b.opts("1.0.0", SlotA)); !errors.Is(err, ErrOpenSale) {
		t.Fatalf("got %v, want ErrOpenSale", err)
	}
	if !bytes.Equal(file(t, b.slots.B), before) {
		t.Fatal("slot written during an open sale")
	}
	b.checkLedger(t, sum)
	b.setOpenSale(t, false)
	if _, err := b.install(t, p, b.opts("1.0.0", SlotA)); err != nil {
		t.Fatalf("after the sale: %v", err)
	}
}

func TestFailedHealthRollsBack(t *testing.T) {
	b := newBox(t)
	sum := b.ledgerSum(t)
	p := b.bundle(t, "qemu-virt", "1.1.0", "", []byte("rootfs 1.1.0 that never gets ready"), b.key)
	if _, err := b.install(t, p, b.opts("1.0.0", SlotA)); err != nil {
		t.Fatal(err)
	}
	slot, trying, _ := b.slots.Choose()
	if slot != SlotB || !trying {
		t.Fatalf("boot %s trying=%v", slot, trying)
	}
	// The tried till exits before it is ready (its ledger would not verify, say).
	events, exited := make(chan []byte, 4), make(chan error, 1)
	events <- []byte(`{"t":"warning","text":"the ledger does not verify"}`)
	exited <- errors.New("exit status 1")
	err := Health{Limit: 10 * time.Second, Alive: time.Second}.Wait(context.Background(), events, exited)
	if !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("health: %v", err)
	}
	if err := b.slots.Rollback(slot); err != nil {
		t.Fatal(err)
	}
	if slot, trying, _ := b.slots.Choose(); slot != SlotA || trying {
		t.Fatalf("boot after rollback: %s trying=%v", slot, trying)
	}
	st, _ := b.slots.State()
	if st.Active != SlotA || st.Failed != "1.1.0" || st.Next != "" {
		t.Fatalf("state %+v", st)
	}
	// The same bundle is not installed again unless asked.
	if _, err := b.install(t, p, b.opts("1.0.0", SlotA)); !errors.Is(err, ErrFailedBefore) {
		t.Fatalf("reinstall: %v", err)
	}
	o := b.opts("1.0.0", SlotA)
	o.Retry = true
	if _, err := b.install(t, p, o); err != nil {
		t.Fatalf("retry: %v", err)
	}
	b.checkLedger(t, sum)
}

func TestHungTryRolledBackAtNextBoot(t *testing.T) {
	b := newBox(t)
	sum := b.ledgerSum(t)
	if _, err := b.install(t, b.bundle(t, "qemu-virt", "1.1.0", "", []byte("rootfs that hangs"), b.key), b.opts("1.0.0", SlotA)); err != nil {
		t.Fatal(err)
	}
	if slot, trying, _ := b.slots.Choose(); slot != SlotB || !trying {
		t.Fatal("not tried")
	}
	// It hangs; the watchdog resets the box; nothing was written since the try began.
	slot, trying, _ := b.slots.Choose()
	if slot != SlotA || trying {
		t.Fatalf("boot after the hang: %s trying=%v", slot, trying)
	}
	out, err := b.slots.Settle(slot, trying)
	if err != nil || !out.RolledBack || out.Version != "1.1.0" {
		t.Fatalf("settle: %+v %v", out, err)
	}
	if out, _ := b.slots.Settle(slot, trying); out.RolledBack {
		t.Fatal("rollback reported twice")
	}
	b.checkLedger(t, sum)
}

func TestHealthReady(t *testing.T) {
	events, exited := make(chan []byte, 4), make(chan error)
	events <- []byte(`{"t":"device","device":"printer"}`)
	events <- []byte(`{"t":"operator","lines":["SIGN ON",""]}`)
	if err := (Health{Limit: 10 * time.Second, Alive: 50 * time.Millisecond}).Wait(context.Background(), events, exited); err != nil {
		t.Fatal(err)
	}
	// Ready, but gone before Alive passed.
	events <- []byte(`{"t":"operator"}`)
	go func() { time.Sleep(10 * time.Millisecond); exited <- errors.New("signal: killed") }()
	if err := (Health{Limit: 10 * time.Second, Alive: 10 * time.Second}).Wait(context.Background(), events, exited); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("died after ready: %v", err)
	}
	// Never ready.
	if err := (Health{Limit: 20 * time.Millisecond, Alive: time.Second}).Wait(context.Background(), make(chan []byte), exited); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("never ready: %v", err)
	}
}

func TestStatusRoundTripAndNote(t *testing.T) {
	path := filepath.Join(t.TempDir(), StatusFile)
	if _, err := ReadStatus(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no status yet: %v, want os.ErrNotExist", err)
	}
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	want := Status{State: StatusFailed, Version: "1.5.0", Detail: "not ready within 1m30s", At: at}
	if err := WriteStatus(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStatus(path)
	if err != nil || got != want {
		t.Fatalf("read back %+v, %v; want %+v", got, err, want)
	}
	if n := got.Note("1.4.2"); n != "update failed: 1.5.0 rolled back, running 1.4.2: not ready within 1m30s" {
		t.Errorf("failed note %q", n)
	}
	if n := (Status{State: StatusConfirmed, Version: "1.5.0"}).Note("1.5.0"); n != "update 1.5.0 confirmed" {
		t.Errorf("confirmed note %q", n)
	}
	// The format older slots wrote is still read.
	os.WriteFile(path, []byte(`{"state":"confirmed","version":"1.4.2","at":"2026-11-01T08:00:00Z","reported":true}`+"\n"), 0o644)
	if got, err := ReadStatus(path); err != nil || got.State != StatusConfirmed || !got.Reported {
		t.Fatalf("older status: %+v, %v", got, err)
	}
	os.WriteFile(path, []byte("{not json"), 0o644)
	if _, err := ReadStatus(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt status: %v, want an error naming the file", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left beside the status: %v", entries)
	}
}
