package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeygenBundleSignVerify(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "test-only")
	var out bytes.Buffer
	if err := run([]string{"keygen", "-o", prefix}, &out); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"keygen", "-o", prefix}, &out); err == nil {
		t.Fatal("keygen overwrote a key")
	}
	rootfs := filepath.Join(dir, "rootfs.squashfs")
	os.WriteFile(rootfs, bytes.Repeat([]byte("x"), 10000), 0o644)
	tbx := filepath.Join(dir, "tillbox-qemu-virt-1.2.0.tbx")
	if err := run([]string{"bundle", "-key", prefix + ".key", "-board", "qemu-virt", "-version", "1.2.0", "-rootfs", rootfs, "-o", tbx}, &out); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"sign", "-key", prefix + ".key", rootfs}, &out); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"verify", "-pub", prefix + ".pub", tbx, rootfs}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "OK, board qemu-virt version 1.2.0") {
		t.Fatalf("output:\n%s", out.String())
	}
	os.WriteFile(rootfs, bytes.Repeat([]byte("y"), 10000), 0o644)
	if err := run([]string{"verify", "-pub", prefix + ".pub", rootfs}, &out); err == nil {
		t.Fatal("a changed file verified")
	}
}
