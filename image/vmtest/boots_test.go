package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tillbox/image/spec"
)

// TestVMBoots times boots of built images (make image RAW=1), several of each, taken in
// turn so that a loaded machine slows each image alike (TILLBOX_VMTEST=boots, through
// scripts/boottime.sh). TILLBOX_BOOT_IMAGES names them, NAME=DISK.img[+BUNDLE.tbx] separated by
// spaces; the bundle, a newer version signed with the image's key, makes a try boot of
// each too. TILLBOX_BOOTS is how many normal boots of each (default 5), TILLBOX_TRY_BOOTS
// how many try boots (default 3). TILLBOX_BOOT_CMDLINE_NAME adds to an image's kernel
// command line (its grub.cfg on the boot partition), for trying a setting without a build.
//
// Each image boots once on its own copy (the first boot: the till's identity and ledger
// are made), is cut 8 s after READY, and its data partition is checked on the host, so
// that every timed boot starts from the same clean disk (qemu -snapshot: nothing a timed
// boot writes is kept). With a bundle, a second copy is updated from the stick; its timed
// boots are the update's try. Every boot's phases are printed, then min/median/max per
// phase and image, and each image's medians over the first's.
func TestVMBoots(t *testing.T) {
	if os.Getenv("TILLBOX_VMTEST") != "boots" {
		t.Skip("set TILLBOX_VMTEST=boots and TILLBOX_BOOT_IMAGES (scripts/boottime.sh)")
	}
	type image struct {
		name, disk, bundle string
		tryDisk            string
	}
	var images []image
	for _, f := range strings.Fields(os.Getenv("TILLBOX_BOOT_IMAGES")) {
		name, paths, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("TILLBOX_BOOT_IMAGES: %q is not NAME=DISK[+BUNDLE]", f)
		}
		disk, bundle, _ := strings.Cut(paths, "+")
		images = append(images, image{name: name, disk: disk, bundle: bundle})
	}
	if len(images) == 0 {
		t.Fatal("TILLBOX_BOOT_IMAGES names no image")
	}
	count := func(env string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(env)); err == nil && n >= 0 {
			return n
		}
		return def
	}
	boots, tries := count("TILLBOX_BOOTS", 5), count("TILLBOX_TRY_BOOTS", 3)
	r := newBox(t)

	for i := range images {
		im := &images[i]
		d := filepath.Join(r.dir, im.name+".img")
		if err := exec.Command("cp", "--sparse=always", im.disk, d).Run(); err != nil {
			t.Fatalf("copy %s: %v", im.disk, err)
		}
		im.disk = d
		if extra := os.Getenv("TILLBOX_BOOT_CMDLINE_" + im.name); extra != "" {
			addCmdline(t, d, extra)
		}
		r.disk = d
		// The rig's head office and NTP server, not what the image was built with (a
		// broker on the host's 1883 may be anyone's).
		r.replaceDataFile("tillbox/config.json", string(r.config))
		r.dataFile("tillbox/network.json", fmt.Sprintf(`{"ntp":["10.0.2.2:%d"]}`+"\n", r.ntp.Port()))
		started := r.boot("")
		r.ready(r.booted, started, im.name+": first boot")
		time.Sleep(8 * time.Second)
		r.kill()
		r.fsckData()
		if im.bundle == "" || tries == 0 {
			continue
		}
		im.tryDisk = filepath.Join(r.dir, im.name+"-try.img")
		if err := exec.Command("cp", "--sparse=always", d, im.tryDisk).Run(); err != nil {
			t.Fatal(err)
		}
		r.disk = im.tryDisk
		r.boot(padded(t, im.bundle, r.dir))
		r.con.waitText(r.booted, 120*time.Second, "written to slot B")
		r.waitOff(60 * time.Second)
		r.fsckData()
	}

	type boot struct {
		image  string
		try    bool
		phases map[string]float64
		order  []string
	}
	var all []boot
	one := func(im image, try bool) {
		r.disk, r.snapshot = im.disk, true
		if try {
			r.disk = im.tryDisk
		}
		defer func() { r.snapshot = false }()
		started := r.boot("")
		what := im.name
		if try {
			what += " try"
		}
		line, n := r.readyLine(r.booted, started, what)
		cpu := procCPU(r.qemu.Process.Pid)
		b := boot{image: im.name, try: try, phases: map[string]float64{}}
		add := func(k string, v float64) {
			b.phases[k] = v
			b.order = append(b.order, k)
		}
		if fw, ld, k, in, ok := r.con.phases(r.booted, n, started); ok {
			add("qemu to READY", time.Since(started).Seconds())
			add("qemu's CPU to READY", cpu.Seconds())
			add("firmware and GRUB", fw.Seconds())
			add("loading kernel", ld.Seconds())
			add("kernel", k.Seconds())
			add("init to READY", in.Seconds())
			add("kernel to READY", k.Seconds()+in.Seconds())
		}
		if try && !strings.Contains(line, "(try)") {
			t.Fatalf("%s: not a try: %s", what, line)
		}
		if l, _ := r.con.lastBefore(r.booted, n, "tillbox-init: boot phases: "); l != "" {
			for _, f := range strings.Split(strings.TrimPrefix(l[strings.Index(l, "boot phases: "):], "boot phases: "), ", ") {
				i := strings.LastIndex(f, " ")
				if s, err := strconv.ParseFloat(strings.TrimSuffix(f[i+1:], "s"), 64); i > 0 && err == nil {
					add("init: "+f[:i], s)
				}
			}
		}
		r.kill()
		all = append(all, b)
	}
	for i := 0; i < boots; i++ {
		for _, im := range images {
			one(im, false)
		}
	}
	for i := 0; i < tries; i++ {
		for _, im := range images {
			if im.tryDisk != "" {
				one(im, true)
			}
		}
	}

	// The summary: min/median/max of each phase, per image and kind of boot.
	med := map[string]float64{}
	for _, try := range []bool{false, true} {
		for _, im := range images {
			var bs []boot
			for _, b := range all {
				if b.image == im.name && b.try == try {
					bs = append(bs, b)
				}
			}
			if len(bs) == 0 {
				continue
			}
			kind := "normal"
			if try {
				kind = "try"
			}
			t.Logf("%s, %s boots (%d): min / median / max", im.name, kind, len(bs))
			for _, k := range bs[0].order {
				var v []float64
				for _, b := range bs {
					if x, ok := b.phases[k]; ok {
						v = append(v, x)
					}
				}
				slices.Sort(v)
				m := v[len(v)/2]
				if len(v)%2 == 0 {
					m = (v[len(v)/2-1] + v[len(v)/2]) / 2
				}
				key := kind + "/" + k
				ratio := ""
				if base, ok := med[key]; ok && base > 0 {
					ratio = fmt.Sprintf("   %.2fx %s", m/base, images[0].name)
				} else if im.name == images[0].name {
					med[key] = m
				}
				t.Logf("  %-28s %6.2f %6.2f %6.2f s%s", k, v[0], m, v[len(v)-1], ratio)
			}
		}
	}
}

// addCmdline appends extra to the kernel command line in the disk's grub.cfg.
func addCmdline(t *testing.T, disk, extra string) {
	t.Helper()
	part := disk + "@@1048576"
	out, err := exec.Command("mtype", "-i", part, "::/EFI/BOOT/grub.cfg").Output()
	if err != nil {
		t.Fatalf("read grub.cfg: %v", err)
	}
	cfg := strings.Replace(string(out), " tillbox.slot=", " "+extra+" tillbox.slot=", 1)
	f := disk + ".grub.cfg"
	os.WriteFile(f, []byte(cfg), 0o644)
	if out, err := exec.Command("mcopy", "-o", "-i", part, f, "::/EFI/BOOT/grub.cfg").CombinedOutput(); err != nil {
		t.Fatalf("write grub.cfg: %v\n%s", err, out)
	}
	t.Logf("%s: kernel command line + %q", filepath.Base(disk), extra)
}

// padded copies a bundle as an update stick image (whole sectors).
func padded(t *testing.T, bundle, dir string) string {
	t.Helper()
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, make([]byte, (512-len(b)%512)%512)...)
	p := filepath.Join(dir, "stick-"+filepath.Base(bundle))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fsckData replays the data partition's journal and checks it (qemu stopped), so that the
// next boot finds it clean.
func (r *box) fsckData() {
	r.t.Helper()
	r.onDataPartition(nil)
}

// procCPU is the process's CPU time so far, user and system (/proc/PID/stat; USER_HZ 100).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ")")+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

// replaceDataFile removes name from the data partition, then writes it (dataFile).
func (r *box) replaceDataFile(name, content string) {
	r.t.Helper()
	sp, _ := spec.ForBoard("qemu-virt")
	off := int64(1+sp.BootMiB+2*sp.SlotMiB) << 20
	part := filepath.Join(r.dir, "data-part.img")
	if out, err := exec.Command("dd", "if="+r.disk, "of="+part, "bs=1M", fmt.Sprintf("skip=%d", off>>20),
		fmt.Sprintf("count=%d", sp.DataMiB), "status=none").CombinedOutput(); err != nil {
		r.t.Fatalf("dd: %v\n%s", err, out)
	}
	c := exec.Command("debugfs", "-w", "-R", "rm /"+name, part)
	if out, err := c.CombinedOutput(); err != nil {
		r.t.Fatalf("debugfs rm %s: %v\n%s", name, err, out)
	}
	if out, err := exec.Command("dd", "if="+part, "of="+r.disk, "bs=1M", fmt.Sprintf("seek=%d", off>>20),
		"conv=notrunc", "status=none").CombinedOutput(); err != nil {
		r.t.Fatalf("dd: %v\n%s", err, out)
	}
	os.Remove(part)
	r.dataFile(name, content)
}
