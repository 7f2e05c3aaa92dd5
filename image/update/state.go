package update

import (
	"fmt"
	"io"

	"tillbox/image/grubenv"
	"tillbox/image/rpiboot"
)

// Slot names.
const (
	SlotA = "A"
	SlotB = "B"
)

// Other returns the slot that is not s.
func Other(s string) string {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}

func validSlot(s string) bool { return s == SlotA || s == SlotB }

// State is the boot state (see the package doc for the variables).
type State struct {
	Active        string
	ActiveVersion string
	Next          string
	NextVersion   string
	Try           bool
	Failed        string
	// Taken (Raspberry Pi only): the try is taken and config.txt boots it once, until the
	// try's init gives config.txt back to the active slot (rpiboot.Take, rpiboot.Consume).
	Taken bool
}

const (
	kActive        = "tillbox_active"
	kActiveVersion = "tillbox_active_version"
	kNext          = "tillbox_next"
	kNextVersion   = "tillbox_next_version"
	kTry           = "tillbox_try"
	kFailed        = "tillbox_failed"
)

func (s State) env() grubenv.Env {
	try := "0"
	if s.Try {
		try = "1"
	}
	return grubenv.Env{kActive: s.Active, kActiveVersion: s.ActiveVersion, kNext: s.Next,
		kNextVersion: s.NextVersion, kTry: try, kFailed: s.Failed}
}

func stateOf(e grubenv.Env) (State, error) {
	s := State{Active: e[kActive], ActiveVersion: e[kActiveVersion], Next: e[kNext],
		NextVersion: e[kNextVersion], Try: e[kTry] == "1", Failed: e[kFailed]}
	if !validSlot(s.Active) || (s.Next != "" && !validSlot(s.Next)) || s.Next == s.Active {
		return s, fmt.Errorf("update: boot state: %w: active %q next %q", ErrState, s.Active, s.Next)
	}
	return s, nil
}

// Slots are the two root slots and the boot state of one box. The boot state is a GRUB
// environment block (Env) or, on a Raspberry Pi, the firmware's config.txt and
// tryboot.txt on the boot partition (Tryboot; package rpiboot). Exactly one is set.
type Slots struct {
	// A and B are the slots' block devices (on the box) or plain files (in tests).
	A string `json:"a"`
	B string `json:"b"`
	// Env is the boot state block file (grubenv on the boot partition).
	Env string `json:"env,omitempty"`
	// Tryboot is the mounted boot partition of a Raspberry Pi.
	Tryboot string `json:"tryboot,omitempty"`
	// Cmdline is the kernel command line a slot installed for a try boots with (Tryboot).
	Cmdline string `json:"cmdline,omitempty"`
	// SlotFiles opens the kernel and initrd inside a written slot, for Tryboot; nil mounts
	// the slot's squashfs (root only). Tests set it.
	SlotFiles func(dev string) (kernel, initrd io.ReadCloser, done func(), err error) `json:"-"`
}

// Path returns the device of slot s.
func (s *Slots) Path(slot string) string {
	if slot == SlotB {
		return s.B
	}
	return s.A
}

// Init writes a fresh boot state: slot A active at version (the image builder's job).
func (s *Slots) Init(version string) error {
	if s.Tryboot != "" {
		if err := rpiboot.Init(s.Tryboot, version); err != nil {
			return fmt.Errorf("update: init: %w", err)
		}
		return nil
	}
	if err := grubenv.CreateSafe(s.Env, State{Active: SlotA, ActiveVersion: version}.env(), kTry); err != nil {
		return fmt.Errorf("update: init: %w", err)
	}
	return nil
}

// State reads the boot state.
func (s *Slots) State() (State, error) {
	if s.Tryboot != "" {
		r, err := rpiboot.Read(s.Tryboot)
		if err != nil {
			return State{}, fmt.Errorf("update: %w: %w", ErrState, err)
		}
		return State{Active: r.Active, ActiveVersion: r.ActiveVersion, Next: r.Next,
			NextVersion: r.NextVersion, Try: r.Pending, Failed: r.Failed, Taken: r.Taken}, nil
	}
	e, _, err := grubenv.ReadSafe(s.Env, kTry)
	if err != nil {
		return State{}, fmt.Errorf("update: %w", err)
	}
	return stateOf(e)
}

func (s *Slots) write(st State) error {
	if s.Tryboot != "" {
		// Try, on a Pi, is the try still waiting for its tryboot reboot.
		if err := rpiboot.Write(s.Tryboot, rpiboot.State{Active: st.Active, ActiveVersion: st.ActiveVersion,
			Next: st.Next, NextVersion: st.NextVersion, Pending: st.Try && st.Next != "", Taken: st.Taken && st.Next != "",
			Failed: st.Failed}); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		return nil
	}
	if err := grubenv.WriteSafe(s.Env, st.env(), kTry); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}

// Repair rewrites a boot state block that a power cut tore from its spare (GRUB boards;
// grubenv.WriteSafe), and reports whether it did. The boot loader reads the block, and
// the spare only when the block is unreadable: the init repairs it before anything else
// reads or writes the boot state.
func (s *Slots) Repair() (bool, error) {
	if s.Env == "" {
		return false, nil
	}
	fixed, err := grubenv.RepairSafe(s.Env, kTry)
	if err != nil {
		return false, fmt.Errorf("update: repair: %w", err)
	}
	return fixed, nil
}

// Choose is what the boot loader does: it consumes a pending try and returns the slot to
// boot and whether this boot is that try. The image's GRUB script does the same from its
// own copy of the logic; on a Pi (Tryboot) the stage-1 init calls Choose just before it
// reboots with the tryboot flag, which the firmware consumes in turn; the tests call it
// for both.
func (s *Slots) Choose() (slot string, trying bool, err error) {
	st, err := s.State()
	if err != nil {
		return "", false, err
	}
	if st.Try && st.Next != "" {
		// On a Pi, config.txt itself boots the try once: the firmware's tryboot flag
		// needs a kernel that passes it, which mainline's does not.
		st.Try, st.Taken = false, s.Tryboot != ""
		if err := s.write(st); err != nil {
			return "", false, err
		}
		return st.Next, true, nil
	}
	return st.Active, false, nil
}

// Outcome is what Settle found at boot.
type Outcome struct {
	// RolledBack: the last try failed and this boot is the active slot again.
	RolledBack bool
	// Version is the version that failed its try, when RolledBack.
	Version string
}

// Settle runs early at every boot with the slot that booted and whether this boot is a
// try. On a normal boot of the active slot with a try consumed but never confirmed, the
// try failed (it crashed, hung until the watchdog fired, or failed its health check):
// Settle records the version as failed and withdraws the try.
func (s *Slots) Settle(booted string, trying bool) (Outcome, error) {
	st, err := s.State()
	if err != nil {
		return Outcome{}, err
	}
	if trying && (st.Try || st.Taken) {
		// A boot loader that could not consume the try (its save_env failed), or a Pi's
		// config.txt still naming the try: consume it here, so that a hang still ends on
		// the active slot.
		st.Try, st.Taken = false, false
		return Outcome{}, s.write(st)
	}
	if trying || booted != st.Active || st.Next == "" || st.Try {
		return Outcome{}, nil
	}
	out := Outcome{RolledBack: true, Version: st.NextVersion}
	st.Failed, st.Next, st.NextVersion = st.NextVersion, "", ""
	return out, s.write(st)
}

// Confirm makes the tried slot active: the firmware passed its health check.
func (s *Slots) Confirm(booted string) error {
	st, err := s.State()
	if err != nil {
		return err
	}
	if st.Next != booted {
		return fmt.Errorf("update: confirm %s: %w: the slot on try is %q", booted, ErrState, st.Next)
	}
	st.Active, st.ActiveVersion = st.Next, st.NextVersion
	st.Next, st.NextVersion, st.Try, st.Taken = "", "", false, false
	if st.Failed == st.ActiveVersion {
		st.Failed = ""
	}
	if held, err := s.tornSwitch("confirm", st); held {
		return err
	}
	return s.write(st)
}

// Rollback gives up the try of the booted slot (its health check failed): the next boot
// is the active slot, and the version is recorded as failed.
func (s *Slots) Rollback(booted string) error {
	st, err := s.State()
	if err != nil {
		return err
	}
	if st.Next != booted {
		return fmt.Errorf("update: roll back %s: %w: the slot on try is %q", booted, ErrState, st.Next)
	}
	st.Failed, st.Next, st.NextVersion, st.Try, st.Taken = st.NextVersion, "", "", false, false
	return s.write(st)
}
