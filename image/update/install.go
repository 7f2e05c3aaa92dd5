package update

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"tillbox/image/bundle"
)

// Options say what Install checks a bundle against.
type Options struct {
	// Trusted are the keys a bundle must be signed with.
	Trusted []ed25519.PublicKey
	// Board is this box's board profile name; a bundle for another board is refused.
	Board string
	// Running is the running firmware's version; a bundle must be newer.
	Running string
	// Booted is the slot the running firmware booted from; the other one is written.
	Booted string
	// OpenSale reports whether a sale is open; Install refuses while it is. Required: a
	// caller that cannot tell (the ledger is held by a running till) must say so with an
	// error, which Install returns.
	OpenSale func() (bool, error)
	// Retry installs a version whose try failed before.
	Retry bool
}

// Result is what Install did.
type Result struct {
	Slot     string
	Version  string
	Bytes    int64
	Duration time.Duration
}

// Check opens the bundle in r and checks everything Install checks before writing, without
// writing anything: signature, board, version, minimum version, the payload's SHA-256, the
// boot state and the open sale.
func (s *Slots) Check(r io.ReaderAt, o Options) (*bundle.Bundle, State, error) {
	b, err := bundle.Open(r, o.Trusted)
	if err != nil {
		return nil, State{}, fmt.Errorf("update: %w", err)
	}
	m := b.Manifest
	if m.Board != o.Board {
		return nil, State{}, fmt.Errorf("update: bundle %s for board %q: %w (this is %q)", m.Version, m.Board, ErrBoard, o.Board)
	}
	if c, err := bundle.CompareVersions(m.Version, o.Running); err != nil {
		// A running version that is not a release ("dev") has no order: any bundle may
		// replace it.
		if !errors.Is(err, bundle.ErrVersion) {
			return nil, State{}, fmt.Errorf("update: %w", err)
		}
		if _, perr := bundle.ParseVersion(o.Running); perr == nil {
			return nil, State{}, fmt.Errorf("update: %w", err)
		}
	} else if c <= 0 {
		return nil, State{}, fmt.Errorf("update: bundle %s, running %s: %w", m.Version, o.Running, ErrDowngrade)
	}
	if m.MinVersion != "" {
		if c, err := bundle.CompareVersions(o.Running, m.MinVersion); err == nil && c < 0 {
			return nil, State{}, fmt.Errorf("update: bundle %s needs %s, running %s: %w", m.Version, m.MinVersion, o.Running, ErrTooOld)
		}
	}
	st, err := s.State()
	if err != nil {
		return nil, State{}, err
	}
	if o.Booted != st.Active {
		return nil, st, fmt.Errorf("update: booted %s, active %s: %w", o.Booted, st.Active, ErrPending)
	}
	if st.Failed == m.Version && !o.Retry {
		return nil, st, fmt.Errorf("update: bundle %s: %w", m.Version, ErrFailedBefore)
	}
	if err := b.Verify(); err != nil {
		return nil, st, fmt.Errorf("update: %w", err)
	}
	if err := checkSale(o); err != nil {
		return nil, st, err
	}
	if size, err := deviceSize(s.Path(Other(o.Booted))); err != nil {
		return nil, st, err
	} else if size >= 0 && size < m.Rootfs.Size {
		return nil, st, fmt.Errorf("update: %d bytes into slot %s of %d: %w", m.Rootfs.Size, Other(o.Booted), size, ErrSlotSize)
	}
	return b, st, nil
}

func checkSale(o Options) error {
	if o.OpenSale == nil {
		return fmt.Errorf("update: %w: no way to tell whether a sale is open", ErrState)
	}
	open, err := o.OpenSale()
	if err != nil {
		return fmt.Errorf("update: open sale: %w", err)
	}
	if open {
		return fmt.Errorf("update: %w: finish or park it, then update", ErrOpenSale)
	}
	return nil
}

// deviceSize is a block device's size, or -1 for a plain file (which grows).
func deviceSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("update: slot: %w", err)
	}
	if fi.Mode().IsRegular() {
		return -1, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("update: slot: %w", err)
	}
	defer f.Close()
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("update: slot size: %w", err)
	}
	return n, nil
}

// Install writes the bundle in r to the inactive slot and switches the boot state to try
// it once on the next boot. The caller reboots, when no sale is open.
func (s *Slots) Install(r io.ReaderAt, o Options) (Result, error) {
	start := time.Now()
	b, st, err := s.Check(r, o)
	if err != nil {
		return Result{}, err
	}
	target := Other(o.Booted)
	res := Result{Slot: target, Version: b.Manifest.Version, Bytes: b.Manifest.Rootfs.Size}

	// Withdraw any earlier try of the target before its first byte changes.
	if st.Next != "" || st.Try {
		st.Next, st.NextVersion, st.Try, st.Taken = "", "", false, false
		if err := s.write(st); err != nil {
			return res, err
		}
	}
	if err := writeSlot(s.Path(target), b); err != nil {
		return res, err
	}
	if err := readBack(s.Path(target), b); err != nil {
		return res, err
	}
	if s.Tryboot != "" {
		if err := s.bootFiles(target); err != nil {
			return res, err
		}
	}
	if err := checkSale(o); err != nil {
		return res, err
	}
	st.Next, st.NextVersion, st.Try = target, b.Manifest.Version, true
	if held, err := s.tornSwitch("switch", st); held {
		return res, err
	}
	if err := s.write(st); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// writeSlot streams the payload to the slot, hashing what it writes, and syncs it.
func writeSlot(path string, b *bundle.Bundle) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("update: write slot: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	payload, buf := b.Payload(), make([]byte, 1<<20)
	if faultAt(FaultWrite) {
		// Half the slot written and on the disk when the power goes.
		if _, err := io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(payload, b.Manifest.Rootfs.Size/2), buf); err != nil {
			return fmt.Errorf("update: write slot %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("update: write slot: sync: %w", err)
		}
		Hold(FaultWrite)
		return fmt.Errorf("update: write slot: %w", errFault)
	}
	n, err := io.CopyBuffer(io.MultiWriter(f, h), payload, buf)
	if err != nil {
		return fmt.Errorf("update: write slot %s: %w", path, err)
	}
	if err := b.CheckSum(n, h.Sum(nil)); err != nil {
		return fmt.Errorf("update: write slot: the bundle changed while it was read: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		if err := f.Truncate(n); err != nil {
			return fmt.Errorf("update: write slot: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("update: write slot: sync: %w", err)
	}
	// Drop the cached pages, so that the read back comes from the device.
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	if err := f.Close(); err != nil {
		return fmt.Errorf("update: write slot: %w", err)
	}
	return nil
}

// readBack hashes the slot's first Rootfs.Size bytes and compares them with the manifest.
func readBack(path string, b *bundle.Bundle) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("update: read back: %w", err)
	}
	defer f.Close()
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	h := sha256.New()
	n, err := io.CopyBuffer(h, io.LimitReader(f, b.Manifest.Rootfs.Size), make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("update: read back %s: %w", path, err)
	}
	if err := b.CheckSum(n, h.Sum(nil)); err != nil {
		return fmt.Errorf("update: slot %s: %w: %w", path, ErrReadBack, err)
	}
	return nil
}
