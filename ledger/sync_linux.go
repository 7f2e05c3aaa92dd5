package ledger

import (
	"os"
	"time"

	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/sys/unix"
)

func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// lockExclusive takes the lock bbolt's writable open takes (flock, exclusive), waiting up to
// timeout for another process to let it go; then it gives bbolt's ErrTimeout.
func lockExclusive(f *os.File, timeout time.Duration) error {
	t0 := time.Now()
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EWOULDBLOCK {
			return err
		}
		if time.Since(t0) > timeout-lockRetry {
			return berrors.ErrTimeout
		}
		time.Sleep(lockRetry)
	}
}

// unlock lets the lock go before f is closed: a mapping of the file left behind by a failed
// open would otherwise keep it held.
func unlock(f *os.File) { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }
