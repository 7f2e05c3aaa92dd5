package ledger

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"tillbox/ledger/journal"
)

// Bucket and meta key names. Changing any of them changes the file format.
var (
	bucketMeta     = []byte("meta")
	bucketEntries  = []byte("entries")  // seq (8 bytes, big-endian) -> entry JSON
	bucketReceipts = []byte("receipts") // receipt number -> seq: written by older versions only
	bucketDocs     = []byte("docs")     // document number (8 bytes) -> seq (8 bytes), in order
	bucketStock    = []byte("stock")    // item -> level (int64 thousandths, big-endian)
	bucketJobs     = []byte("jobs")     // job id -> Job JSON
	bucketUser     = []byte("records")  // caller's named buckets

	keyFormat    = []byte("format")
	keyStore     = []byte("store")
	keyTill      = []byte("till")
	keyPrefix    = []byte("prefix")
	keyLastSeq   = []byte("last-seq")
	keyLastHash  = []byte("last-hash")
	keyAck       = []byte("ack")       // HQ's acknowledgement watermark
	keyBaseSeq   = []byte("base-seq")  // last pruned seq: entries start after it
	keyBaseHash  = []byte("base-hash") // hash of the last pruned entry: the chain's anchor
	keyNextJob   = []byte("last-job")
	keyCheckSeq  = []byte("verified-seq")     // the last entry a verify pass reached
	keyCheckHash = []byte("verified-hash")    // its hash
	keyGaps      = []byte("gaps")             // JSON []Gap: seqs lost to a rollback, never reused
	keyFullAt    = []byte("full-verified-at") // unix ms of the last full verify that passed
	keyLastDoc   = []byte("last-doc")         // the last document number issued
)

const fileFormat = "tillbox-ledger/1"

// Layout of the file on disk. The ledger's big buckets are keyed by increasing numbers
// (entries by seq, print jobs by id), so nearly every write lands at the right edge of its
// B+tree. A receipt number is derived from its entry's seq and looked up by it, so there is
// no receipt index to write (a commit at 1M entries writes three B+tree pages fewer). bbolt's default fill (50%) leaves every page
// it splits half empty for ever, which on append-only data doubles the file; the writer
// sets appendFill on those buckets in every write transaction, so split pages are left
// full.
//
// newPageSize is the page size of a file this package creates (bbolt keeps it in the meta
// page; an older file keeps its own). When a commit's last leaf overflows, bbolt splits it
// so that the new right-hand leaf gets at least three elements, even at full fill: a leaf
// left behind holds three entries fewer than fit. An entry is about a kilobyte, so in 4 KiB
// pages a leaf keeps two entries (48% used), in 16 KiB pages 14 (83%) and in 32 KiB pages
// 31 (92%). A commit then writes a 32 KiB leaf where it wrote a 4 KiB one; on this class of
// storage the fsync costs far more than the extra bytes (measured: the same Append latency).
//
// bbolt's other options stay at their defaults on purpose. NoFreelistSync would save a
// page write per commit but makes every open scan the whole file to rebuild the freelist,
// so start-up would grow with the ledger. The array freelist is right for a tree that
// grows at its right edge: few pages are ever free, except after a prune, which
// compaction gives back.
const (
	appendFill  = 1.0
	newPageSize = 32 << 10
)

// fillAppendOnly sets appendFill on the buckets written in key order; it must be called in
// each write transaction (FillPercent lives on the transaction's bucket handle).
func fillAppendOnly(tx *bolt.Tx) {
	for _, name := range [][]byte{bucketEntries, bucketReceipts, bucketDocs, bucketJobs} {
		if b := tx.Bucket(name); b != nil {
			b.FillPercent = appendFill
		}
	}
}

// Options configure Open. The zero value is usable for an existing file.
type Options struct {
	// Store and Till are the till's identity ([a-z0-9-], 1-32). Required to create a
	// ledger; when opening an existing one they must match the file's, or be empty to
	// accept whatever the file says (technician tools).
	Store, Till string
	// ReceiptPrefix is written into a new ledger; receipt numbers are prefix-seq.
	// Default journal.DefaultPrefix(Store, Till), e.g. "S042-T03".
	ReceiptPrefix string
	// LockTimeout bounds the wait for another process's lock. Default 1s.
	LockTimeout time.Duration
	// ReadOnly opens with a shared lock and refuses writes (verify, export, stats while
	// the till is stopped). A read-only open never creates the file.
	ReadOnly bool
	// MaxEntryBytes refuses larger entries with ErrInvalid. Default 256 KiB.
	MaxEntryBytes int
	// Clock stamps entries whose At is zero. Default time.Now.
	Clock func() time.Time
	// Sign, when set, signs each appended entry inside its commit: it is called with
	// journal.SigMessage(hash) and returns the signature, stored base64url in the entry's
	// sig field after the hash (the till's device key; HQ verifies it). An error fails the
	// Append and nothing is stored. Nil: entries are stored unsigned, as before.
	Sign func(msg []byte) ([]byte, error)
	// MaxBytes lowers the largest file the ledger lets itself grow to (a small partition,
	// tests). It never raises PlatformMaxBytes. Zero: the platform's limit.
	MaxBytes int64
	// SyncHead makes Append return only once the head record (see RollbackError) is
	// fdatasync'd too: one more fsync per sale, about half again Append's latency. By
	// default that fdatasync runs right after Append returns, beside the sale's printing.
	SyncHead bool
}

// PlatformMaxBytes is the largest ledger file this platform can open: bbolt maps the whole
// file into the address space, and a 32-bit process (armv7) cannot map 2 GiB. On 64-bit
// platforms the limit is bbolt's own (256 TiB), far beyond any disk a till has.
var PlatformMaxBytes = platformMax(strconv.IntSize)

func platformMax(intSize int) int64 {
	if intSize == 32 {
		return math.MaxInt32 // bbolt's largest map on 32-bit platforms: 2 GiB - 1
	}
	return 1 << 48
}

// NearLimitFraction of the size limit is where Limit starts to report ErrNearLimit: far
// enough before the limit for a technician to prune, compact or move the ledger.
const NearLimitFraction = 0.75

// Ledger is an open journal. Its methods are safe for concurrent use; writes are serialised
// by bbolt and each one is fsync'd before it returns.
type Ledger struct {
	db     *bolt.DB
	path   string
	opts   Options
	store  string
	till   string
	prefix string
	closed atomic.Bool

	head     *headFile      // the writer's head record; nil when read-only
	headMu   sync.Mutex     // orders head writes
	rollback *RollbackError // found at open; nil when the file matched its head record
	headErr  error          // the last head write's failure, under headMu
	dbMu     sync.RWMutex   // held exclusively only while Compact replaces db
	maxSize  int64          // the size limit: Options.MaxBytes or PlatformMaxBytes
	lastApp  atomic.Int64   // unix ns of this process's last Append; 0 before the first

	cpMu      sync.Mutex     // guards cpPending
	cpPending checkpointMark // verified by VerifyRecent, for the next commit to write
}

// Open opens the ledger at path, creating it when it does not exist (unless ReadOnly).
//
// A file that exists but fails to open or fails its structural checks is reported with the
// reason (errors.Is(err, ErrCorrupt)) and left exactly as it was: never truncated, never
// recreated. A file locked by another process gives ErrInUse after LockTimeout.
func Open(path string, opts *Options) (*Ledger, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.MaxEntryBytes <= 0 {
		o.MaxEntryBytes = 256 << 10
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	maxSize := PlatformMaxBytes
	if o.MaxBytes > 0 && o.MaxBytes < maxSize {
		maxSize = o.MaxBytes
	}
	for _, id := range []string{o.Store, o.Till} {
		if id != "" && !journal.ValidID(id) {
			return nil, fmt.Errorf("ledger: open %s: %w: id %q: want 1-32 of [a-z0-9-]", path, ErrInvalid, id)
		}
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !o.ReadOnly:
		if err := create(path, &o); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("ledger: open %s: %w: not a regular file", path, ErrCorrupt)
	case fi.Size() == 0:
		// bbolt would initialise an empty file in place; an empty ledger file is a damaged
		// one (cut during creation by something other than Open), so it is kept as found.
		return nil, fmt.Errorf("ledger: open %s: %w: file is empty (kept as found)", path, ErrCorrupt)
	case fi.Size() > maxSize:
		return nil, tooLarge(path, fi.Size(), maxSize)
	}

	// One open: the writable one is checked by lockedFile to write nothing, so that a file
	// failing the checks below is left as it was. When that cannot be told, the file is
	// checked read-only first, as a whole open of its own.
	mode := boltReadOnly
	if !o.ReadOnly {
		mode = boltWritable
	}
	db, err := openBolt(path, mode, o.LockTimeout, maxSize)
	if errors.Is(err, errNeedsReadOnlyCheck) {
		db, err = openCheckedFirst(path, &o, maxSize)
	}
	if err != nil {
		return nil, err
	}
	store, till, prefix, err := checkMeta(db, path, &o)
	if err != nil {
		db.Close()
		return nil, err
	}
	if !o.ReadOnly {
		removeStaleCompaction(path) // under the lock: no other process is compacting
	}
	l := &Ledger{db: db, path: path, opts: o, store: store, till: till, prefix: prefix, maxSize: maxSize}
	l.lastApp.Store(time.Now().UnixNano())
	if err := l.openHead(); err != nil {
		db.Close()
		return nil, err
	}
	if !o.ReadOnly {
		writeOwner(path)
	}
	return l, nil
}

// openHead compares the file with its head record (see head.go) and, when writable, records
// a rollback's gap and opens the record for the commits to come. A record that does not
// hold the file's last commit yet is written and fdatasync'd, and the directory fsync'd,
// before Open returns; one that already holds it is left as it is and made sure of on the
// record's syncer (headFile.settle), as after an Append.
func (l *Ledger) openHead() error {
	rec, have, err := readHead(l.path)
	if err != nil {
		return err
	}
	rb, err := checkHead(l.db, l.path, rec, have)
	if err != nil {
		return err
	}
	l.rollback = rb
	if l.opts.ReadOnly {
		return nil
	}
	if rb != nil {
		if rb.Diverged {
			return rb
		}
		err := l.db.Update(func(tx *bolt.Tx) error { return recordGap(tx, rb.Gap(), rb.HeadDoc) })
		if err != nil {
			return fmt.Errorf("ledger: open %s: record the rolled-back seqs %d..%d: %w", l.path, rb.FileSeq+1, rb.HeadSeq, classify(err))
		}
	}
	var created bool
	if l.head, created, err = openHead(l.path); err != nil {
		return err
	}
	var h headRecord
	err = safeView(l.db, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		h = headRecord{Seq: getU64(meta, keyLastSeq), Hash: string(meta.Get(keyLastHash)), Doc: getU64(meta, keyLastDoc)}
		return nil
	})
	dir := filepath.Dir(l.path)
	switch {
	case err != nil:
	case have && !created && rec == h:
		err = l.head.settle(h, dir, l.opts.SyncHead)
	default:
		if err = l.head.write(h, true, false); err == nil {
			err = syncDir(dir)
		}
	}
	if err != nil {
		l.head.close()
		return fmt.Errorf("ledger: open %s: head record: %w", l.path, err)
	}
	return nil
}

// Rollback is the rollback found when the ledger was opened (see RollbackError), or nil.
// The writable open has already recorded the gap so that no number is reused; the caller
// journals the loss (an integrity-error entry), alerts and asks for a technician.
func (l *Ledger) Rollback() *RollbackError { return l.rollback }

// openCheckedFirst is the writable open of a file that bbolt's writable open might write to
// (or on a platform without lockExclusive): the file is opened read-only and passes
// checkMeta before it is opened for writing.
func openCheckedFirst(path string, o *Options, maxSize int64) (*bolt.DB, error) {
	ro, err := openBolt(path, boltReadOnly, o.LockTimeout, maxSize)
	if err != nil {
		return nil, err
	}
	_, _, _, err = checkMeta(ro, path, o)
	ro.Close()
	if err != nil {
		return nil, err
	}
	return openBolt(path, boltWritableChecked, o.LockTimeout, maxSize)
}

// How openBolt opens the file.
type boltMode int

const (
	boltReadOnly        boltMode = iota // shared lock, no writes
	boltWritable                        // exclusive lock; errNeedsReadOnlyCheck unless bbolt's open writes nothing
	boltWritableChecked                 // exclusive lock, after a read-only open passed checkMeta
)

// openBolt opens the file with bbolt, turning its lock timeout and its panics on damaged
// pages into this package's errors. A writable open never creates the file; boltWritable
// gives errNeedsReadOnlyCheck (wrapped) when bbolt's open might write to it (see
// lockedFile).
func openBolt(path string, mode boltMode, timeout time.Duration, maxSize int64) (db *bolt.DB, err error) {
	lf := &lockedFile{timeout: timeout}
	defer func() {
		if r := recover(); r != nil {
			if lf.opened != nil {
				// bbolt never got to return it: its lock goes (the mapping bbolt may
				// have made of it stays, and with it the file, until the process ends).
				unlock(lf.opened)
				lf.opened.Close()
			}
			db, err = nil, fmt.Errorf("ledger: open %s: %w: %v (kept as found)", path, ErrCorrupt, r)
		}
	}()
	bo := &bolt.Options{Timeout: timeout, ReadOnly: mode == boltReadOnly}
	switch mode {
	case boltWritable:
		bo.OpenFile = lf.open
	case boltWritableChecked:
		bo.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag&^os.O_CREATE, perm)
		}
	}
	if maxSize < PlatformMaxBytes || strconv.IntSize == 32 {
		bo.MaxSize = int(maxSize) // growth beyond it fails the commit with ErrTooLarge
	}
	db, err = bolt.Open(path, 0o600, bo)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, errNeedsReadOnlyCheck):
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	case isMapLimit(err):
		size := int64(-1)
		if fi, serr := os.Stat(path); serr == nil {
			size = fi.Size()
		}
		return nil, tooLarge(path, size, maxSize)
	case errors.Is(err, berrors.ErrTimeout):
		holder := readOwner(path)
		if holder != "" {
			return nil, fmt.Errorf("ledger: open %s: %w (%s)", path, ErrInUse, holder)
		}
		return nil, fmt.Errorf("ledger: open %s: %w", path, ErrInUse)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("ledger: open %s: %w: %v (kept as found)", path, ErrCorrupt, err)
	default:
		return nil, fmt.Errorf("ledger: open %s: %w: %v (kept as found)", path, ErrCorrupt, err)
	}
}

// checkMeta reads the identity and checks the cheap invariants: format, buckets, and the
// tail (the last entry is where meta says, and hashes to what meta says). Verify walks all.
func checkMeta(db *bolt.DB, path string, o *Options) (store, till, prefix string, err error) {
	err = safeView(db, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("%w: no meta bucket (not a tillbox ledger?)", ErrCorrupt)
		}
		if f := string(meta.Get(keyFormat)); f != fileFormat {
			return fmt.Errorf("%w: format %q, want %q", ErrCorrupt, f, fileFormat)
		}
		for _, name := range [][]byte{bucketEntries, bucketReceipts, bucketStock, bucketJobs, bucketUser} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, name)
			}
		}
		store, till, prefix = string(meta.Get(keyStore)), string(meta.Get(keyTill)), string(meta.Get(keyPrefix))
		if !journal.ValidID(store) || !journal.ValidID(till) || prefix == "" {
			return fmt.Errorf("%w: identity %q/%q unreadable", ErrCorrupt, store, till)
		}
		if o.Store != "" && o.Store != store || o.Till != "" && o.Till != till {
			return fmt.Errorf("%w: file is store %q till %q, asked for store %q till %q", ErrIdentity, store, till, o.Store, o.Till)
		}
		last, base := getU64(meta, keyLastSeq), getU64(meta, keyBaseSeq)
		gaps, err := readGaps(tx)
		if err != nil {
			return err
		}
		if g, ok := gapEnding(gaps, last); ok && last > base {
			// The file's last seq was lost to a rollback and recorded: the chain's end is
			// the hash the head record witnessed.
			if string(meta.Get(keyLastHash)) != g.Hash {
				return fmt.Errorf("%w: last seq %d is a recorded gap but the last hash differs from the gap's", ErrCorrupt, last)
			}
			return nil
		}
		if getU64(meta, keyAck) > last {
			return fmt.Errorf("%w: ack watermark %d beyond last seq %d", ErrCorrupt, getU64(meta, keyAck), last)
		}
		if last == base {
			if string(meta.Get(keyLastHash)) != string(meta.Get(keyBaseHash)) {
				return fmt.Errorf("%w: no entries after base %d but last hash differs from base hash", ErrCorrupt, base)
			}
			return nil
		}
		k, v := tx.Bucket(bucketEntries).Cursor().Last()
		if k == nil || binary.BigEndian.Uint64(k) != last {
			return &VerifyError{Seq: last, Reason: "meta says this is the last entry, but it is missing"}
		}
		var e journal.Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return &VerifyError{Seq: last, Reason: "entry does not decode: " + err.Error()}
		}
		if err := e.CheckHash(); err != nil {
			return &VerifyError{Seq: last, Reason: err.Error()}
		}
		if e.Hash != string(meta.Get(keyLastHash)) {
			return &VerifyError{Seq: last, Reason: "hash differs from the one meta recorded"}
		}
		return nil
	})
	if err != nil {
		return "", "", "", fmt.Errorf("ledger: open %s: %w (kept as found)", path, err)
	}
	return store, till, prefix, nil
}

// create makes a new ledger atomically: it is initialised under a temporary name and linked
// into place only when complete, so a power cut during creation never leaves a half-made
// ledger at path. If another process created path meanwhile, that one wins and is opened.
func create(path string, o *Options) error {
	if !journal.ValidID(o.Store) || !journal.ValidID(o.Till) {
		return fmt.Errorf("ledger: create %s: %w: store and till ids are required ([a-z0-9-], got %q/%q)", path, ErrInvalid, o.Store, o.Till)
	}
	prefix := o.ReceiptPrefix
	if prefix == "" {
		prefix = journal.DefaultPrefix(o.Store, o.Till)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("ledger: create %s: %w", path, err)
	}
	tmp := fmt.Sprintf("%s.new-%d", path, os.Getpid())
	os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: o.LockTimeout, PageSize: newPageSize})
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ledger: create %s: %w", path, classify(err))
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketEntries, bucketReceipts, bucketDocs, bucketStock, bucketJobs, bucketUser} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		m := tx.Bucket(bucketMeta)
		for _, kv := range [][2][]byte{
			{keyFormat, []byte(fileFormat)}, {keyStore, []byte(o.Store)}, {keyTill, []byte(o.Till)},
			{keyPrefix, []byte(prefix)}, {keyLastSeq, u64(0)}, {keyLastHash, []byte(journal.GenesisPrev)},
			{keyAck, u64(0)}, {keyBaseSeq, u64(0)}, {keyBaseHash, []byte(journal.GenesisPrev)}, {keyNextJob, u64(0)},
		} {
			if err := m.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ledger: create %s: %w", path, classify(err))
	}
	err = os.Link(tmp, path) // fails if path exists: never replaces a ledger
	os.Remove(tmp)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("ledger: create %s: %w", path, classify(err))
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("ledger: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("ledger: sync %s: %w", dir, classify(err))
	}
	return nil
}

// The owner file beside the ledger names the process holding it, so that a second opener's
// error can say who. It is advisory: the lock itself is bbolt's flock.
func ownerPath(path string) string { return path + ".owner" }

func writeOwner(path string) {
	cmd, _ := os.ReadFile("/proc/self/cmdline")
	name := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
	if len(name) > 120 {
		name = name[:120] + "…"
	}
	s := fmt.Sprintf("held by pid %d (%s) since %s", os.Getpid(), name, time.Now().UTC().Format(time.RFC3339))
	_ = os.WriteFile(ownerPath(path), []byte(s), 0o600)
}

func readOwner(path string) string {
	b, err := os.ReadFile(ownerPath(path))
	if err != nil || len(b) > 512 {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Close releases the lock. A checkpoint VerifyRecent left for the next commit is committed
// first (should that fail, the next start verifies those entries again). It is safe to call
// more than once.
func (l *Ledger) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	if !l.opts.ReadOnly {
		if l.pendingCheckpoint().Seq != 0 {
			_ = l.update("close", func(*commit) error { return nil })
		}
		os.Remove(ownerPath(l.path))
	}
	if l.head != nil {
		l.head.close()
	}
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("ledger: close %s: %w", l.path, err)
	}
	return nil
}

// Path is the ledger file's path.
func (l *Ledger) Path() string { return l.path }

// Store is the store id the ledger belongs to.
func (l *Ledger) Store() string { return l.store }

// Till is the till id the ledger belongs to.
func (l *Ledger) Till() string { return l.till }

// Prefix is the receipt number prefix.
func (l *Ledger) Prefix() string { return l.prefix }

// Result is what Append committed.
type Result struct {
	Entry journal.Entry // as stored: seq, receipt, prev and hash assigned
	Jobs  []uint64      // ids of the print jobs created by PrintJob sides, in order
	Raw   []byte        // the stored bytes: also the wire payload
	doc   uint64        // the last document number issued, this entry's or an earlier one
}

// Append journals e and its sides in one fsync'd transaction. It assigns the next seq
// (gapless, from 1), the receipt number (for document kinds: the prefix and the next number
// of the document counter, gapless too, so technical entries use up no receipt numbers),
// prev and hash. If Append returns nil, the entry and its sides survive kill -9 and power
// loss; if it returns an error, nothing of them is visible.
func (l *Ledger) Append(e journal.Entry, sides ...Side) (Result, error) {
	if l.closed.Load() {
		return Result{}, fmt.Errorf("ledger: append %s: %w", l.path, ErrClosed)
	}
	if !e.Kind.Known() {
		return Result{}, fmt.Errorf("ledger: append %s: %w: unknown kind %q", l.path, ErrInvalid, e.Kind)
	}
	var res Result
	err := l.update("append", func(c *commit) (err error) {
		res, err = l.appendTx(c, e, sides)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	l.writeHead(headRecord{Seq: res.Entry.Seq, Hash: res.Entry.Hash, Doc: res.doc})
	l.lastApp.Store(time.Now().UnixNano())
	return res, nil
}

// Idle is the time since this process's last Append (since Open before the first): the
// measure of a quiet moment for Compact, which holds the ledger while it copies.
func (l *Ledger) Idle() time.Duration {
	return time.Since(time.Unix(0, l.lastApp.Load()))
}

// appendTx writes e and its sides in the commit c: the body of Append, which commits it.
func (l *Ledger) appendTx(c *commit, e journal.Entry, sides []Side) (Result, error) {
	if e.At.IsZero() {
		e.At = l.opts.Clock()
	}
	// UTC, millisecond precision, no monotonic reading: the encoding round-trips exactly,
	// so HQ recomputes the same hash from what it receives.
	e.At = e.At.UTC().Truncate(time.Millisecond)
	e.V, e.Store, e.Till = journal.FormatVersion, l.store, l.till
	meta := c.tx.Bucket(bucketMeta)
	e.Seq = getU64(meta, keyLastSeq) + 1
	e.Prev = string(meta.Get(keyLastHash))
	e.Receipt = ""
	lastDoc, err := lastDocument(c.tx, meta, l.prefix)
	if err != nil {
		return Result{}, err
	}
	var doc uint64
	if e.Kind.Document() {
		doc = lastDoc + 1
		e.Receipt = journal.ReceiptNumber(l.prefix, doc)
	} else if meta.Get(keyLastDoc) == nil {
		// A file from before the counter: keep what its receipt index says, once.
		if err := meta.Put(keyLastDoc, u64(lastDoc)); err != nil {
			return Result{}, err
		}
	}
	e.Hash = ""
	canon, err := json.Marshal(&e)
	if err != nil {
		return Result{}, fmt.Errorf("%w: encode: %v", ErrInvalid, err)
	}
	e.Hash = sha256Hex(canon)
	e.Sig = ""
	if l.opts.Sign != nil {
		sig, err := l.opts.Sign(journal.SigMessage(e.Hash))
		if err != nil {
			return Result{}, fmt.Errorf("%w: sign: %v", ErrInvalid, err)
		}
		e.Sig = base64.RawURLEncoding.EncodeToString(sig)
	}
	raw := withHash(canon, e.Hash, e.Sig)
	if len(raw) > l.opts.MaxEntryBytes {
		return Result{}, fmt.Errorf("%w: entry is %d bytes, limit %d", ErrInvalid, len(raw), l.opts.MaxEntryBytes)
	}
	key := u64(e.Seq)
	if doc != 0 {
		if err := indexDocument(c.tx, meta, doc, key); err != nil {
			return Result{}, err
		}
	}
	if err := c.tx.Bucket(bucketEntries).Put(key, raw); err != nil {
		return Result{}, err
	}
	if err := meta.Put(keyLastSeq, key); err != nil {
		return Result{}, err
	}
	if err := meta.Put(keyLastHash, []byte(e.Hash)); err != nil {
		return Result{}, err
	}
	c.seq = e.Seq
	for _, s := range sides {
		if err := s.apply(c); err != nil {
			return Result{}, err
		}
	}
	return Result{Entry: e, Jobs: c.jobs, Raw: raw, doc: max(doc, lastDoc)}, nil
}

// writeHead records the committed entry in the head record. A failure to write it does not
// undo the commit, which stands: the record is then behind the file, which Open accepts,
// and the next commit writes it again. The failure is kept for HeadError.
func (l *Ledger) writeHead(h headRecord) {
	l.headMu.Lock()
	defer l.headMu.Unlock()
	if err := l.head.write(h, l.opts.SyncHead, l.db.NoSync); err != nil {
		l.headErr = fmt.Errorf("ledger: head record %s: %w", headPath(l.path), err)
		return
	}
	l.headErr = nil
}

// HeadError is the last failure to write or sync the head record (nil once a later one
// works). The commits stand; only the witness of the newest is missing.
func (l *Ledger) HeadError() error {
	l.headMu.Lock()
	defer l.headMu.Unlock()
	if l.headErr != nil || l.head == nil {
		return l.headErr
	}
	if err := l.head.syncErr(); err != nil {
		return fmt.Errorf("ledger: head record %s: %w", headPath(l.path), err)
	}
	return nil
}

// withHash appends the hash field (and the sig field when sig is not empty) to the
// canonical encoding, giving exactly what json.Marshal of the entry with Hash and Sig set
// produces (they are the last fields, and base64url needs no JSON escaping) without
// encoding the entry twice.
func withHash(canon []byte, hash, sig string) []byte {
	raw := make([]byte, 0, len(canon)+len(hash)+len(sig)+20)
	raw = append(raw, canon[:len(canon)-1]...)
	raw = append(raw, `,"hash":"`...)
	raw = append(raw, hash...)
	if sig != "" {
		raw = append(raw, `","sig":"`...)
		raw = append(raw, sig...)
	}
	return append(raw, `"}`...)
}

// Update commits side records without an entry (a job started or done, a parked sale).
func (l *Ledger) Update(sides ...Side) error {
	if l.closed.Load() {
		return fmt.Errorf("ledger: update %s: %w", l.path, ErrClosed)
	}
	return l.update("update", func(c *commit) error {
		for _, s := range sides {
			if err := s.apply(c); err != nil {
				return err
			}
		}
		return nil
	})
}

func (l *Ledger) update(op string, fn func(c *commit) error) error {
	if l.opts.ReadOnly {
		return fmt.Errorf("ledger: %s %s: %w: opened read-only", op, l.path, ErrInvalid)
	}
	l.dbMu.RLock()
	var cp checkpointMark
	err := l.db.Update(func(tx *bolt.Tx) error {
		fillAppendOnly(tx)
		var err error
		if cp, err = writeCheckpoint(tx, l.pendingCheckpoint()); err != nil {
			return err
		}
		return fn(&commit{tx: tx})
	})
	l.dbMu.RUnlock()
	if err != nil {
		return fmt.Errorf("ledger: %s %s: %w", op, l.path, classify(err))
	}
	l.checkpointWritten(cp)
	return nil
}

var diskFullErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EFBIG, syscall.EDQUOT}

// isMapLimit reports whether bbolt failed because the file does not fit in the address
// space or its size limit: bbolt's own "mmap too large", ErrMaxSizeReached, or ENOMEM from
// mmap (reported formatted into the text, not wrapped).
func isMapLimit(err error) bool {
	return errors.Is(err, berrors.ErrMaxSizeReached) || errors.Is(err, syscall.ENOMEM) ||
		strings.Contains(err.Error(), "mmap too large") || strings.Contains(err.Error(), syscall.ENOMEM.Error())
}

func tooLarge(path string, size, limit int64) error {
	return fmt.Errorf("ledger: open %s: %w: file is %d bytes, this platform's ledger limit is %d (%s); prune and compact it on a 64-bit machine (kept as found)",
		path, ErrTooLarge, size, limit, runtime.GOARCH)
}

// classify maps a full disk to ErrDiskFull and the size limit to ErrTooLarge, and leaves
// other errors as they are. bbolt reports a failed file resize with the cause formatted
// into the text rather than wrapped, so the errno's message is matched as well.
func classify(err error) error {
	if isMapLimit(err) {
		return fmt.Errorf("%w (%v)", ErrTooLarge, err)
	}
	var errno syscall.Errno
	for _, full := range diskFullErrnos {
		if errors.As(err, &errno) && errno == full || strings.Contains(err.Error(), full.Error()) {
			return fmt.Errorf("%w (%v)", ErrDiskFull, err)
		}
	}
	return err
}

// Confirm records HQ's acknowledgement that every seq <= through is durably stored there.
// The watermark only moves up: a lower or equal value is ignored (moved is false). A value
// beyond the last entry is refused with ErrAckBeyondEnd.
func (l *Ledger) Confirm(through uint64) (moved bool, err error) {
	err = l.update("confirm", func(c *commit) error {
		meta := c.tx.Bucket(bucketMeta)
		if through <= getU64(meta, keyAck) {
			return nil
		}
		if last := getU64(meta, keyLastSeq); through > last {
			return fmt.Errorf("%w: ack through %d, last seq %d", ErrAckBeyondEnd, through, last)
		}
		moved = true
		return meta.Put(keyAck, u64(through))
	})
	return moved, err
}

// SyncStatus is an entry's delivery state, derived from the watermark.
type SyncStatus int

const (
	Pending SyncStatus = iota // not yet acknowledged by HQ
	Synced                    // HQ holds it durably
)

func (s SyncStatus) String() string {
	if s == Synced {
		return "synced"
	}
	return "pending"
}

// Status reports whether seq is acknowledged by HQ. A seq never written gives ErrNotFound.
func (l *Ledger) Status(seq uint64) (SyncStatus, error) {
	var st SyncStatus
	err := l.view("status", func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if seq == 0 || seq > getU64(meta, keyLastSeq) {
			return fmt.Errorf("seq %d: %w", seq, ErrNotFound)
		}
		if seq <= getU64(meta, keyAck) {
			st = Synced
		}
		return nil
	})
	return st, err
}

// Watermark is HQ's acknowledgement watermark: every seq at or below it is synced.
func (l *Ledger) Watermark() (uint64, error) {
	var w uint64
	err := l.view("watermark", func(tx *bolt.Tx) error { w = getU64(tx.Bucket(bucketMeta), keyAck); return nil })
	return w, err
}

// LastSeq is the seq of the last entry written (0 for a new ledger).
func (l *Ledger) LastSeq() (uint64, error) {
	var s uint64
	err := l.view("last seq", func(tx *bolt.Tx) error { s = getU64(tx.Bucket(bucketMeta), keyLastSeq); return nil })
	return s, err
}

// Get returns the entry with seq. A pruned or never written seq gives ErrNotFound.
func (l *Ledger) Get(seq uint64) (journal.Entry, error) {
	var e journal.Entry
	err := l.view("get", func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEntries).Get(u64(seq))
		if v == nil {
			return fmt.Errorf("seq %d: %w", seq, ErrNotFound)
		}
		return decode(seq, v, &e)
	})
	return e, err
}

// ByReceipt returns the entry printed with receipt number r, including receipts issued
// while the till was offline. A receipt number is the ledger's prefix and a document number
// (journal.ReceiptNumber); the docs index maps that number to its entry's seq, so the
// lookup is two Gets. Files written before the document counter held an index of receipt
// numbers, still consulted for a number the docs index does not have. The entry found
// must carry r.
func (l *Ledger) ByReceipt(r string) (journal.Entry, error) {
	var e journal.Entry
	err := l.view("by receipt", func(tx *bolt.Tx) error {
		seq, ok := receiptSeq(tx, l.prefix, r)
		if !ok {
			return fmt.Errorf("receipt %q: %w", r, ErrNotFound)
		}
		v := tx.Bucket(bucketEntries).Get(u64(seq))
		if v == nil {
			return fmt.Errorf("receipt %q (seq %d): %w", r, seq, ErrNotFound)
		}
		if err := decode(seq, v, &e); err != nil {
			return err
		}
		if e.Receipt != r {
			e = journal.Entry{}
			return fmt.Errorf("receipt %q (seq %d is not that document): %w", r, seq, ErrNotFound)
		}
		return nil
	})
	return e, err
}

// documentNumber is the number part of receipt number r of this ledger, when r is one in
// canonical form.
func documentNumber(prefix, r string) (uint64, bool) {
	digits, ok := strings.CutPrefix(r, prefix+"-")
	if !ok || digits == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 || journal.ReceiptNumber(prefix, n) != r {
		return 0, false
	}
	return n, true
}

// receiptSeq is the seq of the entry that carries receipt number r: from the docs index,
// or from the receipt index of a file written before the document counter.
func receiptSeq(tx *bolt.Tx, prefix, r string) (uint64, bool) {
	if n, ok := documentNumber(prefix, r); ok {
		if docs := tx.Bucket(bucketDocs); docs != nil {
			if k := docs.Get(u64(n)); len(k) == 8 {
				return binary.BigEndian.Uint64(k), true
			}
		}
	}
	if k := tx.Bucket(bucketReceipts).Get([]byte(r)); len(k) == 8 {
		return binary.BigEndian.Uint64(k), true
	}
	return 0, false
}

// lastDocument is the last document number issued. Receipt numbers come from their own
// counter (meta last-doc), so technical entries take none and documents are numbered 1, 2,
// 3, ... A ledger written before the counter existed numbered documents by seq: its counter
// starts from the highest number in its receipt index, so no number is ever issued twice.
func lastDocument(tx *bolt.Tx, meta *bolt.Bucket, prefix string) (uint64, error) {
	if v := meta.Get(keyLastDoc); v != nil {
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: meta last-doc is %d bytes", ErrCorrupt, len(v))
		}
		return binary.BigEndian.Uint64(v), nil
	}
	var high uint64
	err := tx.Bucket(bucketReceipts).ForEach(func(k, _ []byte) error {
		if n, ok := documentNumber(prefix, string(k)); ok && n > high {
			high = n
		}
		return nil
	})
	return high, err
}

// indexDocument records document number doc as the entry at seq key and moves the counter.
// The docs bucket is made on the first document of a file written before it existed.
func indexDocument(tx *bolt.Tx, meta *bolt.Bucket, doc uint64, key []byte) error {
	docs, err := tx.CreateBucketIfNotExists(bucketDocs)
	if err != nil {
		return err
	}
	docs.FillPercent = appendFill
	if err := docs.Put(u64(doc), key); err != nil {
		return err
	}
	return meta.Put(keyLastDoc, u64(doc))
}

// After calls fn with each entry above seq, in seq order, with its stored bytes (the wire
// payload), until fn returns false or limit entries were given (limit <= 0: no limit).
// raw is valid only during the call.
func (l *Ledger) After(seq uint64, limit int, fn func(e *journal.Entry, raw []byte) bool) error {
	var derr error
	err := l.AfterRaw(seq, limit, func(s uint64, raw []byte) bool {
		var e journal.Entry
		if derr = decode(s, raw, &e); derr != nil {
			return false
		}
		return fn(&e, raw)
	})
	if err == nil && derr != nil {
		err = fmt.Errorf("ledger: after %s: %w", l.path, derr)
	}
	return err
}

// AfterRaw is After without decoding: it gives each seq above seq and its stored bytes.
// This is the outbox: the uplink publishes the stored bytes as they are, so draining a
// backlog costs no JSON work on the till.
func (l *Ledger) AfterRaw(seq uint64, limit int, fn func(seq uint64, raw []byte) bool) error {
	return l.view("after", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		n := 0
		for k, v := c.Seek(u64(seq + 1)); k != nil; k, v = c.Next() {
			n++
			if !fn(binary.BigEndian.Uint64(k), v) || (limit > 0 && n >= limit) {
				return nil
			}
		}
		return nil
	})
}

// Stats are the ledger's counts and sizes.
type Stats struct {
	Store, Till    string
	Entries        int       // entries held (after pruning)
	FirstSeq       uint64    // first held seq (0 when none)
	LastSeq        uint64    // last written seq
	Watermark      uint64    // HQ's acknowledgement watermark
	Backlog        uint64    // entries not yet acknowledged
	OldestUnsynced time.Time // At of the first unacknowledged entry; zero when none
	PendingJobs    int       // print jobs not yet printed
	FileBytes      int64     // size of the file on disk
}

// Stats reads the ledger's counts and sizes.
func (l *Ledger) Stats() (Stats, error) {
	s := Stats{Store: l.store, Till: l.till}
	err := l.view("stats", func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		s.LastSeq, s.Watermark = getU64(meta, keyLastSeq), getU64(meta, keyAck)
		s.Backlog = s.LastSeq - s.Watermark
		// Entries are gapless after the pruned base, so the count is arithmetic: Stats
		// stays cheap on a ledger of millions of entries (Verify checks the premise).
		gaps, err := readGaps(tx)
		if err != nil {
			return err
		}
		s.Entries = int(s.LastSeq - getU64(meta, keyBaseSeq) - gapSize(gaps, getU64(meta, keyBaseSeq)))
		if s.Entries > 0 {
			s.FirstSeq = getU64(meta, keyBaseSeq) + 1
		}
		s.PendingJobs = tx.Bucket(bucketJobs).Stats().KeyN
		if s.Backlog > 0 {
			if v := tx.Bucket(bucketEntries).Get(u64(s.Watermark + 1)); v != nil {
				var e journal.Entry
				if err := decode(s.Watermark+1, v, &e); err != nil {
					return err
				}
				s.OldestUnsynced = e.At
			}
		}
		s.FileBytes = tx.Size()
		return nil
	})
	return s, err
}

// SizeLimit is the file's size against the ledger's limit.
type SizeLimit struct {
	FileBytes  int64   // size of the file
	LimitBytes int64   // the limit (Options.MaxBytes or PlatformMaxBytes)
	Fraction   float64 // FileBytes / LimitBytes
}

// Limit reports the file's size against its limit, with an error matching ErrNearLimit
// once the file has reached NearLimitFraction of it: the state to alert on, long before
// commits start failing with ErrTooLarge.
func (l *Ledger) Limit() (SizeLimit, error) {
	fi, err := os.Stat(l.path)
	if err != nil {
		return SizeLimit{}, fmt.Errorf("ledger: limit %s: %w", l.path, err)
	}
	s := SizeLimit{FileBytes: fi.Size(), LimitBytes: l.maxSize, Fraction: float64(fi.Size()) / float64(l.maxSize)}
	if s.Fraction >= NearLimitFraction {
		return s, fmt.Errorf("ledger: limit %s: %w: %d of %d bytes (%.0f%%) on %s", l.path, ErrNearLimit, s.FileBytes, s.LimitBytes, 100*s.Fraction, runtime.GOARCH)
	}
	return s, nil
}

// Stock returns the local stock level of item (thousandths); an item never moved is 0.
func (l *Ledger) Stock(item string) (int64, error) {
	var q int64
	err := l.view("stock", func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketStock).Get([]byte(item)); len(v) == 8 {
			q = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return q, err
}

// Jobs returns the print jobs not yet done, oldest first.
func (l *Ledger) Jobs() ([]Job, error) {
	var jobs []Job
	err := l.view("jobs", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("%w: print job %x: %v", ErrCorrupt, k, err)
			}
			jobs = append(jobs, j)
			return nil
		})
	})
	return jobs, err
}

// Record returns the value under key in the caller's named bucket.
func (l *Ledger) Record(bucket, key string) ([]byte, error) {
	var out []byte
	err := l.view("record", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUser).Bucket([]byte(bucket))
		var v []byte
		if b != nil {
			v = b.Get([]byte(key))
		}
		if v == nil {
			return fmt.Errorf("record %s/%s: %w", bucket, key, ErrNotFound)
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

// Records calls fn with each key and value of the caller's named bucket, in key order.
func (l *Ledger) Records(bucket string, fn func(key string, value []byte) error) error {
	return l.view("records", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUser).Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

func (l *Ledger) view(op string, fn func(tx *bolt.Tx) error) error {
	if l.closed.Load() {
		return fmt.Errorf("ledger: %s %s: %w", op, l.path, ErrClosed)
	}
	if err := l.viewDB(fn); err != nil {
		return fmt.Errorf("ledger: %s %s: %w", op, l.path, err)
	}
	return nil
}

// viewDB runs fn in a read transaction of the current file (Compact replaces it).
func (l *Ledger) viewDB(fn func(tx *bolt.Tx) error) error {
	l.dbMu.RLock()
	defer l.dbMu.RUnlock()
	return safeView(l.db, fn)
}

// safeView runs fn in a read transaction, turning bbolt's panics on damaged pages into
// ErrCorrupt instead of taking the till down.
func safeView(db *bolt.DB, fn func(tx *bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return db.View(fn)
}

func decode(seq uint64, v []byte, e *journal.Entry) error {
	if err := json.Unmarshal(v, e); err != nil {
		return &VerifyError{Seq: seq, Reason: "entry does not decode: " + err.Error()}
	}
	return nil
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b *bolt.Bucket, key []byte) uint64 {
	v := b.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
