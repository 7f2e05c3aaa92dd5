package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// compactPath is where Compact builds the new file; a leftover one is the trace of a cut
// during compaction and is removed at the next writable Open (the ledger at path is the
// old file, intact, until the rename).
func compactPath(path string) string { return path + ".compact" }

// compactTxBytes bounds one transaction of the copy, so its memory stays small.
const compactTxBytes = 16 << 20

// Space is the ledger file's use of its bytes.
type Space struct {
	FileBytes int64 // size of the file
	UsedBytes int64 // bytes in pages that hold data
	FreeBytes int64 // FileBytes - UsedBytes: what a compaction would give back
}

// FreeFraction is the share of the file that compaction would give back.
func (s Space) FreeFraction() float64 {
	if s.FileBytes == 0 {
		return 0
	}
	return float64(s.FreeBytes) / float64(s.FileBytes)
}

// Space reads how much of the file is in use.
func (l *Ledger) Space() (Space, error) {
	var s Space
	err := l.view("space", func(tx *bolt.Tx) error {
		st := l.db.Stats()
		ps := int64(l.db.Info().PageSize)
		s.UsedBytes = tx.Size() - int64(st.FreePageN+st.PendingPageN)*ps
		return nil
	})
	if err != nil {
		return s, err
	}
	fi, err := os.Stat(l.path)
	if err != nil {
		return s, fmt.Errorf("ledger: space %s: %w", l.path, err)
	}
	s.FileBytes = fi.Size()
	s.FreeBytes = max(s.FileBytes-s.UsedBytes, 0)
	return s, nil
}

// CompactPolicy says when Compact is worth its cost.
type CompactPolicy struct {
	MinFreeFraction float64 // compact when at least this share of the file is free (default 0.5)
	MinFreeBytes    int64   // and at least this many bytes (default 64 MiB)
}

// NeedsCompaction reports whether the file is mostly free space under p.
func (l *Ledger) NeedsCompaction(p CompactPolicy) (bool, Space, error) {
	if p.MinFreeFraction <= 0 {
		p.MinFreeFraction = 0.5
	}
	if p.MinFreeBytes <= 0 {
		p.MinFreeBytes = 64 << 20
	}
	s, err := l.Space()
	return err == nil && s.FreeFraction() >= p.MinFreeFraction && s.FreeBytes >= p.MinFreeBytes, s, err
}

// Compact rewrites the ledger into a new file holding only the pages in use, full, and
// renames it over the old one. It holds the ledger for the copy (commits and reads wait),
// so run it at a quiet moment. It is safe against a cut at any point: the new file is
// fsync'd under another name before the rename, the rename is atomic and the directory is
// fsync'd after it, so the path always names a complete ledger, old or new, with the same
// entries. It refuses to start when the partition has no room for the copy.
func (l *Ledger) Compact() (before, after Space, err error) {
	if l.opts.ReadOnly {
		return before, after, fmt.Errorf("ledger: compact %s: %w: opened read-only", l.path, ErrInvalid)
	}
	if l.closed.Load() {
		return before, after, fmt.Errorf("ledger: compact %s: %w", l.path, ErrClosed)
	}
	if before, err = l.Space(); err != nil {
		return before, after, err
	}
	if free, _, err := l.FreeSpace(); err != nil {
		return before, after, err
	} else if uint64(before.UsedBytes)+uint64(before.UsedBytes)/8 > free {
		return before, after, fmt.Errorf("ledger: compact %s: %w (%d bytes in use, %d free)", l.path, ErrDiskFull, before.UsedBytes, free)
	}
	if err := l.compactLocked(); err != nil {
		return before, after, err
	}
	after, err = l.Space()
	return before, after, err
}

func (l *Ledger) compactLocked() error {
	l.dbMu.Lock()
	defer l.dbMu.Unlock()
	tmp := compactPath(l.path)
	os.Remove(tmp)
	if err := l.copyTo(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ledger: compact %s: %w", l.path, classify(err))
	}
	// From here the new file is complete and durable; the rename makes it the ledger.
	if err := os.Rename(tmp, l.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ledger: compact %s: %w", l.path, err)
	}
	if err := syncDir(filepath.Dir(l.path)); err != nil {
		return err
	}
	db, err := openBolt(l.path, boltWritable, l.opts.LockTimeout, l.maxSize)
	if errors.Is(err, errNeedsReadOnlyCheck) {
		db, err = openCheckedFirst(l.path, &l.opts, l.maxSize)
	}
	if err != nil {
		// The old file is unlinked but still open and intact: the till keeps using it.
		return fmt.Errorf("ledger: compact %s: reopen: %w", l.path, err)
	}
	old := l.db
	l.db = db
	old.Close()
	return nil
}

func (l *Ledger) copyTo(tmp string) error {
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: l.opts.LockTimeout, PageSize: newPageSize, NoSync: true})
	if err != nil {
		return err
	}
	err = safeCompact(dst, l.db)
	if err == nil {
		dst.NoSync = false
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func safeCompact(dst, src *bolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return bolt.Compact(dst, src, compactTxBytes)
}

// removeStaleCompaction removes a copy left by a compaction that was cut before its rename.
func removeStaleCompaction(path string) {
	if err := os.Remove(compactPath(path)); err == nil || !errors.Is(err, os.ErrNotExist) {
		syncDir(filepath.Dir(path))
	}
}
