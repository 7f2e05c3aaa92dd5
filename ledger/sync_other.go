//go:build !linux

package ledger

import (
	"os"
	"time"
)

func fdatasync(f *os.File) error { return f.Sync() }

// lockExclusive is not taken here: the writable open is checked read-only first.
func lockExclusive(*os.File, time.Duration) error { return errNeedsReadOnlyCheck }

func unlock(*os.File) {}
