package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tillbox/firmware/till"
	"tillbox/image/bundle"
	"tillbox/image/update"
	"tillbox/ledger"
	"tillbox/ledger/journal"
)

// updateBox lays out a box in a temp dir: slots as files, a boot state, a layout file, a
// config with its data directory, and a bundle signed by the box's trusted key.
func updateBox(t *testing.T, bundleVersion string) (dir, cfg, tbx string) {
	t.Helper()
	dir = t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "update.pub")
	os.WriteFile(keys, bundle.MarshalPublic(pub), 0o644)
	slots := update.Slots{A: filepath.Join(dir, "a"), B: filepath.Join(dir, "b"), Env: filepath.Join(dir, "grubenv")}
	os.WriteFile(slots.A, []byte("running rootfs"), 0o600)
	os.WriteFile(slots.B, nil, 0o600)
	if err := slots.Init("1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := update.WriteLayout(filepath.Join(dir, "layout.json"), update.Layout{Slots: slots, Booted: "A", Keys: keys, Board: "qemu-virt", Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"board":"qemu-virt","data":"`+filepath.Join(dir, "data")+`"}`), 0o644)
	rootfs := bytes.Repeat([]byte("new rootfs "), 1000)
	var b bytes.Buffer
	if _, err := bundle.Create(&b, bundle.Manifest{Board: "qemu-virt", Version: bundleVersion}, bytes.NewReader(rootfs), int64(len(rootfs)), priv); err != nil {
		t.Fatal(err)
	}
	tbx = filepath.Join(dir, "update.tbx")
	os.WriteFile(tbx, b.Bytes(), 0o644)
	return dir, cfg, tbx
}

func TestUpdateCommand(t *testing.T) {
	old := version
	version = "1.0.0"
	t.Cleanup(func() { version = old })

	t.Run("installs for one try", func(t *testing.T) {
		dir, cfg, tbx := updateBox(t, "1.1.0")
		var out bytes.Buffer
		if err := dispatch([]string{"update", "--layout", filepath.Join(dir, "layout.json"), "--config", cfg, tbx}, &out, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "1.1.0 written to slot B") {
			t.Fatalf("output: %s", out.String())
		}
		st, _ := (&update.Slots{Env: filepath.Join(dir, "grubenv")}).State()
		if st.Next != "B" || !st.Try {
			t.Fatalf("state %+v", st)
		}
	})
	t.Run("refuses a downgrade", func(t *testing.T) {
		dir, cfg, tbx := updateBox(t, "0.9.0")
		err := dispatch([]string{"update", "--layout", filepath.Join(dir, "layout.json"), "--config", cfg, tbx}, &bytes.Buffer{}, &bytes.Buffer{})
		if !errors.Is(err, update.ErrDowngrade) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses during an open sale, and reports go to the ledger", func(t *testing.T) {
		dir, cfg, tbx := updateBox(t, "1.1.0")
		data := filepath.Join(dir, "data")
		os.MkdirAll(data, 0o700)
		l, err := ledger.Open(ledgerFile(data), &ledger.Options{Store: "s001", Till: "t01"})
		if err != nil {
			t.Fatal(err)
		}
		l.Update(ledger.Put(till.BucketTill, till.KeyOpenSale, []byte(`{}`)))
		l.Close()
		err = dispatch([]string{"update", "--layout", filepath.Join(dir, "layout.json"), "--config", cfg, tbx}, &bytes.Buffer{}, &bytes.Buffer{})
		if !errors.Is(err, update.ErrOpenSale) {
			t.Fatalf("got %v", err)
		}
		var out bytes.Buffer
		if err := dispatch([]string{"update", "--config", cfg, "--report", "update 1.1.0 confirmed"}, &out, &out); err != nil {
			t.Fatal(err)
		}
		l, err = ledger.Open(ledgerFile(data), &ledger.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		last, _ := l.LastSeq()
		e, err := l.Get(last)
		if err != nil || e.Kind != journal.KindUpdate || e.Reason != "update 1.1.0 confirmed" {
			t.Fatalf("last entry %+v %v", e, err)
		}
	})
}
