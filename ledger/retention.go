package ledger

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"tillbox/ledger/journal"
)

// DefaultPruneBatch bounds one prune transaction (entries), so that a sale waits at most
// for one small commit while retention runs.
const DefaultPruneBatch = 500

// Prune deletes entries that HQ has acknowledged and that are older than before, oldest
// first, stopping at the first entry that is not both. It never deletes an unacknowledged
// entry. The hash of the last deleted entry becomes the chain's anchor, so Verify still
// checks every kept entry from the first one on. Receipt index records of deleted entries
// go with them. It commits DefaultPruneBatch entries at a time and returns how many entries
// were deleted.
func (l *Ledger) Prune(before time.Time) (int, error) {
	return l.prune(context.Background(), before, DefaultPruneBatch)
}

// Retention is the till's retention policy.
type Retention struct {
	// Keep: acknowledged entries older than this are pruned. Zero keeps everything
	// (unless the disk is low).
	Keep time.Duration
	// RefundWindow: entries younger than this are never pruned, even on a low disk, so a
	// receipt within the window is still found at the till (ByReceipt) for a refund.
	RefundWindow time.Duration
	// LowDiskBytes: when the data partition has less free space than this, every
	// acknowledged entry older than the refund window is pruned, whatever Keep says.
	// Zero turns the low-disk mode off.
	LowDiskBytes uint64
	// Batch is the number of entries per prune transaction (default DefaultPruneBatch).
	Batch int
}

// RetainReport says what Retain did.
type RetainReport struct {
	Pruned   int       // entries deleted
	Base     uint64    // the last pruned seq: the chain's anchor
	Cutoff   time.Time // entries at or after this were kept
	LowDisk  bool      // the low-disk mode applied
	FreeDisk uint64    // free bytes on the data partition before pruning
}

// Retain applies r at time now: it prunes acknowledged entries older than the policy's
// cutoff in small transactions (the till's commits interleave with them), never an entry
// HQ has not acknowledged and never one younger than the refund window. It stops early,
// with ctx's error, when ctx ends; what it pruned until then stays pruned and consistent.
func (l *Ledger) Retain(ctx context.Context, now time.Time, r Retention) (RetainReport, error) {
	var rep RetainReport
	free, _, err := l.FreeSpace()
	if err != nil {
		return rep, err
	}
	rep.FreeDisk = free
	rep.LowDisk = r.LowDiskBytes > 0 && free < r.LowDiskBytes
	switch {
	case rep.LowDisk:
		rep.Cutoff = now.Add(-r.RefundWindow)
	case r.Keep > 0:
		rep.Cutoff = now.Add(-max(r.Keep, r.RefundWindow))
	default:
		return rep, nil
	}
	batch := r.Batch
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	rep.Pruned, err = l.prune(ctx, rep.Cutoff, batch)
	if verr := l.view("retain", func(tx *bolt.Tx) error { rep.Base = getU64(tx.Bucket(bucketMeta), keyBaseSeq); return nil }); err == nil {
		err = verr
	}
	return rep, err
}

func (l *Ledger) prune(ctx context.Context, before time.Time, batch int) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("ledger: prune %s: %w", l.path, err)
		}
		n := 0
		err := l.update("prune", func(c *commit) error {
			meta := c.tx.Bucket(bucketMeta)
			ack := getU64(meta, keyAck)
			entries, receipts, docs := c.tx.Bucket(bucketEntries), c.tx.Bucket(bucketReceipts), c.tx.Bucket(bucketDocs)
			cur := entries.Cursor()
			var lastSeq uint64
			var lastHash string
			var doomed [][]byte
			for k, v := cur.First(); k != nil && n < batch; k, v = cur.Next() {
				seq := binary.BigEndian.Uint64(k)
				if seq > ack {
					break
				}
				var e journal.Entry
				if err := decode(seq, v, &e); err != nil {
					return err
				}
				if !e.At.Before(before) {
					break
				}
				if e.Receipt != "" {
					if n, ok := documentNumber(l.prefix, e.Receipt); ok && docs != nil {
						if err := docs.Delete(u64(n)); err != nil {
							return err
						}
					}
					if err := receipts.Delete([]byte(e.Receipt)); err != nil {
						return err
					}
				}
				doomed = append(doomed, k)
				lastSeq, lastHash = seq, e.Hash
				n++
			}
			for _, k := range doomed {
				if err := entries.Delete(k); err != nil {
					return err
				}
			}
			if n == 0 {
				return nil
			}
			if err := meta.Put(keyBaseSeq, u64(lastSeq)); err != nil {
				return err
			}
			return meta.Put(keyBaseHash, []byte(lastHash))
		})
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// FreeSpace reports the free and total bytes of the partition holding the ledger (free as
// an unprivileged process sees it).
func (l *Ledger) FreeSpace() (free, total uint64, err error) {
	var st unix.Statfs_t
	dir := filepath.Dir(l.path)
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("ledger: free space %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}
