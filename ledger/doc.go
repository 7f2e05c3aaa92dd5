// Package ledger is the till's journal: one bbolt file that a till can trust with its money.
//
// What it guarantees:
//
//   - Append assigns the till's next seq (gapless, from 1) inside one fsync'd bbolt
//     transaction that also writes the hash chain link and the caller's side records
//     (stock deltas, a print job, named records). The receipt number is the prefix and the
//     seq, and ByReceipt looks it up by seq. If Append returns nil the entry survives
//     kill -9 and power loss; if it returns an error nothing of it is visible.
//   - Every entry carries prev and hash: SHA-256 over its canonical bytes (CanonicalBytes),
//     prev included. The stored bytes of an entry are exactly the wire payload the uplink
//     publishes, so HQ checks the same hash the till computed.
//   - The file is opened under bbolt's lock; a second opener gets ErrInUse naming the
//     holder. A file that fails to open or to pass its checks is reported (ErrCorrupt) and
//     never truncated, recreated or written to: the writable open is one bbolt open, taken
//     only when its meta pages show that bbolt's open writes nothing (else the file is
//     checked read-only first). A new file is built under a temporary name and linked into
//     place only when complete.
//   - The ledger is the outbox: After(watermark, ...) gives the unsynced entries in order.
//     Confirm moves HQ's acknowledgement watermark, only upwards; an entry's sync status is
//     derived from it, and only entries at or below it are ever pruned.
//   - A full disk fails the commit with ErrDiskFull; the file stays consistent and usable.
//   - Start-up does not grow with the ledger: VerifyRecent checks what was written since the
//     last verified checkpoint (seq and hash kept in meta, moved by the next commit, so that
//     the start commits nothing of its own); Verify walks everything on demand, and
//     VerifyInBackground does so in short read transactions beside the till's commits.
//     Each holds one entry at a time.
//   - A head record beside the file (path + ".head", written before Append returns and
//     fdatasync'd right after, or before with Options.SyncHead) witnesses the last commit.
//     Open writes it, fdatasync'd before it returns, only when it does not hold the file's
//     last commit yet; one that does is fdatasync'd right after, as after an Append (before
//     Open returns with Options.SyncHead). A file that opens behind it (bbolt falls back to
//     the older meta page when the newest is damaged) is reported as ErrRolledBack with the
//     lost range; the writable open records the gap so that no seq or receipt number is
//     ever reused.
//   - Retain prunes entries HQ acknowledged and older than the retention period, never one
//     inside the refund window, in small transactions, harder when the disk is low; the
//     last pruned hash is the chain's anchor. Compact rewrites a mostly free file under
//     another name and renames it over the old one: a cut at any point leaves a whole
//     ledger at the path.
//   - The file grows to at most its platform's size limit (2 GiB on 32-bit boards): Limit
//     reports ErrNearLimit from 75% of it, and a file over it gives ErrTooLarge, never
//     ErrCorrupt. Every error names the ledger file.
//   - On disk, about 1.2 bytes per byte of stored entries: the append-only buckets split
//     their pages full, in 32 KiB pages (see the layout comment in ledger.go).
//
// Corrections are new entries that reverse old ones; nothing is edited in place.
//
// The entry model itself (journal.Entry, its kinds, canonical bytes, VerifyChain and the
// export format's reader) lives in package journal, which has no bbolt in it, so that the
// sale engine and head office share it without this file layer.
package ledger
