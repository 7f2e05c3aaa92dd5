package ledger

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	"os"
	"time"
)

// The writable open is one bbolt open. bbolt's own writable open writes to the file in two
// cases only: it initialises a file of size zero, and it commits a freelist into a file
// whose newest valid meta page has none (a file written with NoFreelistSync, which this
// package never does). Before bbolt sees the file, lockedFile opens it without O_CREATE,
// takes the exclusive lock bbolt would take (bbolt's own flock on the same descriptor then
// succeeds at once) and, under that lock, reads both meta pages as bbolt will read them.
// When it cannot tell for certain that bbolt will write nothing, the open falls back to a
// read-only open checked first (errNeedsReadOnlyCheck). Either way a file that fails its
// checks is never written to.

// errNeedsReadOnlyCheck says that bbolt's writable open might write to the file (or that
// this platform has no lock to take first): it is checked read-only before.
var errNeedsReadOnlyCheck = errors.New("ledger: file needs a read-only check before its writable open")

// bbolt's meta page, as it lays it out after the 16-byte page header, in the machine's byte
// order: magic, version, page size, flags (4 bytes each), the root bucket (page, sequence),
// freelist page, high water mark, txid (8 bytes each), then the FNV-64a checksum of those.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltPageHeader  = 16
	boltMetaLen     = 56 // magic .. txid: what the checksum covers, then the checksum
	boltNoFreelist  = ^uint64(0)
	boltMetaReadLen = boltPageHeader + boltMetaLen + 8
)

type boltMeta struct {
	valid    bool
	pageSize uint32
	freelist uint64
	txid     uint64
}

func parseBoltMeta(b []byte) boltMeta {
	if len(b) < boltMetaReadLen {
		return boltMeta{}
	}
	m := b[boltPageHeader:]
	le := binary.NativeEndian
	h := fnv.New64a()
	h.Write(m[:boltMetaLen])
	return boltMeta{
		valid: le.Uint32(m[0:]) == boltMagic && le.Uint32(m[4:]) == boltVersion &&
			le.Uint64(m[boltMetaLen:]) == h.Sum64(),
		pageSize: le.Uint32(m[8:]),
		freelist: le.Uint64(m[32:]),
		txid:     le.Uint64(m[48:]),
	}
}

// boltWritesNothing returns nil when bbolt's writable open of f will not write to it: the
// file is not empty and the meta page bbolt will use (the valid one of the higher txid, or
// else the other valid one) has a freelist. It must be called under the exclusive lock.
func boltWritesNothing(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return errNeedsReadOnlyCheck
	}
	var buf [boltMetaReadLen]byte
	if _, err := f.ReadAt(buf[:], 0); err != nil {
		return errNeedsReadOnlyCheck
	}
	m0 := parseBoltMeta(buf[:])
	if !m0.valid || m0.pageSize < 1024 {
		return errNeedsReadOnlyCheck // bbolt guesses the page size; the read-only open sees how
	}
	m1 := boltMeta{}
	if n, err := f.ReadAt(buf[:], int64(m0.pageSize)); err == nil || (errors.Is(err, io.EOF) && n == len(buf)) {
		m1 = parseBoltMeta(buf[:])
	}
	use, other := m0, m1
	if m1.txid > m0.txid {
		use, other = m1, m0
	}
	if !use.valid {
		use = other
	}
	if !use.valid || use.freelist == boltNoFreelist {
		return errNeedsReadOnlyCheck
	}
	return nil
}

// lockedFile is bbolt's OpenFile for the writable open: it never creates the file, and it
// returns the file locked and checked (boltWritesNothing). opened is the file it returned,
// for closing it when bbolt panics before it could.
type lockedFile struct {
	timeout time.Duration
	opened  *os.File
}

func (lf *lockedFile) open(name string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag&^os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	if err := lockExclusive(f, lf.timeout); err != nil {
		f.Close()
		return nil, err
	}
	if err := boltWritesNothing(f); err != nil {
		f.Close()
		return nil, err
	}
	lf.opened = f
	return f, nil
}

// lockRetry is how often a lock held by another process is tried again, as bbolt does.
const lockRetry = 50 * time.Millisecond
