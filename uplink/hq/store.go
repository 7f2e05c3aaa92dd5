package hq

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"tillbox/ledger/journal"
)

// TillKey names one till.
type TillKey struct{ Store, Till string }

func (k TillKey) String() string { return k.Store + "/" + k.Till }

// TillState is what HQ holds of one till.
type TillState struct {
	TillKey
	Through uint64 // every seq <= Through is stored and chain verified
	Hash    string // hash of the entry at Through
	// lastDoc is the receipt of the last document at or below Through ("" for none), as
	// the ingest reads it under the till's lock.
	lastDoc string
	// top bounds the till's stored seqs, as the ingest reads it under the lock: nothing is
	// stored above it (noTop: the store does not say, and links are read by scanSpan).
	top uint64
}

// noTop is a TillState's top when the store does not keep one.
const noTop = ^uint64(0)

// Record is one stored entry.
type Record struct {
	TillKey
	Seq     uint64
	Hash    string
	Receipt string // as printed by the till ("" for technical entries)
	Central string // HQ's number for the receipt, assigned once the entry is verified
	Source  string // "mqtt" or "import"
	Raw     []byte // the payload exactly as received
}

// Quarantine is a message HQ did not store, with why.
type Quarantine struct {
	ID      uint64
	At      time.Time
	Source  string // "mqtt", "import", or "chain" for an entry removed by the chain check
	Topic   string
	Store   string
	Till    string
	Seq     uint64
	Reason  string
	Payload []byte // at most MaxQuarantinePayload bytes of it
}

// MaxQuarantinePayload bounds what is kept of a quarantined payload.
const MaxQuarantinePayload = 64 << 10

// Store is where HQ keeps entries. Only this package implements it.
type Store interface {
	// Tills lists every till HQ has stored something of.
	Tills(ctx context.Context) ([]TillState, error)
	// Through is a till's watermark (0 when HQ holds nothing of it).
	Through(ctx context.Context, k TillKey) (uint64, error)
	// Entries calls fn with a till's stored entries above seq, in seq order.
	Entries(ctx context.Context, k TillKey, after uint64, fn func(Record) error) error
	// Lookup finds an entry by the receipt number the till printed or by its central number.
	Lookup(ctx context.Context, number string) (Record, error)
	// Quarantined calls fn with each quarantined message, oldest first.
	Quarantined(ctx context.Context, fn func(Quarantine) error) error
	// Close releases the store.
	Close() error

	// run executes fn in one transaction and commits it.
	run(ctx context.Context, fn func(t txn) error) error
}

// txn is one store transaction as the ingest logic sees it. Each method takes the whole
// batch's share of its work at once, so that a store over the network pays its round
// trips per batch, not per till.
type txn interface {
	// insert stores each item whose key is new; for the others it sets existing to the
	// stored hash. items are sorted by till and seq.
	insert(ctx context.Context, items []*item) error
	// quarantine stores qs, in order.
	quarantine(ctx context.Context, qs []Quarantine) error
	// lockTills returns the watermark and its hash of each of keys (sorted, distinct), in
	// the same order, locking them in that order against other consumers until commit; a
	// new till starts at 0 and the genesis prev. With them it returns, read under the
	// locks, each till's stored links with through < seq <= through+scanSpan, except those
	// in its span of ours (the rows this transaction inserted, which the caller knows) and
	// those the chain cannot reach: a run of them (below ours, or above it) whose first
	// seq is not stored may be left out.
	// ours[i] is keys[i]'s span (from 0: none).
	lockTills(ctx context.Context, keys []TillKey, ours []span) ([]TillState, map[TillKey][]link, error)
	// scan returns, for each span, the stored links with from <= seq <= to of its till.
	scan(ctx context.Context, spans []span) (map[TillKey][]link, error)
	// evict moves stored entries to the quarantine (removes them only, for those marked
	// drop).
	evict(ctx context.Context, evs []eviction) error
	// setThrough writes the watermarks of tills locked by lockTills, with their last
	// documents and tops.
	setThrough(ctx context.Context, heads []TillState) error
	// assignCentral gives, for each of stores (sorted), the entries refs[store]
	// consecutive central numbers of that store, in order.
	assignCentral(ctx context.Context, stores []string, refs map[string][]centralRef) error
}

type span struct {
	key      TillKey
	from, to uint64
}

type eviction struct {
	key    TillKey
	seq    uint64
	reason string
	drop   bool // over the quarantine's bound: the entry leaves what is held, unrecorded
}

type item struct {
	key      TillKey
	seq      uint64
	hash     string
	prev     string
	kind     string
	receipt  string
	at       time.Time
	raw      []byte
	entry    *journal.Entry // as decoded from raw
	source   string
	inserted bool
	existing string
	till     int   // the index of its till in the plan's keys
	first    *item // for a later occurrence of a key in the batch, the first
}

type link struct {
	seq     uint64
	prev    string
	hash    string
	receipt string
}

type centralRef struct {
	till string
	seq  uint64
	hash string
	it   *item // the batch's, when it brought the entry
}

// CentralNumber formats a store's n-th central receipt number.
func CentralNumber(store string, n uint64) string {
	return fmt.Sprintf("%s-C%09d", strings.ToUpper(store), n)
}

// parseCentral is CentralNumber's inverse: it reports false for anything CentralNumber
// does not write.
func parseCentral(number string) (store string, n uint64, ok bool) {
	i := strings.LastIndex(number, "-C")
	if i <= 0 {
		return "", 0, false
	}
	store = strings.ToLower(number[:i])
	n, err := strconv.ParseUint(number[i+2:], 10, 64)
	if err != nil || !journal.ValidID(store) || CentralNumber(store, n) != number {
		return "", 0, false
	}
	return store, n, true
}

func clipPayload(p []byte) []byte {
	if len(p) > MaxQuarantinePayload {
		return p[:MaxQuarantinePayload]
	}
	return p
}

// Open opens the store at loc: a postgres:// or postgresql:// URL, or a bbolt file path
// (created when missing).
func Open(ctx context.Context, loc string) (Store, error) {
	switch {
	case strings.HasPrefix(loc, "postgres://"), strings.HasPrefix(loc, "postgresql://"):
		return OpenPostgres(ctx, loc)
	case loc == "" || strings.Contains(loc, "://"):
		return nil, fmt.Errorf("hq: open store %q: %w", loc, ErrStoreURL)
	default:
		return OpenBolt(strings.TrimPrefix(loc, "bolt:"))
	}
}
