package ledger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"tillbox/ledger/journal"

	bolt "go.etcd.io/bbolt"
)

// Report summarises a successful Verify.
type Report struct {
	Entries  int    // entries walked
	FirstSeq uint64 // first held seq (after pruning), 0 when none
	LastSeq  uint64
	LastHash string
}

// Verify walks the whole file: bbolt's page structure, then every entry in seq order
// (gapless, key equal to seq, identity, prev equal to the previous hash, hash equal to the
// content), the receipt index both ways, and the meta records. It reports the first broken
// link as a *VerifyError (which matches ErrCorrupt) and changes nothing.
func (l *Ledger) Verify() (Report, error) {
	var rep Report
	err := safeView(l.db, func(tx *bolt.Tx) error {
		// Drain every error: Check's goroutine reads pages until it has sent them all.
		var structural error
		for err := range tx.Check() {
			if structural == nil {
				structural = err
			}
		}
		if structural != nil {
			return &VerifyError{Reason: "page structure: " + structural.Error()}
		}
		meta := tx.Bucket(bucketMeta)
		base, last := getU64(meta, keyBaseSeq), getU64(meta, keyLastSeq)
		prev := string(meta.Get(keyBaseHash))
		receipts := tx.Bucket(bucketReceipts)
		want := base + 1
		c := tx.Bucket(bucketEntries).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				return &VerifyError{Seq: want, Reason: fmt.Sprintf("malformed key %x", k)}
			}
			seq := binary.BigEndian.Uint64(k)
			if seq != want {
				if seq > want {
					return &VerifyError{Seq: want, Reason: fmt.Sprintf("missing: the next entry held is seq %d", seq)}
				}
				return &VerifyError{Seq: seq, Reason: fmt.Sprintf("out of order: expected seq %d", want)}
			}
			var e journal.Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return &VerifyError{Seq: seq, Reason: "entry does not decode: " + err.Error()}
			}
			switch {
			case e.Seq != seq:
				return &VerifyError{Seq: seq, Reason: fmt.Sprintf("stored under seq %d but says seq %d", seq, e.Seq)}
			case e.Store != l.store || e.Till != l.till:
				return &VerifyError{Seq: seq, Reason: fmt.Sprintf("belongs to %s/%s, not %s/%s", e.Store, e.Till, l.store, l.till)}
			case e.Prev != prev:
				return &VerifyError{Seq: seq, Reason: fmt.Sprintf("prev %s does not match the hash of seq %d (%s)", journal.Short(e.Prev), seq-1, journal.Short(prev))}
			}
			if err := e.CheckHash(); err != nil {
				return &VerifyError{Seq: seq, Reason: err.Error()}
			}
			if e.Receipt != "" {
				if r := receipts.Get([]byte(e.Receipt)); len(r) != 8 || binary.BigEndian.Uint64(r) != seq {
					return &VerifyError{Seq: seq, Reason: fmt.Sprintf("receipt %s is not indexed to this entry", e.Receipt)}
				}
			}
			prev = e.Hash
			rep.Entries++
			if rep.FirstSeq == 0 {
				rep.FirstSeq = seq
			}
			want++
		}
		if want-1 != last {
			return &VerifyError{Seq: want, Reason: fmt.Sprintf("missing: meta says the last seq is %d", last)}
		}
		if h := string(meta.Get(keyLastHash)); h != prev {
			return &VerifyError{Reason: fmt.Sprintf("meta's last hash %s differs from the chain's %s", journal.Short(h), journal.Short(prev))}
		}
		if ack := getU64(meta, keyAck); ack > last {
			return &VerifyError{Reason: fmt.Sprintf("ack watermark %d beyond last seq %d", ack, last)}
		}
		err := receipts.ForEach(func(r, k []byte) error {
			if len(k) != 8 {
				return &VerifyError{Reason: fmt.Sprintf("receipt %s indexes a malformed key", r)}
			}
			if s := binary.BigEndian.Uint64(k); s <= base || s > last {
				return &VerifyError{Seq: s, Reason: fmt.Sprintf("receipt %s indexes an entry that is not held", r)}
			}
			return nil
		})
		if err != nil {
			return err
		}
		rep.LastSeq, rep.LastHash = last, prev
		return nil
	})
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			return rep, ve
		}
		return rep, fmt.Errorf("ledger: verify: %w", err)
	}
	return rep, nil
}
