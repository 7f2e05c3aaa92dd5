//go:build linux

package main

import (
	"tillbox/image/rpiboot"
	"tillbox/image/spec"
	"tillbox/image/update"
)

// bootLoader is what differs between boards in picking a slot; the update, health check,
// confirm and rollback flow on top of it is the same (package update).
type bootLoader interface {
	// booted is the slot this boot runs from and whether it is a try.
	booted(cmd map[string]string) (slot string, trying bool)
	// slots is the update package's view of the boot state, on the mounted boot partition.
	slots(sp spec.Spec) update.Slots
	// prepare runs before the boot state is first read: it repairs what a power cut left.
	prepare(sp spec.Spec, booted string, trying bool)
	// takeTry readies the pending try for the reboot into it; tryArg is the reboot
	// command's argument that has the boot loader boot it ("" a plain reboot).
	takeTry(slots *update.Slots)
	tryArg() string
}

func loaderFor(sp spec.Spec) bootLoader {
	if sp.BootLoader == spec.BootTryboot {
		return tryboot{}
	}
	return grub{}
}

func cmdSlot(cmd map[string]string) string {
	if s := cmd["tillbox.slot"]; s == update.SlotB {
		return s
	}
	return update.SlotA
}

// grub: GRUB consumes a try itself and says which slot it booted on the command line.
type grub struct{}

func (grub) booted(cmd map[string]string) (string, bool) {
	return cmdSlot(cmd), cmd["tillbox.trying"] == "1"
}
func (grub) slots(sp spec.Spec) update.Slots {
	return update.Slots{A: sp.SlotA, B: sp.SlotB, Env: bootDir + "/grubenv"}
}
func (g grub) prepare(sp spec.Spec, _ string, _ bool) {
	slots := g.slots(sp)
	if fixed, err := slots.Repair(); err != nil {
		logf("boot state: %v", err)
	} else if fixed {
		logf("boot state: %s was torn; rewritten from its spare", slots.Env)
	}
}
func (grub) takeTry(*update.Slots) {}
func (grub) tryArg() string        { return "" }

// tryboot: the Pi's firmware reads tryboot.txt once after a reboot with its flag set, and
// says so in the device tree.
type tryboot struct{}

// booted: a try is told by its command line (config.txt boots it once with the try's
// cmdline-try.txt, with or without the firmware's flag) or by the firmware's flag.
func (tryboot) booted(cmd map[string]string) (string, bool) {
	t, _ := rpiboot.Trying("/proc/device-tree")
	return cmdSlot(cmd), t || cmd["tillbox.trying"] == "1"
}
func (tryboot) slots(sp spec.Spec) update.Slots {
	return update.Slots{A: sp.SlotA, B: sp.SlotB, Tryboot: bootDir, Cmdline: sp.Cmdline}
}
func (tryboot) prepare(sp spec.Spec, booted string, trying bool) {
	fixed, err := rpiboot.Repair(bootDir, booted, sp.Version, trying)
	if err != nil {
		logf("boot files: %v", err)
	}
	for _, f := range fixed {
		logf("boot files: %s was torn; rewritten", f)
	}
	// A taken try booted from config.txt: give config.txt back to the confirmed slot
	// first, so that a hang, crash or power cut from here on boots that slot.
	if taken, err := rpiboot.Consume(bootDir); err != nil {
		logf("boot files: %v", err)
	} else if taken {
		logf("boot files: the try is consumed; %s names the confirmed slot again", rpiboot.ConfigFile)
	}
}

// takeTry takes the pending try: config.txt names the slot on try for one boot (the
// firmware's tryboot flag, which the reboot argument asks for, is not needed: Debian's
// kernel never passes it on), and the try's init gives config.txt back at once.
func (tryboot) takeTry(slots *update.Slots) {
	if _, _, err := slots.Choose(); err != nil {
		logf("take the try: %v", err)
	}
}

func (tryboot) tryArg() string { return rpiboot.RebootArg }
