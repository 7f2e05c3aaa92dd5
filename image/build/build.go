package build

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"tillbox/image/grubenv"
	"tillbox/image/rpiboot"
	"tillbox/image/spec"
	"tillbox/image/update"
)

// Options say what goes into a slot.
type Options struct {
	Board   string
	Version string
	// Cache is where scripts/image-fetch.sh left kernel/ and grub/.
	Cache string
	// Init and Tillbox are the arm64 binaries of the stage-1 init and of tillbox.
	Init, Tillbox string
	// Keys is the trusted update keys' public key file, baked into the slot.
	Keys string
	// Work is a scratch directory.
	Work string
}

func (o Options) spec() (spec.Spec, error) {
	sp, err := spec.ForBoard(o.Board)
	if err != nil {
		return sp, err
	}
	sp.Version = o.Version
	return sp, nil
}

func run(name string, args ...string) error {
	var out bytes.Buffer
	c := exec.Command(name, args...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return fmt.Errorf("build: %s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Initrd writes the initrd: the stage-1 init as /init, the board's modules and the spec as
// /etc/tillbox/image.json. On a GRUB board it is not compressed (the kernel tells by its
// first bytes; the name stays initrd.gz, which the boot partition's grub.cfg names): it sits
// in the slot's LZO squashfs, whose reader in GRUB decompresses it faster than the kernel
// unpacks gzip, which took 0.3-0.4 s of a quiet boot under qemu. The Pi's firmware reads it
// from the FAT boot partition as it is, so there it is gzip'd.
func Initrd(o Options, out string) error {
	sp, err := o.spec()
	if err != nil {
		return err
	}
	initBin, err := os.ReadFile(o.Init)
	if err != nil {
		return fmt.Errorf("build: initrd: %w", err)
	}
	km, err := readModules(filepath.Join(o.Cache, "kernel", "modules"))
	if err != nil {
		return err
	}
	if sp.Modules, err = km.resolve(sp.Modules); err != nil {
		return err
	}
	if sp.LateModules, err = km.resolve(sp.LateModules); err != nil {
		return err
	}
	sp.LateModules = slices.DeleteFunc(sp.LateModules, func(m string) bool { return slices.Contains(sp.Modules, m) })
	specJSON, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return fmt.Errorf("build: initrd: %w", err)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("build: initrd: %w", err)
	}
	defer f.Close()
	w := io.WriteCloser(nopCloser{f})
	if sp.BootLoader == spec.BootTryboot {
		w, _ = gzip.NewWriterLevel(f, gzip.BestCompression)
	}
	c := &cpioWriter{w: w}
	for _, d := range []string{"dev", "proc", "sys", "run", "etc", "etc/tillbox", "lib", "lib/modules", "slot", "boot", "data", "tmp"} {
		c.dir(d)
	}
	c.chr("dev/console", 5, 1)
	c.file("init", 0o755, initBin)
	c.file("etc/tillbox/image.json", 0o644, append(specJSON, '\n'))
	for _, m := range append(slices.Clone(sp.Modules), sp.LateModules...) {
		b, err := os.ReadFile(km.files[m])
		if err != nil {
			return fmt.Errorf("build: initrd: %w", err)
		}
		if b, err = stripSignature(b); err != nil {
			return fmt.Errorf("build: initrd: %s: %w", m, err)
		}
		c.file("lib/modules/"+m+".ko", 0o644, b)
	}
	if err := c.close(); err != nil {
		return fmt.Errorf("build: initrd: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("build: initrd: %w", err)
	}
	return f.Close()
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Rootfs writes a slot's squashfs image to out, LZO-compressed: of the codecs GRUB's
// squashfs reader has (zlib, LZO, xz), LZO reads the 33 MB kernel in a third of zlib's
// time under qemu (0.8-0.9 s against 2.3-3.4 s), for a tenth more bytes. The till's binary
// is stored uncompressed: its page faults at the till's start then read it as it is,
// where each touched 128 KiB block had to be decompressed whole, or the whole file read
// ahead at boot, beside the rest of the start (0.8 s of CPU under qemu). It makes the
// slot and the update bundle 7 MB bigger.
func Rootfs(o Options, out string) error {
	dir := filepath.Join(o.Work, "rootfs")
	os.RemoveAll(dir)
	for _, d := range []string{"boot", "bin", "etc/tillbox"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("build: rootfs: %w", err)
		}
	}
	if err := Initrd(o, filepath.Join(dir, "boot", "initrd.gz")); err != nil {
		return err
	}
	for src, dst := range map[string]string{
		filepath.Join(o.Cache, "kernel", "Image"): "boot/vmlinuz",
		o.Tillbox: "bin/tillbox",
		o.Keys:    "etc/tillbox/update.pub",
	} {
		if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(dir, "bin/tillbox"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "etc/tillbox/version"), []byte(o.Version+"\n"), 0o644); err != nil {
		return fmt.Errorf("build: rootfs: %w", err)
	}
	os.Remove(out)
	return run("mksquashfs", dir, out, "-noappend", "-all-root", "-comp", "lzo", "-no-progress", "-quiet",
		"-action", "uncompressed@name(tillbox)")
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("build: copy %s: %w", src, err)
	}
	return out.Close()
}

// grubCfg is GRUB's boot logic; it mirrors update.Slots.Choose: consume a pending try and
// boot the slot on try, else the active slot. It reads the boot state from /grubenv, or
// from its spare /grubenv.new when a power cut left /grubenv unreadable (the init then
// rewrites /grubenv from the spare).
const grubCfg = `set timeout=0
insmod part_gpt
insmod fat
insmod squash4
insmod loadenv
insmod linux
insmod gzio
insmod test
set envfile=/grubenv.new
if load_env -f /grubenv tillbox_active tillbox_next tillbox_try; then set envfile=/grubenv; fi
if [ "$envfile" = "/grubenv.new" ]; then load_env -f /grubenv.new tillbox_active tillbox_next tillbox_try; fi
set slot="$tillbox_active"
set trying=0
if [ "$tillbox_try" = "1" ]; then
  if [ -n "$tillbox_next" ]; then
    set tillbox_try=0
    save_env -f $envfile tillbox_try
    set slot="$tillbox_next"
    set trying=1
  fi
fi
if [ "$slot" = "B" ]; then set part=gpt3; else set part=gpt2; fi
echo "tillbox: booting slot $slot (try $trying)"
linux (hd0,$part)/boot/vmlinuz CMDLINE tillbox.slot=$slot tillbox.trying=$trying
initrd (hd0,$part)/boot/initrd.gz
boot
`

// grubBoot writes the boot partition of an EFI board: GRUB as the removable-media
// loader, its script and the environment block.
func grubBoot(o Options, sp spec.Spec, boot string) error {
	w := o.Work
	// GRUB for arm64 EFI, as the removable-media path the firmware looks for.
	efi := filepath.Join(w, "BOOTAA64.EFI")
	if err := run("grub-mkimage", "-O", "arm64-efi", "-d", filepath.Join(o.Cache, "grub", "arm64-efi"), "-p", "/EFI/BOOT", "-o", efi,
		"part_gpt", "fat", "squash4", "normal", "linux", "loadenv", "test", "echo", "configfile", "gzio", "boot"); err != nil {
		return err
	}
	cfg := filepath.Join(w, "grub.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Replace(grubCfg, "CMDLINE", sp.Cmdline, 1)), 0o644); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	env := filepath.Join(w, "grubenv")
	os.Remove(env)
	os.Remove(env + grubenv.SpareSuffix)
	if err := (&update.Slots{Env: env}).Init(o.Version); err != nil {
		return err
	}
	if _, err := grubenv.Read(env); err != nil {
		return err
	}
	if err := run("mkfs.vfat", "-C", "-n", "BOOT", boot, fmt.Sprint(sp.BootMiB*1024)); err != nil {
		return err
	}
	if err := run("mmd", "-i", boot, "::/EFI", "::/EFI/BOOT"); err != nil {
		return err
	}
	for src, dst := range map[string]string{efi: "::/EFI/BOOT/BOOTAA64.EFI", cfg: "::/EFI/BOOT/grub.cfg", env: "::/grubenv",
		env + grubenv.SpareSuffix: "::/grubenv" + grubenv.SpareSuffix} {
		if err := run("mcopy", "-i", boot, src, dst); err != nil {
			return err
		}
	}
	return nil
}

// Disk writes a raw disk image: the boot partition (GPT with GRUB, grub.cfg and grubenv;
// or, for the Pi, MBR with its firmware, config.txt, tryboot.txt and slot A's kernel),
// slot A holding rootfs, an empty slot B, and the data partition with config as
// tillbox/config.json.
func Disk(o Options, rootfs string, config []byte, out string) error {
	sp, err := o.spec()
	if err != nil {
		return err
	}
	w := o.Work
	const mib = 1 << 20
	boot := filepath.Join(w, "boot.img")
	os.Remove(boot)
	if sp.BootLoader == spec.BootTryboot {
		err = piBoot(o, sp, boot)
	} else {
		err = grubBoot(o, sp, boot)
	}
	if err != nil {
		return err
	}
	// The data partition, made from a directory.
	dd := filepath.Join(w, "data")
	os.RemoveAll(dd)
	if err := os.MkdirAll(filepath.Join(dd, "tillbox"), 0o700); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dd, "tillbox", "config.json"), config, 0o600); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	data := filepath.Join(w, "data.img")
	os.Remove(data)
	if err := run("mkfs.ext4", "-q", "-F", "-L", "data", "-d", dd, data, fmt.Sprintf("%dM", sp.DataMiB)); err != nil {
		return err
	}
	if fi, err := os.Stat(rootfs); err != nil {
		return fmt.Errorf("build: %w", err)
	} else if fi.Size() > int64(sp.SlotMiB)*mib {
		return fmt.Errorf("build: rootfs %d bytes does not fit a %d MiB slot", fi.Size(), sp.SlotMiB)
	}

	// Partitions start at 1 MiB and follow each other; 1 MiB at the end for the backup GPT.
	type part struct {
		name, typ, file string
		mib             int
	}
	parts := []part{
		{"boot", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", boot, sp.BootMiB},
		{"slot-a", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", rootfs, sp.SlotMiB},
		{"slot-b", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "", sp.SlotMiB},
		{"data", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", data, sp.DataMiB},
	}
	label := "gpt"
	if sp.BootLoader == spec.BootTryboot {
		// The Pi's firmware reads an MBR on every EEPROM version: FAT32 (LBA) and Linux.
		label = "dos"
		parts[0].typ = "c"
		for i := 1; i < len(parts); i++ {
			parts[i].typ = "83"
		}
	}
	total := 2
	for _, p := range parts {
		total += p.mib
	}
	os.Remove(out)
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(int64(total) * mib); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	var script strings.Builder
	fmt.Fprintf(&script, "label: %s\nunit: sectors\n", label)
	off := 1
	for i, p := range parts {
		if label == "gpt" {
			fmt.Fprintf(&script, "start=%d, size=%d, type=%s, name=%q\n", off*mib/512, p.mib*mib/512, p.typ, p.name)
		} else {
			boot := ""
			if i == 0 {
				boot = ", bootable"
			}
			fmt.Fprintf(&script, "start=%d, size=%d, type=%s%s\n", off*mib/512, p.mib*mib/512, p.typ, boot)
		}
		off += p.mib
	}
	c := exec.Command("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", out)
	c.Stdin = strings.NewReader(script.String())
	if b, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("build: sfdisk: %w: %s", err, b)
	}
	off = 1
	for _, p := range parts {
		if p.file != "" {
			in, err := os.Open(p.file)
			if err != nil {
				return fmt.Errorf("build: %w", err)
			}
			_, err = io.Copy(io.NewOffsetWriter(f, int64(off)*mib), in)
			in.Close()
			if err != nil {
				return fmt.Errorf("build: write %s: %w", p.name, err)
			}
		}
		off += p.mib
	}
	return f.Close()
}

// piBoot writes the boot partition of a Raspberry Pi (FAT32): the firmware (start4.elf,
// fixup4.dat), the device trees it picks from by board, config.txt and tryboot.txt for
// slot A at o.Version, and slot A's kernel, initrd and command lines in a/.
func piBoot(o Options, sp spec.Spec, boot string) error {
	stage := filepath.Join(o.Work, "pi-boot")
	os.RemoveAll(stage)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	k, err := os.Open(filepath.Join(o.Work, "rootfs", "boot", "vmlinuz"))
	if err != nil {
		return fmt.Errorf("build: pi boot: %w", err)
	}
	defer k.Close()
	i, err := os.Open(filepath.Join(o.Work, "rootfs", "boot", "initrd.gz"))
	if err != nil {
		return fmt.Errorf("build: pi boot: %w", err)
	}
	defer i.Close()
	if err := rpiboot.InstallSlot(stage, update.SlotA, k, i, sp.Cmdline); err != nil {
		return err
	}
	if err := (&update.Slots{Tryboot: stage}).Init(o.Version); err != nil {
		return err
	}
	copies := map[string]string{}
	for _, f := range []string{"start4.elf", "fixup4.dat"} {
		copies[filepath.Join(o.Cache, "rpi", f)] = f
	}
	if _, err := os.Stat(filepath.Join(o.Cache, "rpi", "LICENCE.broadcom")); err == nil {
		copies[filepath.Join(o.Cache, "rpi", "LICENCE.broadcom")] = "LICENCE.broadcom"
	}
	for name, src := range sp.DTBs {
		copies[filepath.Join(o.Cache, "kernel", "dtbs", "broadcom", src)] = name
	}
	for src, dst := range copies {
		if err := copyFile(src, filepath.Join(stage, dst)); err != nil {
			return fmt.Errorf("%w (run scripts/image-fetch.sh)", err)
		}
	}
	if err := run("mkfs.vfat", "-F", "32", "-C", "-n", "BOOT", boot, fmt.Sprint(sp.BootMiB*1024)); err != nil {
		return err
	}
	entries, err := os.ReadDir(stage)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	args := []string{"-s", "-i", boot}
	for _, e := range entries {
		args = append(args, filepath.Join(stage, e.Name()))
	}
	return run("mcopy", append(args, "::/")...)
}
