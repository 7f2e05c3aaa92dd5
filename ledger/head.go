package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The head record beside the ledger (path + ".head") witnesses the last committed entry:
// its seq and hash, and the last document number issued, written after each Append's commit, before Append returns, and
// fdatasync'd just after (see headFile). bbolt
// keeps two meta pages and opens at the older one, without a word, when the newer fails
// its checksum, so damage to the newest meta page after its fsync makes the file open one
// commit back: an entry that was printed would be gone and its seq and receipt number
// reused. The head record is outside the file that rolled back, so Open sees the loss.
//
// The record is two fixed slots of headSlot bytes, the one for an entry chosen by its seq's
// parity, each with a CRC: a torn write spoils at most the slot being written, and the
// other still holds the previous commit. Writes happen after the commit, never before,
// so the record can be behind the file (a cut between the two) but never ahead of it
// unless the file lost a commit.
const (
	headSlot  = 128
	headMagic = "tillbox-head/1\x00\x00" // 16 bytes
)

func headPath(path string) string { return path + ".head" }

type headRecord struct {
	Seq  uint64
	Hash string
	Doc  uint64 // the last document number issued (receipt numbers); 0 in older records
}

func encodeHead(h headRecord) []byte {
	b := make([]byte, headSlot)
	copy(b, headMagic)
	binary.BigEndian.PutUint64(b[16:], h.Seq)
	b[24] = byte(len(h.Hash))
	copy(b[25:25+64], h.Hash)
	binary.BigEndian.PutUint64(b[89:], h.Doc)
	binary.BigEndian.PutUint32(b[headSlot-4:], crc32.Checksum(b[:headSlot-4], crcTable))
	return b
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func decodeHead(b []byte) (headRecord, bool) {
	if len(b) != headSlot || !bytes.Equal(b[:16], []byte(headMagic)) || b[24] > 64 ||
		binary.BigEndian.Uint32(b[headSlot-4:]) != crc32.Checksum(b[:headSlot-4], crcTable) {
		return headRecord{}, false
	}
	return headRecord{Seq: binary.BigEndian.Uint64(b[16:]), Hash: string(b[25 : 25+int(b[24])]), Doc: binary.BigEndian.Uint64(b[89:])}, true
}

// readHead returns the newest valid slot of the head record; ok is false when there is no
// record or no slot is valid (no witness: a ledger from before the record, or one whose
// record was removed).
func readHead(path string) (h headRecord, ok bool, err error) {
	b, err := os.ReadFile(headPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("ledger: open %s: head record: %w", path, err)
	}
	for i := 0; i+headSlot <= len(b) && i < 2*headSlot; i += headSlot {
		if s, valid := decodeHead(b[i : i+headSlot]); valid && (!ok || s.Seq > h.Seq) {
			h, ok = s, true
		}
	}
	return h, ok, nil
}

// headFile is the writer's handle on the head record. Its fdatasync runs in a goroutine
// of its own (unless the ledger asks for SyncHead), so a sale does not wait for a second
// fsync: Append writes the record into the page cache and wakes the syncer, which makes it
// durable about one fsync later, long before the receipt of that sale has printed. A cut in
// between leaves the record one commit behind, which Open accepts (the file is ahead).
type headFile struct {
	f    *os.File
	last uint64 // the seq last written

	kick chan struct{} // wakes the syncer; buffered, so writes coalesce
	done chan struct{} // closed when the syncer has stopped
	mu   sync.Mutex
	err  error  // the syncer's last failure; nil after a sync that worked
	dir  string // a directory the syncer is to fsync too, once (see settle)
}

// openHead opens the head record for writing, creating it when there is none (created).
func openHead(path string) (hf *headFile, created bool, err error) {
	f, err := os.OpenFile(headPath(path), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		f, err = os.OpenFile(headPath(path), os.O_RDWR|os.O_CREATE, 0o600)
		created = true
	}
	if err != nil {
		return nil, false, fmt.Errorf("ledger: open %s: head record: %w", path, err)
	}
	hf = &headFile{f: f, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go hf.syncer()
	return hf, created, nil
}

func (hf *headFile) syncer() {
	defer close(hf.done)
	for range hf.kick {
		err := hf.syncNow()
		hf.mu.Lock()
		hf.err = err
		hf.mu.Unlock()
	}
}

// syncNow fdatasyncs the record, then fsyncs the directory settle asked for.
func (hf *headFile) syncNow() error {
	if err := fdatasync(hf.f); err != nil {
		return err
	}
	hf.mu.Lock()
	dir := hf.dir
	hf.mu.Unlock()
	if dir == "" {
		return nil
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	hf.mu.Lock()
	if hf.dir == dir {
		hf.dir = ""
	}
	hf.mu.Unlock()
	return nil
}

// settle makes durable a record that already holds h, as the process that wrote it left it
// (it fdatasync'd the record right after writing it, or was cut before it could; the same
// goes for the directory entry of a record it created): the record's fdatasync and the
// fsync of dir run on the syncer, beside the caller, unless sync asks for them before
// settle returns.
func (hf *headFile) settle(h headRecord, dir string, sync bool) error {
	hf.last = h.Seq
	hf.mu.Lock()
	hf.dir = dir
	hf.mu.Unlock()
	if sync {
		return hf.syncNow()
	}
	select {
	case hf.kick <- struct{}{}:
	default:
	}
	return nil
}

// write records h in its slot. With sync it fdatasyncs before returning; otherwise it
// hands the fdatasync to the syncer (none at all with noSync: a ledger whose bbolt file is
// not synced either, in tests and bulk builds). Seqs only move up: an older one is ignored.
func (hf *headFile) write(h headRecord, sync, noSync bool) error {
	if h.Seq < hf.last {
		return nil
	}
	if _, err := hf.f.WriteAt(encodeHead(h), int64(h.Seq%2)*headSlot); err != nil {
		return err
	}
	hf.last = h.Seq
	switch {
	case noSync:
	case sync:
		return fdatasync(hf.f)
	default:
		select {
		case hf.kick <- struct{}{}:
		default: // a sync is already due; it will cover this write
		}
	}
	return nil
}

// syncErr is the syncer's last failure.
func (hf *headFile) syncErr() error {
	hf.mu.Lock()
	defer hf.mu.Unlock()
	return hf.err
}

// close stops the syncer, syncs what it had not, and closes the file.
func (hf *headFile) close() error {
	close(hf.kick)
	<-hf.done
	err := hf.syncNow()
	if cerr := hf.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Gap is a range of seqs lost to a rolled-back commit and recorded so that they are never
// reused: From..To are not in the file, and the entry after To chains to Hash, the hash of
// To that the head record witnessed (HQ may hold those entries).
type Gap struct {
	From, To uint64
	Hash     string
}

// RollbackError reports a ledger file that ends before the last commit its head record
// witnessed: committed entries (printed receipts) are gone from the file. It matches
// ErrRolledBack. A writable Open records the gap (the next entry takes HeadSeq+1 and
// chains to the witnessed hash), opens, and keeps the error in Rollback() for the caller
// to journal and alert; a read-only open reports it from Verify.
type RollbackError struct {
	Path     string
	FileSeq  uint64 // last seq in the file
	HeadSeq  uint64 // last seq the head record witnessed
	HeadHash string
	HeadDoc  uint64 // last document number the head record witnessed
	Diverged bool   // the file holds HeadSeq with another hash: the number was reused
}

func (e *RollbackError) Error() string {
	if e.Diverged {
		return "ledger: open " + e.Path + ": " + ErrRolledBack.Error() + ": seq " + strconv.FormatUint(e.HeadSeq, 10) +
			" in the file is not the entry the head record witnessed (a lost commit whose number was reused)"
	}
	return fmt.Sprintf("ledger: open %s: %v: the file ends at seq %d but seq %d was committed (seq %d..%d lost; their numbers are not reused)",
		e.Path, ErrRolledBack, e.FileSeq, e.HeadSeq, e.FileSeq+1, e.HeadSeq)
}

// Is makes a RollbackError match ErrRolledBack.
func (e *RollbackError) Is(target error) bool { return target == ErrRolledBack }

// Gap is the range the rollback lost.
func (e *RollbackError) Gap() Gap { return Gap{From: e.FileSeq + 1, To: e.HeadSeq, Hash: e.HeadHash} }

// checkHead compares the file with its head record h (ok: there is one). It returns a
// *RollbackError when the file is behind the record or diverged from it, nil otherwise.
func checkHead(db *bolt.DB, path string, h headRecord, ok bool) (*RollbackError, error) {
	if !ok {
		return nil, nil
	}
	var rb *RollbackError
	err := safeView(db, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		last := getU64(meta, keyLastSeq)
		switch {
		case h.Seq > last:
			rb = &RollbackError{Path: path, FileSeq: last, HeadSeq: h.Seq, HeadHash: h.Hash, HeadDoc: h.Doc}
		case h.Seq == last:
			if string(meta.Get(keyLastHash)) != h.Hash {
				rb = &RollbackError{Path: path, FileSeq: last, HeadSeq: h.Seq, HeadHash: h.Hash, HeadDoc: h.Doc, Diverged: true}
			}
		case h.Seq > getU64(meta, keyBaseSeq):
			if v := tx.Bucket(bucketEntries).Get(u64(h.Seq)); v != nil {
				var e struct {
					Hash string `json:"hash"`
				}
				if json.Unmarshal(v, &e) == nil && e.Hash != h.Hash {
					rb = &RollbackError{Path: path, FileSeq: last, HeadSeq: h.Seq, HeadHash: h.Hash, HeadDoc: h.Doc, Diverged: true}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	return rb, nil
}

// recordGap makes a rolled-back file continue after the witnessed head: the gap is kept in
// meta, the last seq and hash move to the head's, and the document counter to at least the
// head's, so the next Append takes new numbers (seq and receipt) and chains to the hash HQ
// may already hold.
func recordGap(tx *bolt.Tx, g Gap, headDoc uint64) error {
	meta := tx.Bucket(bucketMeta)
	if doc, err := lastDocument(tx, meta, string(meta.Get(keyPrefix))); err != nil {
		return err
	} else if headDoc > doc {
		if err := meta.Put(keyLastDoc, u64(headDoc)); err != nil {
			return err
		}
	}
	gaps, err := readGaps(tx)
	if err != nil {
		return err
	}
	gaps = append(gaps, g)
	v, err := json.Marshal(gaps)
	if err != nil {
		return err
	}
	if err := meta.Put(keyGaps, v); err != nil {
		return err
	}
	if err := meta.Put(keyLastSeq, u64(g.To)); err != nil {
		return err
	}
	return meta.Put(keyLastHash, []byte(g.Hash))
}

func readGaps(tx *bolt.Tx) ([]Gap, error) {
	v := tx.Bucket(bucketMeta).Get(keyGaps)
	if v == nil {
		return nil, nil
	}
	var gaps []Gap
	if err := json.Unmarshal(v, &gaps); err != nil {
		return nil, &VerifyError{Reason: "recorded gaps do not decode: " + err.Error()}
	}
	return gaps, nil
}

// gapAt returns the recorded gap starting at seq.
func gapAt(gaps []Gap, seq uint64) (Gap, bool) {
	for _, g := range gaps {
		if g.From == seq {
			return g, true
		}
	}
	return Gap{}, false
}

// gapEnding returns the recorded gap ending at seq.
func gapEnding(gaps []Gap, seq uint64) (Gap, bool) {
	for _, g := range gaps {
		if g.To == seq {
			return g, true
		}
	}
	return Gap{}, false
}

// gapSize is the number of seqs in recorded gaps after base.
func gapSize(gaps []Gap, base uint64) uint64 {
	var n uint64
	for _, g := range gaps {
		if g.To > base {
			n += g.To - max(g.From-1, base)
		}
	}
	return n
}
