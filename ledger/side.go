package ledger

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A Side is a record written in the same commit as an entry (or by Update on its own): a
// local stock delta, a durable print job, or a caller's named record. Either the entry and
// all its sides are committed, or none of them is.
type Side interface {
	apply(c *commit) error
}

// commit is the state of one write transaction, seen by the sides applied in it.
type commit struct {
	tx    *bolt.Tx
	seq   uint64   // seq of the entry being appended, 0 in a side-only Update
	jobs  []uint64 // job ids assigned in this commit
	stock *bolt.Bucket
}

type sideFunc func(c *commit) error

func (f sideFunc) apply(c *commit) error { return f(c) }

// StockDelta adds qty (thousandths; negative for a sale) to the local stock level of item.
func StockDelta(item string, qty int64) Side {
	return sideFunc(func(c *commit) error {
		if item == "" || len(item) > maxKeyLen {
			return fmt.Errorf("%w: stock item %q", ErrInvalid, item)
		}
		b := c.tx.Bucket(bucketStock)
		k := []byte(item)
		var level int64
		if v := b.Get(k); len(v) == 8 {
			level = int64(binary.BigEndian.Uint64(v))
		}
		return b.Put(k, u64(uint64(level+qty)))
	})
}

// StockSet sets the local stock level of item (a count, or levels received from HQ).
func StockSet(item string, qty int64) Side {
	return sideFunc(func(c *commit) error {
		if item == "" || len(item) > maxKeyLen {
			return fmt.Errorf("%w: stock item %q", ErrInvalid, item)
		}
		return c.tx.Bucket(bucketStock).Put([]byte(item), u64(uint64(qty)))
	})
}

// Job is a durable print job: a document the printer must print exactly once.
type Job struct {
	ID       uint64          `json:"id"`
	Seq      uint64          `json:"seq"`      // the entry it prints; 0 for a job without one
	Doc      json.RawMessage `json:"doc"`      // the printer's document, as the caller encoded it
	Attempts int             `json:"attempts"` // times printing was started; >0 after a crash means a copy may have come out
}

// PrintJob records a print job for the entry being appended. Its id is assigned in the
// commit, gapless from 1, and returned in Result.Jobs. doc must be valid JSON.
func PrintJob(doc []byte) Side {
	return sideFunc(func(c *commit) error {
		if !json.Valid(doc) {
			return fmt.Errorf("%w: print job document is not JSON", ErrInvalid)
		}
		meta := c.tx.Bucket(bucketMeta)
		id := getU64(meta, keyNextJob) + 1
		j := Job{ID: id, Seq: c.seq, Doc: doc}
		v, err := json.Marshal(&j)
		if err != nil {
			return err
		}
		if err := c.tx.Bucket(bucketJobs).Put(u64(id), v); err != nil {
			return err
		}
		c.jobs = append(c.jobs, id)
		return meta.Put(keyNextJob, u64(id))
	})
}

// JobStarted counts an attempt to print job id. Commit it before the first byte goes to the
// printer: after a crash, a job with attempts is printed again marked as a reprint.
func JobStarted(id uint64) Side {
	return sideFunc(func(c *commit) error {
		b := c.tx.Bucket(bucketJobs)
		v := b.Get(u64(id))
		if v == nil {
			return fmt.Errorf("print job %d: %w", id, ErrNotFound)
		}
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			return fmt.Errorf("%w: print job %d: %v", ErrCorrupt, id, err)
		}
		j.Attempts++
		nv, err := json.Marshal(&j)
		if err != nil {
			return err
		}
		return b.Put(u64(id), nv)
	})
}

// JobDone removes job id from the queue: it has printed. Removing a job that is not there
// is not an error, so a retry after a crash is harmless.
func JobDone(id uint64) Side {
	return sideFunc(func(c *commit) error { return c.tx.Bucket(bucketJobs).Delete(u64(id)) })
}

// Put stores value under key in the caller's named bucket (parked sales, the open sale,
// the catalog, counters). Bucket and key are free-form but non-empty.
func Put(bucket, key string, value []byte) Side {
	return sideFunc(func(c *commit) error {
		if err := checkName(bucket, key); err != nil {
			return err
		}
		b, err := c.tx.Bucket(bucketUser).CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), value)
	})
}

// Delete removes key from the caller's named bucket; a missing key is not an error.
func Delete(bucket, key string) Side {
	return sideFunc(func(c *commit) error {
		if err := checkName(bucket, key); err != nil {
			return err
		}
		b := c.tx.Bucket(bucketUser).Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}

const maxKeyLen = 256

func checkName(bucket, key string) error {
	if bucket == "" || key == "" || len(bucket) > maxKeyLen || len(key) > maxKeyLen {
		return fmt.Errorf("%w: record %q/%q: bucket and key must be 1-%d bytes", ErrInvalid, bucket, key, maxKeyLen)
	}
	return nil
}
