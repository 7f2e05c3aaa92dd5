package build

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tillbox/image/rpiboot"
	"tillbox/image/spec"
)

// cacheDir is where scripts/image-fetch.sh left the kernel and firmware. The image tests
// run under make test-image (part of make test), which fetches them first and sets
// TILLBOX_IMAGE_TEST=1; a plain go test skips them.
func cacheDir(t *testing.T) string {
	t.Helper()
	if os.Getenv("TILLBOX_IMAGE_TEST") != "1" {
		t.Skip("the image tests run under make test-image (TILLBOX_IMAGE_TEST=1)")
	}
	c := os.Getenv("TILLBOX_IMAGE_CACHE")
	if c == "" {
		c = filepath.Join("..", "..", ".cache", "image")
	}
	for _, f := range []string{"kernel/Image", "rpi/start4.elf", "kernel/dtbs/broadcom/bcm2711-rpi-4-b.dtb"} {
		if _, err := os.Stat(filepath.Join(c, f)); err != nil {
			t.Skipf("no %s in %s: run scripts/image-fetch.sh (make test-image does)", f, c)
		}
	}
	return c
}

// builtPi builds an rpi4 disk with the real stage-1 init; tillbox is a stand-in file.
func builtPi(t *testing.T) (Options, spec.Spec, string) {
	t.Helper()
	cache := cacheDir(t)
	w := t.TempDir()
	o := Options{Board: "rpi4", Version: "0.1.7", Cache: cache, Work: w,
		Init: filepath.Join(w, "init"), Tillbox: filepath.Join(w, "tillbox"), Keys: filepath.Join(w, "update.pub")}
	c := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", o.Init, "../init")
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("build init: %v\n%s", err, b)
	}
	os.WriteFile(o.Tillbox, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(o.Keys, []byte("tillbox-ed25519 test\n"), 0o644)
	rootfs := filepath.Join(w, "rootfs.squashfs")
	if err := Rootfs(o, rootfs); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(w, "disk.img")
	if err := Disk(o, rootfs, []byte(`{"board":"rpi4"}`), img); err != nil {
		t.Fatal(err)
	}
	sp, _ := spec.ForBoard("rpi4")
	return o, sp, img
}

type mbrPart struct {
	boot        bool
	typ         byte
	start, size int64 // bytes
}

func readMBR(t *testing.T, img []byte) []mbrPart {
	t.Helper()
	if len(img) < 512 || img[510] != 0x55 || img[511] != 0xaa {
		t.Fatal("no MBR signature")
	}
	var ps []mbrPart
	for i := 0; i < 4; i++ {
		e := img[446+16*i : 446+16*(i+1)]
		ps = append(ps, mbrPart{boot: e[0] == 0x80, typ: e[4],
			start: int64(binary.LittleEndian.Uint32(e[8:])) * 512, size: int64(binary.LittleEndian.Uint32(e[12:])) * 512})
	}
	return ps
}

// fdtStrings returns the device tree's properties name -> values, over all nodes (a
// flattened device tree: header, structure block, strings block).
func fdtStrings(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	be := binary.BigEndian
	if len(b) < 40 || be.Uint32(b) != 0xd00dfeed {
		t.Fatal("not a flattened device tree")
	}
	off, strOff := be.Uint32(b[8:]), be.Uint32(b[12:])
	props := map[string][]string{}
	p := int(off)
	for p+4 <= len(b) {
		tok := be.Uint32(b[p:])
		p += 4
		switch tok {
		case 1: // begin node: name, NUL, padded
			n := bytes.IndexByte(b[p:], 0)
			p += (n + 4) &^ 3
		case 3: // property: len, nameoff, value padded
			l, no := int(be.Uint32(b[p:])), int(be.Uint32(b[p+4:]))
			p += 8
			name := string(b[int(strOff)+no : int(strOff)+no+bytes.IndexByte(b[int(strOff)+no:], 0)])
			for _, v := range bytes.Split(bytes.TrimRight(b[p:p+l], "\x00"), []byte{0}) {
				props[name] = append(props[name], string(v))
			}
			p += (l + 3) &^ 3
		case 2, 4:
		case 9:
			return props
		default:
			t.Fatalf("device tree token %d at %d", tok, p-4)
		}
	}
	t.Fatal("device tree without an end")
	return nil
}

// cpioFiles reads a newc archive.
func cpioFiles(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for p := 0; p+110 <= len(b); {
		if string(b[p:p+6]) != "070701" {
			t.Fatalf("cpio: bad magic at %d", p)
		}
		field := func(i int) int {
			v, _ := strconv.ParseUint(string(b[p+6+8*i:p+14+8*i]), 16, 32)
			return int(v)
		}
		size, nameLen := field(6), field(11)
		name := string(b[p+110 : p+110+nameLen-1])
		p = (p + 110 + nameLen + 3) &^ 3
		if name == "TRAILER!!!" {
			return files
		}
		files[name] = b[p : p+size]
		p = (p + size + 3) &^ 3
	}
	t.Fatal("cpio without a trailer")
	return nil
}

// TestPiImageConsistent builds the rpi4 disk and checks it against the board's spec: the
// partition table, the boot files the firmware needs, the tryboot configuration for both
// states of the flag, the device trees, and the initrd's modules and spec.
func TestPiImageConsistent(t *testing.T) {
	o, sp, img := builtPi(t)
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	const mib = 1 << 20
	parts := readMBR(t, raw)
	want := []struct {
		typ byte
		mib int
	}{{0x0c, sp.BootMiB}, {0x83, sp.SlotMiB}, {0x83, sp.SlotMiB}, {0x83, sp.DataMiB}}
	off := int64(mib)
	for i, p := range parts {
		if p.typ != want[i].typ || p.start != off || p.size != int64(want[i].mib)*mib || p.boot != (i == 0) {
			t.Fatalf("partition %d: %+v, want type %#x at %d, %d MiB", i+1, p, want[i].typ, off, want[i].mib)
		}
		off += p.size
	}
	if string(raw[parts[1].start:parts[1].start+4]) != "hsqs" {
		t.Fatal("slot A holds no squashfs")
	}
	if string(raw[parts[3].start+0x438:parts[3].start+0x43a]) != "\x53\xef" {
		t.Fatal("the data partition is not ext4")
	}

	// The boot partition's files, as the firmware sees them.
	bootImg := filepath.Join(o.Work, "boot-check.img")
	os.WriteFile(bootImg, raw[parts[0].start:parts[0].start+parts[0].size], 0o644)
	dir := filepath.Join(o.Work, "boot-check")
	os.MkdirAll(dir, 0o755)
	if b, err := exec.Command("mcopy", "-s", "-n", "-i", bootImg, "::/", dir).CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v: %s", err, b)
	}
	for _, f := range []string{"start4.elf", "fixup4.dat", "config.txt", "tryboot.txt", "a/Image", "a/initrd.gz", "a/cmdline.txt", "a/cmdline-try.txt"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Fatalf("boot partition: %s missing or empty (%v)", f, err)
		}
	}
	st, err := rpiboot.Read(dir)
	if err != nil || st != (rpiboot.State{Active: "A", ActiveVersion: o.Version}) {
		t.Fatalf("boot state %+v, %v", st, err)
	}
	kernel, _ := os.ReadFile(filepath.Join(o.Cache, "kernel", "Image"))
	for _, flag := range []bool{false, true} {
		b, err := rpiboot.Resolve(dir, flag)
		if err != nil {
			t.Fatal(err)
		}
		slot, try := b.Slot()
		if slot != "A" || try || !strings.Contains(b.Args, sp.Cmdline) {
			t.Fatalf("tryboot=%v: %s boots slot %s try=%v with %q", flag, b.File, slot, try, b.Args)
		}
		if k, _ := os.ReadFile(filepath.Join(dir, b.Kernel)); !bytes.Equal(k, kernel) {
			t.Fatalf("%s's kernel is not the kernel package's", b.File)
		}
	}
	t.Logf("kernel passes the tryboot flag on reboot: %v (the Raspberry Pi kernel does; mainline does not)", bytes.Contains(kernel, []byte(" tryboot")))

	// Device trees: the boards the firmware picks them for, and the devices the spec uses.
	for name, model := range map[string]string{"bcm2711-rpi-4-b.dtb": "raspberrypi,4-model-b", "bcm2711-rpi-cm4.dtb": "raspberrypi,4-compute-module", "bcm2711-rpi-400.dtb": "raspberrypi,400"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("device tree %s: %v", name, err)
		}
		compat := strings.Join(fdtStrings(t, b)["compatible"], " ")
		for _, c := range []string{model, "brcm,bcm2711", "brcm,bcm2711-gpio", "brcm,bcm2835-pm", "brcm,bcm2835-i2c", "brcm,bcm2711-emmc2", "brcm,bcm2711-pcie"} {
			if !strings.Contains(compat, c) {
				t.Errorf("%s has no %q node", name, c)
			}
		}
	}

	// The initrd: the init, the spec as built, each module once after its dependencies.
	ib, _ := os.ReadFile(filepath.Join(dir, "a", "initrd.gz"))
	zr, err := gzip.NewReader(bytes.NewReader(ib))
	if err != nil {
		t.Fatal(err)
	}
	files := cpioFiles(t, zr)
	if len(files["init"]) < 1<<20 {
		t.Fatal("initrd without the init")
	}
	var got spec.Spec
	if err := json.Unmarshal(files["etc/tillbox/image.json"], &got); err != nil {
		t.Fatal(err)
	}
	if got.Board != "rpi4" || got.BootLoader != spec.BootTryboot || got.Version != o.Version || got.Boot != sp.Boot || len(got.Links) != len(sp.Links) {
		t.Fatalf("initrd spec %+v", got)
	}
	km, err := readModules(filepath.Join(o.Cache, "kernel", "modules"))
	if err != nil {
		t.Fatal(err)
	}
	loaded := map[string]bool{}
	for _, m := range got.Modules {
		if files["lib/modules/"+m+".ko"] == nil {
			t.Fatalf("module %s in the spec but not in the initrd", m)
		}
		deps, _ := depends(km.files[m])
		for _, d := range deps {
			if !loaded[d] && !km.builtin[d] {
				t.Fatalf("module %s loads before its dependency %s", m, d)
			}
		}
		loaded[m] = true
	}
	for _, m := range sp.Modules {
		if !loaded[modName(m)] {
			t.Errorf("board module %s not loaded", m)
		}
	}
	t.Logf("%d MiB disk, %d modules (%d asked for), %d files in the initrd", len(raw)>>20, len(got.Modules), len(sp.Modules), len(files))

	t.Run("qemu", func(t *testing.T) { bootUnderQemu(t, o, dir, got) })
}

// bootUnderQemu boots the boot partition's kernel and initrd until the init has said who
// it is and loaded every module: on qemu's raspi4b machine with the Pi 4's device tree
// where qemu has it (9.0 on), else on raspi3b, the nearest machine, with the Pi 3's.
func bootUnderQemu(t *testing.T, o Options, dir string, sp spec.Spec) {
	if _, err := exec.LookPath("qemu-system-aarch64"); err != nil {
		t.Skip("qemu-system-aarch64 not installed")
	}
	machines, _ := exec.Command("qemu-system-aarch64", "-M", "help").Output()
	machine, dtb := "raspi3b", filepath.Join(o.Cache, "kernel", "dtbs", "broadcom", "bcm2837-rpi-3-b.dtb")
	if bytes.Contains(machines, []byte("raspi4b")) {
		machine, dtb = "raspi4b", filepath.Join(dir, "bcm2711-rpi-4-b.dtb")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "qemu-system-aarch64", "-M", machine, "-m", "1G", "-nographic", "-no-reboot",
		"-kernel", filepath.Join(dir, "a", rpiboot.Kernel), "-dtb", dtb, "-initrd", filepath.Join(dir, "a", rpiboot.Initrd),
		"-append", "console=ttyAMA0 panic=-1 tillbox.slot=A", "-serial", "stdio", "-monitor", "none")
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); c.Wait() }()
	first := "tillbox-init: tillbox " + sp.Version + " on rpi4, slot A"
	// The init loads the slot's modules, then the rest while the slot mounts: two lines
	// "N modules loaded", whose counts add up to the spec's (the late ones are "N late
	// modules").
	var seen []string
	loaded := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(l, "tillbox-init: ") {
			continue
		}
		seen = append(seen, l)
		if strings.HasPrefix(l, "tillbox-init: module ") {
			t.Errorf("under %s: %s", machine, l)
		}
		var n int
		if _, err := fmt.Sscanf(l, "tillbox-init: %d modules loaded", &n); err == nil {
			loaded += n
		}
		if loaded == len(sp.Modules) {
			if !strings.HasPrefix(seen[0], first) {
				t.Fatalf("under %s the init's first line is %q, want %q...", machine, seen[0], first)
			}
			t.Logf("qemu %s: %q and %q %.1fs after qemu started", machine, seen[0], l, time.Since(start).Seconds())
			return
		}
	}
	t.Fatalf("qemu %s stopped before the init loaded its modules; init lines: %q", machine, seen)
}
