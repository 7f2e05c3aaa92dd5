package rpiboot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Boot is what the firmware loads from a configuration file.
type Boot struct {
	// File is the configuration file read (ConfigFile or TrybootFile).
	File string
	// Kernel, Initrd and Cmdline are paths relative to the boot partition.
	Kernel, Initrd, Cmdline string
	// Args is the kernel command line read from Cmdline.
	Args string
}

// Resolve reads the boot partition at dir as the firmware does for a boot with the
// tryboot flag set or not: the configuration file, its kernel=, initramfs and cmdline=
// lines (the [all] section; this package writes no other), and the command line file.
// It fails when a named file is missing, so a boot partition that Resolve accepts for
// both flags has what the firmware needs for both.
func Resolve(dir string, tryboot bool) (Boot, error) {
	b := Boot{File: ConfigFile}
	if tryboot {
		if _, err := os.Stat(filepath.Join(dir, TrybootFile)); err == nil {
			b.File = TrybootFile
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, b.File))
	if err != nil {
		return b, fmt.Errorf("rpiboot: resolve: %w", err)
	}
	b.Cmdline = "cmdline.txt"
	for _, l := range strings.Split(string(raw), "\n") {
		l = strings.TrimSpace(l)
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			switch k {
			case "kernel":
				b.Kernel = v
			case "cmdline":
				b.Cmdline = v
			}
		}
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "initramfs" {
			b.Initrd = f[1]
		}
	}
	if b.Kernel == "" || b.Initrd == "" {
		return b, fmt.Errorf("rpiboot: resolve %s: %w: no kernel or initramfs line", b.File, ErrTorn)
	}
	for _, p := range []string{b.Kernel, b.Initrd, b.Cmdline} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return b, fmt.Errorf("rpiboot: resolve %s: %w", b.File, err)
		}
	}
	args, err := os.ReadFile(filepath.Join(dir, b.Cmdline))
	if err != nil {
		return b, fmt.Errorf("rpiboot: resolve: %w", err)
	}
	b.Args = strings.TrimSpace(string(args))
	return b, nil
}

// Slot is the slot the command line names (tillbox.slot=), and whether it is a try.
func (b Boot) Slot() (slot string, try bool) {
	for _, f := range strings.Fields(b.Args) {
		if v, ok := strings.CutPrefix(f, "tillbox.slot="); ok {
			slot = v
		}
		if f == TryArg {
			try = true
		}
	}
	return slot, try
}
