package ledger

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"tillbox/ledger/journal"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Report summarises a successful Verify, VerifyRecent or VerifyInBackground.
type Report struct {
	Entries  int    // entries walked
	FirstSeq uint64 // first entry walked, 0 when none
	LastSeq  uint64
	LastHash string
	// From is the seq the walk started after: the pruned base for a full verify, the last
	// verified checkpoint for VerifyRecent.
	From uint64
	// Gaps are the ranges lost to a rolled-back commit and recorded as such (see
	// ErrRolledBack): the chain is verified across them, from the hash the head record
	// witnessed, but their entries are not in this file.
	Gaps []Gap
}

// Verify walks the whole file: bbolt's page structure, then every entry in seq order
// (gapless, key equal to seq, identity, prev equal to the previous hash, hash equal to the
// content, receipt number derived from the seq), the receipt index of older files both
// ways, and the meta records. It reports the first broken
// link as a *VerifyError (which matches ErrCorrupt) and changes nothing but the verified
// checkpoint, which it moves to the last entry when the ledger is writable.
//
// Its memory does not grow with the entries (they are streamed through one cursor), but
// bbolt's page check keeps a map of every page id, and its reads fault the whole file into
// the page cache (clean, reclaimable pages counted in RSS). The page check is not safe
// beside a writer, so Verify is for a ledger that nothing else writes to: the technician's
// read-only open, or the start of a process before it sells. While selling, use
// VerifyInBackground.
func (l *Ledger) Verify() (Report, error) {
	var rep Report
	err := l.viewDB(func(tx *bolt.Tx) error {
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
		base := getU64(meta, keyBaseSeq)
		var err error
		if rep, err = l.walk(tx, base, string(meta.Get(keyBaseHash)), 0); err != nil {
			return err
		}
		if err := checkTail(meta, rep); err != nil {
			return err
		}
		last := rep.LastSeq
		held := func(index string) func(r, k []byte) error {
			return func(r, k []byte) error {
				if len(k) != 8 {
					return &VerifyError{Reason: fmt.Sprintf("%s index: %x indexes a malformed key", index, r)}
				}
				if s := binary.BigEndian.Uint64(k); s <= base || s > last {
					return &VerifyError{Seq: s, Reason: fmt.Sprintf("%s index: %x indexes an entry that is not held", index, r)}
				}
				return nil
			}
		}
		if docs := tx.Bucket(bucketDocs); docs != nil {
			if err := docs.ForEach(held("document")); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketReceipts).ForEach(held("receipt"))
	})
	if err != nil {
		return rep, l.verifyErr(err)
	}
	if l.rollback != nil && l.opts.ReadOnly {
		return rep, l.rollback
	}
	return rep, l.moveCheckpoint(rep)
}

// VerifyRecent verifies what was written since the last verified checkpoint: each entry
// after it as Verify does (its link to the checkpoint's hash included), and the meta
// records; then it moves the checkpoint to the last entry. Its cost is that of the entries
// since the checkpoint, not of the ledger: this is the check at start-up, and it commits
// nothing itself: the checkpoint it moved is kept for the next commit (at start-up the
// till's power-up entry), which writes it into meta; later calls start from it meanwhile.
// A ledger closed before another commit verifies those entries again at its next start. A
// ledger never verified has its checkpoint at the pruned base (seq 0 for a new one).
func (l *Ledger) VerifyRecent() (Report, error) {
	var rep Report
	err := l.viewDB(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		from, prev, err := l.checkpoint(tx)
		if err != nil {
			return err
		}
		if rep, err = l.walk(tx, from, prev, 0); err != nil {
			return err
		}
		return checkTail(meta, rep)
	})
	if err != nil {
		return rep, l.verifyErr(err)
	}
	if l.rollback != nil && l.opts.ReadOnly {
		return rep, l.rollback
	}
	l.deferCheckpoint(rep)
	return rep, nil
}

// backgroundChunk bounds the entries one read transaction of VerifyInBackground walks.
// A read transaction does not block Append, except when Append must grow the file's
// memory map, which waits for every open read transaction: short ones keep that wait short.
var backgroundChunk = 5000

// VerifyInBackground walks the whole chain as Verify does (without bbolt's page check,
// which is not safe beside a writer) in short read transactions, so the till keeps selling
// while it runs. Entries pruned meanwhile are skipped: the walk continues from the new
// anchor. When it reaches the end it moves the checkpoint to the last entry it verified.
// It stops with ctx's error when ctx ends; run it in a goroutine.
func (l *Ledger) VerifyInBackground(ctx context.Context) (Report, error) {
	var total Report
	var from uint64
	var prev string
	started := false
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("ledger: verify %s: %w", l.path, err)
		}
		var rep Report
		done := false
		err := l.viewDB(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if base := getU64(meta, keyBaseSeq); !started || from < base {
				from, prev, started = base, string(meta.Get(keyBaseHash)), true
			}
			var err error
			if rep, err = l.walk(tx, from, prev, backgroundChunk); err != nil {
				return err
			}
			if rep.LastSeq == getU64(meta, keyLastSeq) {
				done = true
				return checkTail(meta, rep)
			}
			return nil
		})
		if err != nil {
			return total, l.verifyErr(err)
		}
		if total.FirstSeq == 0 {
			total.FirstSeq, total.From = rep.FirstSeq, rep.From
		}
		total.Entries += rep.Entries
		total.LastSeq, total.LastHash, total.Gaps = rep.LastSeq, rep.LastHash, rep.Gaps
		from, prev = rep.LastSeq, rep.LastHash
		if done {
			return total, l.moveCheckpoint(total)
		}
	}
}

// LastFullVerify is when a full pass (Verify or VerifyInBackground) last passed on this
// ledger opened writable; zero when none ever did.
func (l *Ledger) LastFullVerify() (time.Time, error) {
	var at time.Time
	err := l.view("last full verify", func(tx *bolt.Tx) error {
		if ms := getU64(tx.Bucket(bucketMeta), keyFullAt); ms > 0 {
			at = time.UnixMilli(int64(ms)).UTC()
		}
		return nil
	})
	return at, err
}

// checkpoint is where VerifyRecent starts: the verified checkpoint (the one VerifyRecent
// left for the next commit, when later than the file's), or the pruned base when that is
// later (or no checkpoint was ever written). The checkpoint's own entry, when held, must
// still have the hash the checkpoint recorded.
func (l *Ledger) checkpoint(tx *bolt.Tx) (uint64, string, error) {
	meta := tx.Bucket(bucketMeta)
	base, cp := getU64(meta, keyBaseSeq), getU64(meta, keyCheckSeq)
	stored := meta.Get(keyCheckHash)
	hash, has := string(stored), stored != nil
	if p := l.pendingCheckpoint(); p.Seq > cp {
		cp, hash, has = p.Seq, p.Hash, true
	}
	if cp <= base || !has {
		return base, string(meta.Get(keyBaseHash)), nil
	}
	if cp > getU64(meta, keyLastSeq) {
		return 0, "", &VerifyError{Reason: fmt.Sprintf("verified checkpoint %d beyond last seq %d", cp, getU64(meta, keyLastSeq))}
	}
	if v := tx.Bucket(bucketEntries).Get(u64(cp)); v != nil {
		var e journal.Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return 0, "", &VerifyError{Seq: cp, Reason: "entry does not decode: " + err.Error()}
		}
		if e.Hash != hash {
			return 0, "", &VerifyError{Seq: cp, Reason: fmt.Sprintf("hash %s differs from the verified checkpoint's %s", journal.Short(e.Hash), journal.Short(hash))}
		}
	}
	return cp, hash, nil
}

// walk checks the entries after seq from, in order, the first of them chaining to prev:
// gapless except for recorded gaps, key equal to seq, identity, prev link, hash, receipt
// index. It stops after limit entries (limit <= 0: at the end). It holds one entry at a time.
func (l *Ledger) walk(tx *bolt.Tx, from uint64, prev string, limit int) (Report, error) {
	rep := Report{From: from, LastSeq: from, LastHash: prev}
	gaps, err := readGaps(tx)
	if err != nil {
		return rep, err
	}
	rep.Gaps = gaps
	want := from + 1
	c := tx.Bucket(bucketEntries).Cursor()
	for k, v := c.Seek(u64(want)); k != nil; k, v = c.Next() {
		if limit > 0 && rep.Entries >= limit {
			break
		}
		if len(k) != 8 {
			return rep, &VerifyError{Seq: want, Reason: fmt.Sprintf("malformed key %x", k)}
		}
		seq := binary.BigEndian.Uint64(k)
		if g, ok := gapAt(gaps, want); ok && seq > want {
			// A recorded gap: the entries up to g.To were lost to a rollback; the next one
			// chains to the hash the head record witnessed for g.To.
			want, prev = g.To+1, g.Hash
		}
		if seq != want {
			if seq > want {
				return rep, &VerifyError{Seq: want, Reason: fmt.Sprintf("missing: the next entry held is seq %d", seq)}
			}
			return rep, &VerifyError{Seq: seq, Reason: fmt.Sprintf("out of order: expected seq %d", want)}
		}
		var e journal.Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return rep, &VerifyError{Seq: seq, Reason: "entry does not decode: " + err.Error()}
		}
		switch {
		case e.Seq != seq:
			return rep, &VerifyError{Seq: seq, Reason: fmt.Sprintf("stored under seq %d but says seq %d", seq, e.Seq)}
		case e.Store != l.store || e.Till != l.till:
			return rep, &VerifyError{Seq: seq, Reason: fmt.Sprintf("belongs to %s/%s, not %s/%s", e.Store, e.Till, l.store, l.till)}
		case e.Prev != prev:
			return rep, &VerifyError{Seq: seq, Reason: fmt.Sprintf("prev %s does not match the hash of seq %d (%s)", journal.Short(e.Prev), seq-1, journal.Short(prev))}
		}
		if err := e.CheckHash(); err != nil {
			return rep, &VerifyError{Seq: seq, Reason: err.Error()}
		}
		if e.Kind.Document() != (e.Receipt != "") {
			return rep, &VerifyError{Seq: seq, Reason: fmt.Sprintf("a %s entry with receipt %q", e.Kind, e.Receipt)}
		}
		if e.Receipt != "" {
			// ByReceipt finds the entry through the docs index (or an older file's receipt
			// index): it must lead here.
			if s, ok := receiptSeq(tx, l.prefix, e.Receipt); !ok || s != seq {
				return rep, &VerifyError{Seq: seq, Reason: fmt.Sprintf("receipt %s is not indexed to this entry", e.Receipt)}
			}
		}
		prev = e.Hash
		rep.Entries++
		if rep.FirstSeq == 0 {
			rep.FirstSeq = seq
		}
		rep.LastSeq, rep.LastHash = seq, prev
		want++
	}
	if limit <= 0 || rep.Entries < limit {
		// At the end: a gap recorded after the last held entry ends the chain at its hash.
		if g, ok := gapAt(gaps, want); ok {
			rep.LastSeq, rep.LastHash = g.To, g.Hash
		}
	}
	return rep, nil
}

// checkTail checks the meta records against a walk that reached the last entry.
func checkTail(meta *bolt.Bucket, rep Report) error {
	last := getU64(meta, keyLastSeq)
	if rep.LastSeq != last {
		return &VerifyError{Seq: rep.LastSeq + 1, Reason: fmt.Sprintf("missing: meta says the last seq is %d", last)}
	}
	if h := string(meta.Get(keyLastHash)); h != rep.LastHash {
		return &VerifyError{Reason: fmt.Sprintf("meta's last hash %s differs from the chain's %s", journal.Short(h), journal.Short(rep.LastHash))}
	}
	if ack := getU64(meta, keyAck); ack > last {
		return &VerifyError{Reason: fmt.Sprintf("ack watermark %d beyond last seq %d", ack, last)}
	}
	return nil
}

// A checkpointMark is a verified entry: its seq and hash.
type checkpointMark struct {
	Seq  uint64
	Hash string
}

// deferCheckpoint keeps rep's end as verified, for the next commit to write into meta
// (writeCheckpoint). A read-only ledger keeps its checkpoint.
func (l *Ledger) deferCheckpoint(rep Report) {
	if l.opts.ReadOnly {
		return
	}
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	if rep.LastSeq > rep.From && rep.LastSeq > l.cpPending.Seq {
		l.cpPending = checkpointMark{Seq: rep.LastSeq, Hash: rep.LastHash}
	}
}

func (l *Ledger) pendingCheckpoint() checkpointMark {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	return l.cpPending
}

// writeCheckpoint puts the deferred checkpoint into meta in the commit tx, when it is
// beyond the file's checkpoint and its pruned base; it returns what it put (zero: nothing).
func writeCheckpoint(tx *bolt.Tx, p checkpointMark) (checkpointMark, error) {
	meta := tx.Bucket(bucketMeta)
	if p.Seq <= getU64(meta, keyCheckSeq) || p.Seq <= getU64(meta, keyBaseSeq) {
		return checkpointMark{}, nil
	}
	if err := meta.Put(keyCheckSeq, u64(p.Seq)); err != nil {
		return checkpointMark{}, err
	}
	return p, meta.Put(keyCheckHash, []byte(p.Hash))
}

// checkpointWritten forgets the deferred checkpoint once a commit has written it (unless a
// later one was deferred meanwhile).
func (l *Ledger) checkpointWritten(p checkpointMark) {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	if p.Seq != 0 && l.cpPending.Seq <= p.Seq {
		l.cpPending = checkpointMark{}
	}
}

// moveCheckpoint records the end of a full pass rep as verified, inside a commit, when it is
// beyond the current checkpoint, and the time of the pass. A read-only ledger keeps its
// checkpoint.
func (l *Ledger) moveCheckpoint(rep Report) error {
	if l.opts.ReadOnly {
		return nil
	}
	return l.update("verify", func(c *commit) error {
		meta := c.tx.Bucket(bucketMeta)
		if err := meta.Put(keyFullAt, u64(uint64(l.opts.Clock().UnixMilli()))); err != nil {
			return err
		}
		if rep.LastSeq <= getU64(meta, keyCheckSeq) || rep.LastSeq <= getU64(meta, keyBaseSeq) {
			return nil
		}
		if err := meta.Put(keyCheckSeq, u64(rep.LastSeq)); err != nil {
			return err
		}
		return meta.Put(keyCheckHash, []byte(rep.LastHash))
	})
}

// verifyErr gives a verify failure its path: a *VerifyError stays one (with Path set).
func (l *Ledger) verifyErr(err error) error {
	var ve *VerifyError
	if errors.As(err, &ve) {
		ve.Path = l.path
		return ve
	}
	return fmt.Errorf("ledger: verify %s: %w", l.path, err)
}
