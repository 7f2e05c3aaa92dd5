package rpiboot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The firmware's files on the boot partition, and what the init passes and reads.
const (
	ConfigFile  = "config.txt"
	TrybootFile = "tryboot.txt"
	// RebootArg is the reboot(2) LINUX_REBOOT_CMD_RESTART2 argument that asks the firmware
	// to read tryboot.txt once: partition 0 (the default) and the tryboot flag.
	RebootArg = "0 tryboot"
	// TrybootProperty, under /proc/device-tree, is a 32-bit big-endian 1 when the firmware
	// booted with the tryboot flag set (firmware and bootloader from 2021 on).
	TrybootProperty = "chosen/bootloader/tryboot"
	// TryArg is on the command line of a boot from tryboot.txt when it booted a try; it
	// stands in for TrybootProperty where the firmware does not set it.
	TryArg = "tillbox.trying=1"
	// Slot files, in the slot's directory ("a" or "b").
	Kernel     = "Image"
	Initrd     = "initrd.gz"
	Cmdline    = "cmdline.txt"
	CmdlineTry = "cmdline-try.txt"

	marker = "# tillbox:"
	endTag = "# tillbox: end"
)

// common are the firmware settings both files share: a 64-bit kernel, the mini UART as
// the console (the Bluetooth module keeps the PL011), no splash and no boot delay.
var common = []string{
	"arm_64bit=1",
	"enable_uart=1",
	"disable_splash=1",
	"boot_delay=0",
	"disable_overscan=1",
}

// State is the boot state the two files hold.
type State struct {
	// Active is the confirmed slot (config.txt), at ActiveVersion.
	Active, ActiveVersion string
	// Next is the slot offered for a try ("" none), at NextVersion.
	Next, NextVersion string
	// Pending: the try waits for its reboot (the init asks for it with RebootArg).
	Pending bool
	// Taken: the try is taken: config.txt itself boots the slot on try, once, so that the
	// try does not depend on the firmware's tryboot flag (which mainline kernels never
	// set). The try's init gives config.txt back to the confirmed slot (Consume) before
	// anything else it does on the boot partition.
	Taken bool
	// Failed is the last version whose try failed.
	Failed string
}

func validSlot(s string) bool { return s == "A" || s == "B" }

// SlotDir is a slot's directory on the boot partition.
func SlotDir(slot string) string { return strings.ToLower(slot) }

func body(slot string, try bool) string {
	d := SlotDir(slot)
	cmd := Cmdline
	if try {
		cmd = CmdlineTry
	}
	var b strings.Builder
	b.WriteString("[all]\n")
	for _, l := range common {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "kernel=%s/%s\ninitramfs %s/%s followkernel\ncmdline=%s/%s\n", d, Kernel, d, Initrd, d, cmd)
	return b.String()
}

func stateLine(kv ...string) string {
	var b strings.Builder
	b.WriteString(marker)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %s=%s", kv[i], kv[i+1])
	}
	return b.String() + "\n"
}

// ConfigText is config.txt for the confirmed slot at version.
func ConfigText(slot, version string) []byte {
	return []byte("# The confirmed slot; rewritten whole (a temporary file and a rename) to switch.\n" +
		stateLine("slot", slot, "version", version) + body(slot, false) + endTag + "\n")
}

// OneShotText is config.txt while a try is taken: it boots st.Next with the try's command
// line and keeps the confirmed slot and version for Consume.
func OneShotText(st State) []byte {
	return []byte("# The slot on try, booted once: its init gives this file back to the confirmed slot.\n" +
		stateLine("slot", st.Next, "version", st.NextVersion, "try", "1", "confirmed", st.Active, "confirmed_version", st.ActiveVersion) +
		body(st.Next, true) + endTag + "\n")
}

// TrybootText is tryboot.txt for st: the slot on try, or the confirmed slot when there is
// no try (a stray tryboot reboot then boots what a normal one would).
func TrybootText(st State) []byte {
	pending := "0"
	if st.Pending {
		pending = "1"
	}
	if st.Next == "" {
		return []byte("# No try: the confirmed slot.\n" +
			stateLine("slot", st.Active, "version", st.ActiveVersion, "try", "0", "pending", "0", "failed", st.Failed) +
			body(st.Active, false) + endTag + "\n")
	}
	return []byte("# The slot on try, read once after reboot \"0 tryboot\".\n" +
		stateLine("slot", st.Next, "version", st.NextVersion, "try", "1", "pending", pending, "failed", st.Failed) +
		body(st.Next, true) + endTag + "\n")
}

// parse returns the state line's fields and checks that b is whole.
func parse(name string, b []byte) (map[string]string, error) {
	s := string(b)
	if !strings.HasSuffix(s, endTag+"\n") {
		return nil, fmt.Errorf("rpiboot: %s: %w: no end line", name, ErrTorn)
	}
	var kv map[string]string
	for _, l := range strings.Split(s, "\n") {
		rest, ok := strings.CutPrefix(l, marker)
		if !ok || strings.TrimSpace(rest) == "end" {
			continue
		}
		if kv != nil {
			return nil, fmt.Errorf("rpiboot: %s: %w: two state lines", name, ErrTorn)
		}
		kv = map[string]string{}
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
	}
	if kv == nil || !validSlot(kv["slot"]) {
		return nil, fmt.Errorf("rpiboot: %s: %w: no state line", name, ErrTorn)
	}
	return kv, nil
}

// Read reads the boot state from the boot partition mounted at dir.
func Read(dir string) (State, error) {
	cb, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return State{}, fmt.Errorf("rpiboot: read: %w", err)
	}
	c, err := parse(ConfigFile, cb)
	if err != nil {
		return State{}, err
	}
	st := State{Active: c["slot"], ActiveVersion: c["version"]}
	if c["try"] == "1" {
		if !validSlot(c["confirmed"]) || c["confirmed"] == c["slot"] {
			return State{}, fmt.Errorf("rpiboot: %s: %w: a try of %s with confirmed slot %q", ConfigFile, ErrTorn, c["slot"], c["confirmed"])
		}
		st = State{Active: c["confirmed"], ActiveVersion: c["confirmed_version"], Next: c["slot"], NextVersion: c["version"], Taken: true}
	}
	tb, err := os.ReadFile(filepath.Join(dir, TrybootFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("rpiboot: read: %w", err)
	}
	t, err := parse(TrybootFile, tb)
	if err != nil {
		return st, err
	}
	st.Failed = t["failed"]
	if st.Taken {
		// config.txt says it all; tryboot.txt names the same try, pending or not.
		return st, nil
	}
	// A try of the confirmed slot is one whose Confirm stopped between the two files.
	if t["try"] == "1" && t["slot"] != st.Active {
		st.Next, st.NextVersion, st.Pending = t["slot"], t["version"], t["pending"] == "1"
	}
	return st, nil
}

// Init writes a fresh boot state into dir: slot A confirmed at version, no try.
func Init(dir, version string) error {
	return Write(dir, State{Active: "A", ActiveVersion: version})
}

// Write makes the files in dir hold st, config.txt first; a file that already holds
// what st gives is left alone.
func Write(dir string, st State) error {
	if !validSlot(st.Active) || (st.Next != "" && (!validSlot(st.Next) || st.Next == st.Active)) {
		return fmt.Errorf("rpiboot: write: %w: active %q next %q", ErrSlot, st.Active, st.Next)
	}
	config := ConfigText(st.Active, st.ActiveVersion)
	if st.Taken && st.Next != "" {
		config = OneShotText(st)
		st.Pending = false
	}
	if err := writeIfChanged(filepath.Join(dir, ConfigFile), config); err != nil {
		return err
	}
	return writeIfChanged(filepath.Join(dir, TrybootFile), TrybootText(st))
}

// Consume gives config.txt back to the confirmed slot when a taken try booted (the try's
// init calls it first): from then on a reset, a crash or a power cut boots the confirmed
// slot, and only Confirm names the tried one. It reports whether it rewrote config.txt.
func Consume(dir string) (bool, error) {
	st, err := Read(dir)
	if err != nil || !st.Taken {
		return false, err
	}
	st.Taken = false
	return true, Write(dir, st)
}

func writeIfChanged(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return WriteFile(path, b)
}

// WriteFile replaces path with b: a temporary file beside it, fsync, rename, fsync of the
// directory.
func WriteFile(path string, b []byte) error {
	return writeFrom(path, bytes.NewReader(b))
}

func writeFrom(path string, r io.Reader) error {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("rpiboot: write %s: %w", filepath.Base(path), err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("rpiboot: write %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("rpiboot: write %s: sync: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rpiboot: write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rpiboot: write %s: %w", filepath.Base(path), err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// InstallSlot copies a slot's kernel and initrd into its directory on the boot partition
// and writes its two command lines (cmdline, with the slot's name and, for the try one,
// TryArg). Call it before the slot is offered for a try: it changes nothing the
// firmware reads for the confirmed slot, which must not be slot.
func InstallSlot(dir, slot string, kernel, initrd io.Reader, cmdline string) error {
	if !validSlot(slot) {
		return fmt.Errorf("rpiboot: install slot: %w: %q", ErrSlot, slot)
	}
	sd := filepath.Join(dir, SlotDir(slot))
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return fmt.Errorf("rpiboot: install slot: %w", err)
	}
	if err := writeFrom(filepath.Join(sd, Kernel), kernel); err != nil {
		return err
	}
	if err := writeFrom(filepath.Join(sd, Initrd), initrd); err != nil {
		return err
	}
	line := strings.TrimSpace(cmdline) + " tillbox.slot=" + slot
	if err := WriteFile(filepath.Join(sd, Cmdline), []byte(line+"\n")); err != nil {
		return err
	}
	return WriteFile(filepath.Join(sd, CmdlineTry), []byte(line+" "+TryArg+"\n"))
}

// Repair rewrites a torn file in dir from what the running boot knows: booted is the slot
// that booted (at version), trying whether it is a try. A torn config.txt is rewritten to
// name the confirmed slot (booted, or on a try the other one); a torn tryboot.txt to "no
// try" (a try it offered is dropped and must be installed again). It returns what it
// rewrote; nil when nothing was torn.
func Repair(dir, booted, version string, trying bool) ([]string, error) {
	var fixed []string
	_, err := Read(dir)
	if err == nil || !errors.Is(err, ErrTorn) {
		return nil, err
	}
	cb, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	c, cerr := parse(ConfigFile, cb)
	active, activeVersion := booted, version
	if cerr == nil {
		active, activeVersion = c["slot"], c["version"]
	} else if trying {
		active, activeVersion = other(booted), ""
	}
	if cerr != nil {
		if err := WriteFile(filepath.Join(dir, ConfigFile), ConfigText(active, activeVersion)); err != nil {
			return fixed, err
		}
		fixed = append(fixed, ConfigFile)
	}
	if _, err := Read(dir); errors.Is(err, ErrTorn) {
		if err := WriteFile(filepath.Join(dir, TrybootFile), TrybootText(State{Active: active, ActiveVersion: activeVersion})); err != nil {
			return fixed, err
		}
		fixed = append(fixed, TrybootFile)
	}
	_, err = Read(dir)
	return fixed, err
}

func other(s string) string {
	if s == "A" {
		return "B"
	}
	return "A"
}

// Trying tells from the device tree at dtRoot (/proc/device-tree) whether the firmware
// booted with the tryboot flag; known is false when the firmware did not say.
func Trying(dtRoot string) (trying, known bool) {
	b, err := os.ReadFile(filepath.Join(dtRoot, TrybootProperty))
	if err != nil || len(b) != 4 {
		return false, false
	}
	return binary.BigEndian.Uint32(b) == 1, true
}
