package update

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"tillbox/image/grubenv"
)

// FaultEnv names, for the power-cut tests, a moment of an update at which the updater
// stops with what it wrote so far on the disk and waits for the power to go (the VM test
// kills the machine). Unset, or any other value, changes nothing. The torn moments tear the
// GRUB block (Slots.Env); on a Raspberry Pi (Slots.Tryboot) only FaultWrite acts, and the
// boot files' torn writes are tested over a directory (packages rpiboot, update).
const FaultEnv = "TILLBOX_FAULT_UPDATE"

// The moments FaultEnv may name.
const (
	// FaultWrite: half the payload is written into the inactive slot and synced.
	FaultWrite = "write"
	// FaultSwitchSpare: the switch into the try has torn the boot state's spare block (its
	// first half of the variables written and synced); the block is as it was.
	FaultSwitchSpare = "switch-spare"
	// FaultSwitchBlock: the switch wrote the spare whole and tore the block itself.
	FaultSwitchBlock = "switch-block"
	// FaultConfirmSpare and FaultConfirmBlock: the same for the confirmation.
	FaultConfirmSpare = "confirm-spare"
	FaultConfirmBlock = "confirm-block"
)

// FaultMark starts the console line a fault point prints before it holds.
const FaultMark = "tillbox: fault "

// errFault is what a held fault returns where Hold returns (tests).
var errFault = errors.New("held at a fault point")

// Hold is called at a fault point once what the moment leaves on the disk is synced. It
// prints the moment and never returns: the power cut ends it. Tests replace it.
var Hold = func(point string) {
	line := FaultMark + point + ": holding for the power cut\n"
	os.Stderr.WriteString(line)
	if c, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		c.WriteString(line)
		c.Close()
	}
	select {}
}

func faultAt(point string) bool { return os.Getenv(FaultEnv) == point }

// tornSwitch writes what a power cut during the rewrite of the GRUB block for st at moment
// ("switch" or "confirm") leaves, when FaultEnv names that moment, and holds; it reports
// whether it did.
func (s *Slots) tornSwitch(moment string, st State) (bool, error) {
	spare, block := faultAt(moment+"-spare"), faultAt(moment+"-block")
	if s.Env == "" || (!spare && !block) {
		return false, nil
	}
	b, err := grubenv.EncodeSafe(st.env(), kTry)
	if err != nil {
		return true, fmt.Errorf("update: %w", err)
	}
	// The tear falls halfway between the first byte that changes and the end of the
	// variables, so the torn copy holds some of the new variables and some of the old.
	target := s.Env
	if spare {
		target += grubenv.SpareSuffix
	}
	old, _ := os.ReadFile(target)
	first := 0
	for first < len(b) && first < len(old) && b[first] == old[first] {
		first++
	}
	end := len(b)
	if i := bytes.Index(b[first:], []byte("\n#")); i >= 0 {
		end = first + i + 1 // after the last variable's newline
	}
	half := max((first+end)/2, first+1)
	if spare {
		err = writePrefix(s.Env+grubenv.SpareSuffix, b[:half])
	} else if err = writePrefix(s.Env+grubenv.SpareSuffix, b); err == nil {
		err = writePrefix(s.Env, b[:half])
	}
	if err != nil {
		return true, fmt.Errorf("update: fault %s: %w", moment, err)
	}
	Hold(moment + map[bool]string{true: "-spare", false: "-block"}[spare])
	return true, fmt.Errorf("update: %s: %w", moment, errFault)
}

// writePrefix overwrites the start of the file at path with p in place and syncs it.
func writePrefix(path string, p []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(p, 0); err != nil {
		return err
	}
	return f.Sync()
}
