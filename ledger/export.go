package ledger

import (
	"bufio"
	"encoding/binary"
	"io"
	"tillbox/ledger/journal"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Export writes every entry not yet acknowledged by HQ to w as JSON Lines, one stored entry
// (the exact wire payload, hash included) per line, in seq order. It is the path for a USB
// stick when the line stays down: HQ imports the file as if the entries had arrived over
// MQTT. It returns the number of entries written.
func (l *Ledger) Export(w io.Writer) (int, error) {
	var n int
	err := l.view("export", func(tx *bolt.Tx) error {
		bw := bufio.NewWriter(w)
		ack := getU64(tx.Bucket(bucketMeta), keyAck)
		c := tx.Bucket(bucketEntries).Cursor()
		for k, v := c.Seek(u64(ack + 1)); k != nil; k, v = c.Next() {
			if _, err := bw.Write(v); err != nil {
				return err
			}
			if err := bw.WriteByte('\n'); err != nil {
				return err
			}
			n++
		}
		return bw.Flush()
	})
	return n, err
}

// pruneBatch bounds one prune transaction so that the till's own commits are not held up.
const pruneBatch = 1000

// Prune deletes entries that HQ has acknowledged and that are older than before, oldest
// first, stopping at the first entry that is not both. It never deletes an unacknowledged
// entry. The hash of the last deleted entry becomes the chain's anchor, so Verify still
// checks every kept entry from the first one on. Receipt index records of deleted entries
// go with them. It returns how many entries were deleted.
func (l *Ledger) Prune(before time.Time) (int, error) {
	total := 0
	for {
		n := 0
		err := l.update("prune", func(c *commit) error {
			meta := c.tx.Bucket(bucketMeta)
			ack := getU64(meta, keyAck)
			entries, receipts := c.tx.Bucket(bucketEntries), c.tx.Bucket(bucketReceipts)
			cur := entries.Cursor()
			var lastSeq uint64
			var lastHash string
			var doomed [][]byte
			for k, v := cur.First(); k != nil && n < pruneBatch; k, v = cur.Next() {
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
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}
