package ledger

import (
	"bufio"
	"io"

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
