package ledger

import (
	"errors"
	"strconv"
)

// Sentinel errors. Callers tell them apart with errors.Is; every returned error also carries
// the operation and the path or seq it concerns.
var (
	// ErrInUse: another process holds the ledger's lock. The message names the holder when
	// it left its name beside the file.
	ErrInUse = errors.New("ledger in use by another process")
	// ErrCorrupt: the file failed to open or failed its structural checks. The file is left
	// exactly as it was found, for the technician.
	ErrCorrupt = errors.New("ledger file is damaged")
	// ErrIdentity: the file belongs to another store or till than the one asked for.
	ErrIdentity = errors.New("ledger belongs to another till")
	// ErrDiskFull: the data partition has no room for the commit. Nothing of the failed
	// commit is visible; the ledger stays usable once space is freed.
	ErrDiskFull = errors.New("ledger full: no space left on the data partition")
	// ErrInvalid: the entry or side record was refused before anything was written.
	ErrInvalid = errors.New("invalid ledger record")
	// ErrNotFound: no entry, job or record under that key (it may have been pruned).
	ErrNotFound = errors.New("not found in ledger")
	// ErrAckBeyondEnd: HQ acknowledged a seq this ledger never wrote (a restored backup or
	// another box answering to the same till id). The watermark does not move.
	ErrAckBeyondEnd = errors.New("acknowledgement beyond the ledger's last entry")
	// ErrRolledBack: the file ends before the last commit its head record witnessed (see
	// RollbackError): committed entries are gone from it.
	ErrRolledBack = errors.New("ledger rolled back: committed entries are missing from the file")
	// ErrTooLarge: the file is beyond what this platform can map (armv7: 2 GiB) or beyond
	// Options.MaxBytes. An open that fails for that reason says so; it is not damage.
	ErrTooLarge = errors.New("ledger too large for this platform")
	// ErrNearLimit: the file has reached NearLimitFraction of its size limit (Limit).
	ErrNearLimit = errors.New("ledger near its size limit")
	// ErrClosed: the ledger was closed.
	ErrClosed = errors.New("ledger closed")
)

// VerifyError locates the first broken link found by Verify.
type VerifyError struct {
	Path   string // the ledger file
	Seq    uint64 // the entry at fault; 0 when the fault is in the file's metadata
	Reason string
}

func (e *VerifyError) Error() string {
	s := "ledger: verify"
	if e.Path != "" {
		s += " " + e.Path
	}
	if e.Seq == 0 {
		return s + ": " + e.Reason
	}
	return s + ": seq " + strconv.FormatUint(e.Seq, 10) + ": " + e.Reason
}

// Is makes every VerifyError match ErrCorrupt.
func (e *VerifyError) Is(target error) bool { return target == ErrCorrupt }
