package update

import (
	"fmt"
	"os"

	"tillbox/image/bundle"
)

// ExitRebootForTry is the exit status with which tillbox asks the stage-1 init to reboot
// into the try it just installed (the fleet's update command). The init reboots for it and
// for nothing else; any other exit restarts the till.
const ExitRebootForTry = 75

// InstallFile installs the bundle in file on the box described by the layout file at
// layoutPath. The layout gives the slots, the booted slot, the trusted keys (unless
// o.Trusted is set) and the board (o.Board is used only when the layout has none).
func InstallFile(layoutPath, file string, o Options) (Result, error) {
	lay, f, err := openFile(layoutPath, file, &o)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	return lay.Slots.Install(f, o)
}

// CheckFile checks the bundle in file as InstallFile would, without writing anything, and
// returns its manifest.
func CheckFile(layoutPath, file string, o Options) (bundle.Manifest, error) {
	lay, f, err := openFile(layoutPath, file, &o)
	if err != nil {
		return bundle.Manifest{}, err
	}
	defer f.Close()
	b, _, err := lay.Slots.Check(f, o)
	if err != nil {
		return bundle.Manifest{}, err
	}
	return b.Manifest, nil
}

func openFile(layoutPath, file string, o *Options) (Layout, *os.File, error) {
	lay, err := ReadLayout(layoutPath)
	if err != nil {
		return lay, nil, err
	}
	if o.Trusted == nil {
		if o.Trusted, err = bundle.ReadPublic(lay.Keys); err != nil {
			return lay, nil, err
		}
	}
	if lay.Board != "" {
		o.Board = lay.Board
	}
	o.Booted = lay.Booted
	f, err := os.Open(file)
	if err != nil {
		return lay, nil, fmt.Errorf("update: %w", err)
	}
	return lay, f, nil
}
